"""Counters of one process that no case's record carries, merged across xdist workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from pytest_llmfunnel.wording import plural


class EndpointErrorJSON(TypedDict):
    """The first server message of one judge error cause, and the requests it ended."""

    message: str
    count: int


class TalliesJSON(TypedDict, total=False):
    """:class:`Tallies` on the xdist wire; :meth:`Tallies.merge` also takes a part of it."""

    cache: dict[str, dict[str, dict[str, int]]]
    dry_run: dict[str, int]
    budget_spent: float
    budget_refused: int
    explanations: list[str]
    verdict_keys: list[str]
    endpoint_down: list[str]
    not_sent: int
    endpoint_errors: dict[str, EndpointErrorJSON]
    endpoint_notices: list[str]


@dataclass
class Tallies:
    """Counters of one process that no case's record carries; merged across xdist workers.

    ``cache`` maps dataset → stage → ``{"hits", "misses"}`` (store lookups)
    and ``"reused"`` (baseline verdicts of unchanged outputs, see rebase);
    ``dry_run`` holds the requests a dry run counted and their token estimate;
    ``budget_spent`` / ``budget_refused`` the budget's spend and refused
    requests; ``explanations`` the ``--llm-funnel-explain-cache`` lines;
    ``verdict_keys`` the cache keys of the verdicts the run used, gathered only
    for ``--llm-funnel-export-lockfile``; ``endpoint_down`` why the judge
    endpoint was given up (once per reason) and ``not_sent`` how many judge
    requests that left unsent; ``endpoint_errors`` the first server message of
    each judge error cause and how many requests it ended, ``endpoint_notices``
    what the run learned about the endpoint (a response format it refused).
    """

    cache: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    dry_run: dict[str, int] = field(default_factory=dict)
    budget_spent: float = 0.0
    budget_refused: int = 0
    explanations: list[str] = field(default_factory=list)
    verdict_keys: set[str] = field(default_factory=set)
    endpoint_down: list[str] = field(default_factory=list)
    not_sent: int = 0
    endpoint_errors: dict[str, EndpointErrorJSON] = field(default_factory=dict)
    endpoint_notices: list[str] = field(default_factory=list)

    def to_json(self) -> TalliesJSON:
        return {
            "cache": self.cache,
            "dry_run": self.dry_run,
            "budget_spent": self.budget_spent,
            "budget_refused": self.budget_refused,
            "explanations": self.explanations,
            "verdict_keys": sorted(self.verdict_keys),
            "endpoint_down": self.endpoint_down,
            "not_sent": self.not_sent,
            "endpoint_errors": self.endpoint_errors,
            "endpoint_notices": self.endpoint_notices,
        }

    def merge(self, data: TalliesJSON) -> None:
        """Add another process's :meth:`to_json` into this one."""
        for dataset, stages in data.get("cache", {}).items():
            mine = self.cache.setdefault(dataset, {})
            for stage, counts in stages.items():
                entry = mine.setdefault(stage, {"hits": 0, "misses": 0})
                for name, value in counts.items():
                    entry[name] = entry.get(name, 0) + int(value)
        for name, value in data.get("dry_run", {}).items():
            self.dry_run[name] = self.dry_run.get(name, 0) + int(value)
        self.budget_spent += float(data.get("budget_spent", 0.0))
        self.budget_refused += int(data.get("budget_refused", 0))
        self.explanations.extend(data.get("explanations", []))
        self.verdict_keys.update(data.get("verdict_keys", ()))
        for reason in data.get("endpoint_down", ()):
            if reason not in self.endpoint_down:
                self.endpoint_down.append(reason)
        self.not_sent += int(data.get("not_sent", 0))
        for cause, error in data.get("endpoint_errors", {}).items():
            kept = self.endpoint_errors.setdefault(cause, {"message": error["message"], "count": 0})
            kept["count"] += int(error["count"])
        for notice in data.get("endpoint_notices", ()):
            if notice not in self.endpoint_notices:
                self.endpoint_notices.append(notice)

    def endpoint_notes(self) -> list[str]:
        """Why the judge endpoint was given up, each reason once, and what it cost."""
        if not self.endpoint_down:
            return []
        sent = plural(self.not_sent, "judge request")
        verb = "was" if self.not_sent == 1 else "were"
        return [*(f"judge endpoint given up: {reason}" for reason in self.endpoint_down),
                f"{sent} {verb} not sent; their cases are llm-error \"not sent\" with this "
                "reason."]

    def endpoint_error_notes(self) -> list[str]:
        """What the run learned about the endpoint, then the server's own message for
        each judge error cause (once; a cause that gave the endpoint up is said there)."""
        notes = [f"judge endpoint: {notice}" for notice in self.endpoint_notices]
        for cause, entry in self.endpoint_errors.items():
            if any(entry["message"] in reason for reason in self.endpoint_down):
                continue
            requests = plural(int(entry["count"]), "judge request")
            notes.append(f"judge error {cause} ({requests}), first message from the "
                         f"endpoint: {entry['message']}")
        return notes

    def misses(self, dataset: str, stage: str) -> int:
        return self.cache.get(dataset, {}).get(stage, {}).get("misses", 0)

    def reused(self, dataset: str, stage: str) -> int:
        """Baseline verdicts of unchanged outputs taken instead of asking the judge."""
        return self.cache.get(dataset, {}).get(stage, {}).get("reused", 0)
