"""Compact per-case records and their aggregation into a run's funnel counts.

A test item carries its case's record on its report (a small JSON-able dict),
so the controller process sees every case's result whether or not xdist ran
the item elsewhere; :class:`RunResult` is rebuilt from those records.

The record (the contract every report, gate and review module reads)::

    {
      "dataset": "tests/test_support.py::test_support",  # the eval test (one per dataset use)
      "path": "tests/support.jsonl",       # dataset file, relative to the rootdir
      "case": "refund-window",             # case id
      "variant": "default",                # output variant ("default", "control", ...)
      "fingerprint": "<sha256>",           # of input, context, expected (not the output)
      "tags": ["billing"],
      "output": "...",                     # None when the target failed
      "promoted": true,                    # passed every gating stage
      "dropped_at": null,                  # name of the gating stage that stopped it
      "error": null,                       # target error (raised / timed out)
      "stages": [                          # in funnel order; stages after a drop are absent
        {"stage": "faithfulness", "kind": "judge", "status": "passed",
         "gating": false, "must": false, "score": 4.5, "samples": [4.5],
         "reason": "...", "judge": "offline-reference-v2 · prompt 3f2a…",
         "scale": [1.0, 5.0], "requests": 1, "cache_hits": 0,
         "prompt_tokens": 0, "completion_tokens": 0}
      ],
      "baseline": null                     # optional: the baseline's stored output
    }                                      # re-evaluated with the current stages, same shape
                                           # minus dataset/path/tags

``tags``, ``samples`` and ``scale`` are JSON arrays; in the process that
built a record they are tuples shared with the case and the stage (records
are read, never changed).

``status`` is one of ``passed``, ``failed``, ``measured`` (a scorer without a
threshold, or a pairwise comparison) and ``error`` (the stage could not decide;
never a pass or a fail).

A pairwise comparison appears on the records of both variants it compares,
its score from each variant's own point of view (+1 wins, 0 tie, -1 loses);
its requests, cache hits and tokens are counted on the first variant's record
only, so sums over records stay true. It is present on a dropped variant too
(a walkover: the promoted side wins without a request). Cache misses are not
on the records: they are counted per process (:class:`Tallies`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmfunnel.models import CaseResult, StageCounts, Usage
from pytest_llmfunnel.wording import plural

REASON_LIMIT = 400


def compact(
    result: CaseResult, dataset: str, *, path: str = "", fingerprint: str = "",
    tags: tuple[str, ...] = (), judges: Mapping[str, str] | None = None,
    scales: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """The record of one case that travels on its test report.

    ``judges`` gives each judge stage's identity (model and prompt hash, see
    :func:`pytest_llmfunnel.gate.baseline_side.judge_identities`), ``scales`` each
    judge's score scale; both go on the stage entries.
    """
    return {
        "dataset": dataset,
        "path": path,
        "case": result.case_id,
        "fingerprint": fingerprint,
        "tags": tags,  # the case's own tuple: a list per record cost 70 bytes at 100k cases
        "output": result.output,
        "variant": result.variant,
        "promoted": result.promoted,
        "dropped_at": result.dropped_at,
        "error": result.error,
        "stages": _stages(result, judges or {}, scales or {}),
    }


def baseline_record(
    result: CaseResult, *, fingerprint: str = "", judges: Mapping[str, str] | None = None,
    scales: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """A record's ``baseline``: the stored output re-evaluated (no dataset, path or tags)."""
    record = compact(result, "", fingerprint=fingerprint, judges=judges, scales=scales)
    for key in ("dataset", "path", "tags"):
        del record[key]
    return record


def _stages(
    result: CaseResult, judges: Mapping[str, str], scales: Mapping[str, tuple[float, float]]
) -> list[dict[str, Any]]:
    stages = []
    for s in result.stages:
        v = s.verdict
        scale = scales.get(s.stage)
        entry: dict[str, Any] = {
            "stage": s.stage,
            "kind": s.kind,
            "status": s.status,
            "gating": s.gating,
            "must": s.must,
            "score": s.score,
            "samples": v.samples if v else (),
            "reason": _short(s.reason),
            "judge": judges.get(s.stage) or (v.judge if v else None),
            "scale": scale,  # one tuple per stage, shared by every record
            "requests": v.requests if v else 0,
            "cache_hits": v.cache_hits if v else 0,
            "prompt_tokens": v.usage.prompt_tokens if v else 0,
            "completion_tokens": v.usage.completion_tokens if v else 0,
        }
        if s.pair is not None:  # only comparisons carry it: no key per rubric stage
            entry["pair"] = s.pair
        stages.append(entry)
    return stages


def status_of(record: dict[str, Any]) -> str:
    """``ok``, ``llm-failed`` or ``llm-error`` for one record."""
    if record["error"] or any(s["status"] == "error" for s in record["stages"]):
        return "llm-error"
    if any(s["status"] == "failed" for s in record["stages"]):
        return "llm-failed"
    return "ok"


def describe_problems(record: dict[str, Any]) -> list[str]:
    """One line per failed or errored stage: what happened and why."""
    lines = []
    if record["error"]:
        lines.append(f"target: error: {record['error']}")
    for s in record["stages"]:
        if s["status"] in ("failed", "error"):
            score = "" if s["score"] is None else f" (score {s['score']:g})"
            lines.append(f"{s['stage']}: {s['status']}{score}: {s['reason']}")
    return lines


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


@dataclass
class DatasetRun:
    """Funnel counts of one dataset (one eval test function) in one session."""

    name: str
    cases: int = 0
    promoted: int = 0
    errors: int = 0
    stages: dict[str, StageCounts] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # stage name → check/scorer/judge

    def add(self, record: dict[str, Any]) -> None:
        self.cases += 1
        self.promoted += bool(record["promoted"])
        self.errors += status_of(record) == "llm-error"
        for s in record["stages"]:
            counts = self.stages.setdefault(s["stage"], StageCounts())
            self.kinds.setdefault(s["stage"], s["kind"])
            counts.cases_in += 1
            counts.passed += s["status"] in ("passed", "measured")
            counts.failed += s["status"] == "failed"
            counts.errors += s["status"] == "error"
            counts.requests += s["requests"]
            counts.cache_hits += s["cache_hits"]
            if s["prompt_tokens"] or s["completion_tokens"]:  # none on a cache hit
                counts.usage = counts.usage + Usage(
                    prompt_tokens=s["prompt_tokens"], completion_tokens=s["completion_tokens"]
                )


@dataclass
class RunResult:
    """Every dataset's counts in a session, built from the per-case records."""

    datasets: dict[str, DatasetRun] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        name = record["dataset"]
        self.datasets.setdefault(name, DatasetRun(name)).add(record)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> RunResult:
        run = cls()
        for record in records:
            run.add(record)
        return run

    @property
    def cases(self) -> int:
        return sum(d.cases for d in self.datasets.values())

    @property
    def errors(self) -> int:
        return sum(d.errors for d in self.datasets.values())

    @property
    def error_share(self) -> float:
        return self.errors / self.cases if self.cases else 0.0


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
    endpoint_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoint_notices: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
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

    def merge(self, data: dict[str, Any]) -> None:
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
        for cause, entry in data.get("endpoint_errors", {}).items():
            kept = self.endpoint_errors.setdefault(cause, {"message": entry["message"], "count": 0})
            kept["count"] += int(entry["count"])
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
