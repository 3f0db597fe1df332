"""Why a request missed the verdict cache: what changed since the last cached verdict.

``--llm-funnel-explain-cache`` and ``llmfunnel cache explain`` compare a request
with the one cached last for the same case and stage, field by field, so a
reader sees which prompt line, model or setting made the run pay again.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.backend import JudgeRequest
from pytest_llmfunnel.models import canonical_json
from pytest_llmfunnel.store.verdict_record import VerdictRecord


@dataclass(frozen=True)
class Difference:
    """One way a request differs from the last one cached for its case and stage."""

    field: str
    detail: str


@dataclass(frozen=True)
class Explanation:
    """Why a request hits or misses the cache."""

    case_id: str
    stage: str
    key: str
    hit: bool
    previous_key: str | None = None
    differences: tuple[Difference, ...] = ()

    @property
    def changed(self) -> tuple[str, ...]:
        """The names of what changed, e.g. ``("model", "messages[1]")``."""
        return tuple(d.field for d in self.differences)

    def summary(self) -> str:
        if self.hit:
            return "cache hit"
        if self.previous_key is None:
            return (
                "nothing was ever cached for this case and stage "
                "(a new case, a new stage name, or a cleared cache)"
            )
        if not self.differences:
            return "the request equals the last cached one, whose entry is gone"
        return "changed since the last cached verdict: " + ", ".join(self.changed)

    def render(self) -> str:
        """A few lines for a terminal: the summary, then each difference."""
        lines = [f"{self.case_id} [{self.stage}]: {self.summary()}"]
        for diff in self.differences:
            detail = diff.detail.replace("\n", "\n    ")
            lines.append(f"  {diff.field}: {detail}")
        return "\n".join(lines)


_DIFF_LINES = 6
_SHOWN = 80
# The order a reader looks for: what model, what was said, how it was asked.
_FIELD_ORDER = ("model", "messages", "response_format", "temperature", "seed", "max_tokens")
_ABSENT = object()


def _same(a: object, b: object) -> bool:
    # Compared as the key sees them: 1 and 1.0 are different requests.
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return canonical_json(a) == canonical_json(b)


def _short(value: object) -> str:
    text = "(absent)" if value is _ABSENT else canonical_json(value)
    return truncate(text, _SHOWN)


def _content_text(message: object) -> str:
    content = message.get("content") if isinstance(message, dict) else message
    return content if isinstance(content, str) else canonical_json(content)


def _diff_messages(old: object, new: object) -> list[Difference]:
    if not isinstance(old, list) or not isinstance(new, list):
        return [Difference("messages", f"{_short(old)} -> {_short(new)}")]
    diffs = []
    for index in range(max(len(old), len(new))):
        name = f"messages[{index}]"
        if index >= len(old):
            diffs.append(Difference(name, "added"))
        elif index >= len(new):
            diffs.append(Difference(name, "removed"))
        elif not _same(old[index], new[index]):
            before, after = _content_text(old[index]), _content_text(new[index])
            lines = [
                truncate(line, _SHOWN)
                for line in difflib.unified_diff(
                    before.splitlines(), after.splitlines(), lineterm="", n=0
                )
                if not line.startswith(("---", "+++", "@@"))
            ]
            if len(lines) > _DIFF_LINES:
                lines = [*lines[:_DIFF_LINES], f"... ({len(lines) - _DIFF_LINES} more lines)"]
            diffs.append(Difference(name, "\n".join(lines) or "role or other fields changed"))
    return diffs


def explain_miss(
    case_id: str, stage: str, request: JudgeRequest, previous: VerdictRecord | None
) -> Explanation:
    """Compare a missed request with the last verdict cached for its case and stage."""
    key = request.cache_key()
    if previous is None:
        return Explanation(case_id=case_id, stage=stage, key=key, hit=False)
    diffs: list[Difference] = []
    old, new = previous.body, request.body
    rest = sorted((set(old) | set(new)) - set(_FIELD_ORDER))
    for name in (*_FIELD_ORDER, *rest):
        before, after = old.get(name, _ABSENT), new.get(name, _ABSENT)
        if _same(before, after):
            continue
        if name == "messages":
            diffs.extend(_diff_messages(before, after))
        else:
            diffs.append(Difference(name, f"{_short(before)} -> {_short(after)}"))
    if previous.base_url != request.base_url:
        diffs.append(Difference("base_url", f"{previous.base_url} -> {request.base_url}"))
    if previous.repeat != request.repeat:
        diffs.append(Difference("repeat", f"{previous.repeat} -> {request.repeat}"))
    return Explanation(
        case_id=case_id,
        stage=stage,
        key=key,
        hit=False,
        previous_key=previous.key,
        differences=tuple(diffs),
    )
