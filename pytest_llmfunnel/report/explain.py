"""The cases behind each failing metric: what every report shows first when the gate fails.

For every regressed gated metric, the cases that flipped on it (pass → fail
first, worst first), each with its input, the baseline's output, the current
output, a word diff when the two are close, and the whole reason of the check
or judge that decided the current side. The terminal
(:mod:`.terminal_cases`) and the pull-request report (:mod:`.markdown_cases`)
draw the same :class:`MetricCases`, from a live session or a results file.

The baseline output is the baseline file's: each record's ``baseline`` is the
stored output re-evaluated with the current stages.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.report.summary import as_number, fmt_value

if TYPE_CHECKING:
    from pytest_llmfunnel.gate.decision import GateDecision

PROMOTION = "promotion rate"  # the gate's name for the share of promoted cases
CLOSE = 0.5  # word-level similarity from which two outputs are shown as a word diff


@dataclass(frozen=True)
class CaseChange:
    """One case that flipped on a failing metric, with what a reviewer needs to judge it."""

    dataset: str
    case: str
    variant: str
    stage: str  # the stage that decided (for the promotion rate: where the case dropped)
    change: str  # ``pass → fail (score 4.71 → 2.23)``, ``promoted → dropped at not_empty``
    worse: bool
    severity: float  # the drop as a share of the scale; orders the cases
    reached: bool  # the stage decided the current side (not a case dropped before it)
    input: str
    baseline_output: str | None
    output: str | None
    reason: str  # whole: the current side's reason for the stage that decided

    @property
    def diff(self) -> str | None:
        """The word diff of the two outputs when they are close, else None."""
        return word_diff(self.baseline_output, self.output)


@dataclass(frozen=True)
class MetricCases:
    """A regressed gated metric and the cases that flipped on it, pass → fail first."""

    decision: GateDecision
    cases: tuple[CaseChange, ...]

    @property
    def worse(self) -> int:
        return sum(c.worse for c in self.cases)


def word_diff(before: str | None, after: str | None) -> str | None:
    """``after`` marked against ``before`` word by word (``[-old-]{+new+}``), when close.

    None when either is empty or they share less than :data:`CLOSE` of their
    words (then the two outputs read better whole, one after the other).
    """
    old, new = (before or "").split(), (after or "").split()
    if not old or not new:
        return None
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    if matcher.ratio() < CLOSE or old == new:
        return None
    words: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            words += old[i1:i2]
            continue
        if i2 > i1:
            words.append("[-" + " ".join(old[i1:i2]) + "-]")
        if j2 > j1:
            words.append("{+" + " ".join(new[j1:j2]) + "+}")
    return " ".join(words)


def failing_metrics(
    decisions: Iterable[GateDecision], flips: Iterable[Flip], records: Iterable[CaseRecord]
) -> list[MetricCases]:
    """Per regressed gated metric (in the gate's order), its flipped cases, worst first.

    ``records`` give each case its input, both outputs and whole reasons; a
    flip without a record (a results file written without cases) shows what
    the flip holds.
    """
    index = {(r.dataset, r.case, r.variant): r for r in records}
    all_flips = list(flips)
    out = []
    for d in decisions:
        if not (d.gated and d.decision == "regressed"):
            continue
        mine = [f for f in all_flips if f.dataset == d.dataset and f.metric == d.metric]
        changes = [_change(f, index.get((f.dataset, f.case, f.variant))) for f in mine]
        # Cases the stage itself failed come before those that never reached it
        # (a failing check metric lists those).
        changes.sort(key=lambda c: (not c.worse, not c.reached, -c.severity, c.case, c.variant))
        out.append(MetricCases(d, tuple(changes)))
    return out


def shown_elsewhere(metrics: Sequence[MetricCases]) -> set[tuple[str, str, str, str]]:
    """(dataset, case, variant, metric) of every case the failing metrics list."""
    return {
        (c.dataset, c.case, c.variant, m.decision.metric) for m in metrics for c in m.cases
    }


def promotion_change(before: CaseRecord | None, after: CaseRecord | None) -> str:
    """``promoted → dropped at not_empty`` and the like, for a promotion-rate flip."""
    return f"{_promotion(before)} → {_promotion(after)}"


def _promotion(record: CaseRecord | None) -> str:
    if record is None:
        return "-"
    if record.promoted:
        return "promoted"
    if record.error:
        return "target error"
    return f"dropped at {record.dropped_at}" if record.dropped_at else "not promoted"


def _dropped_reason(record: CaseRecord | None) -> str:
    """Why ``record`` did not get through: the dropping stage's reason, or the target error."""
    if record is None:
        return ""
    if record.error:
        return f"target: {record.error}"
    stage = record.stage(record.dropped_at or "")
    return f"{stage.stage}: {stage.reason}" if stage is not None else ""


def _change(flip: Flip, record: CaseRecord | None) -> CaseChange:
    base = record.baseline if record is not None else None
    if flip.metric == PROMOTION:
        worse = _worse(flip, base, record)
        change = promotion_change(base, record) if record is not None else "promoted → dropped"
        reason = _dropped_reason(record if worse else base) or (flip.reason or "")
        severity = 1.0
    else:
        worse = _worse(flip, base, record)
        change = _stage_change(flip, base, record)
        reason = _stage_reason(flip, record)
        severity = _severity(flip, record)
    return CaseChange(
        dataset=flip.dataset, case=flip.case, variant=flip.variant, stage=flip.stage,
        change=change, worse=worse, severity=severity,
        reached=flip.metric == PROMOTION or record is None
        or record.stage(flip.stage) is not None,
        input=record.input if record is not None else "",
        baseline_output=base.output if base is not None else None,
        output=record.output if record is not None else flip.output_excerpt,
        reason=reason,
    )


def _worse(flip: Flip, base: CaseRecord | None, record: CaseRecord | None) -> bool:
    if flip.direction is not None:
        return flip.direction == "worse"
    if flip.metric == PROMOTION and base is not None and record is not None:
        return base.promoted and not record.promoted
    before, after = as_number(flip.before), as_number(flip.after)
    if before is not None and after is None:
        return True  # the stage was not reached: a fail on this side
    return before is not None and after is not None and after < before


def _status(record: CaseRecord | None, stage: str) -> str:
    if record is None:
        return "-"
    s = record.stage(stage)
    if s is None:
        return "not reached" if record.dropped_at or record.error else "-"
    return {"passed": "pass", "failed": "fail"}.get(s.status, s.status)


def _stage_change(flip: Flip, base: CaseRecord | None, record: CaseRecord | None) -> str:
    if record is None:
        return f"{fmt_value(flip.before)} → {fmt_value(flip.after)}"
    text = f"{_status(base, flip.stage)} → {_status(record, flip.stage)}"
    if isinstance(flip.before, float) or isinstance(flip.after, float):
        text += f" (score {fmt_value(flip.before)} → {fmt_value(flip.after)})"
    return text


def _stage_reason(flip: Flip, record: CaseRecord | None) -> str:
    if record is None:
        return flip.reason or ""
    s = record.stage(flip.stage)
    if s is not None:
        return s.reason
    dropped = _dropped_reason(record)
    return f"not reached: dropped at {dropped}" if dropped else (flip.reason or "")


def _severity(flip: Flip, record: CaseRecord | None) -> float:
    if flip.severity is not None:
        return flip.severity
    low, high = 0.0, 1.0
    s = record.stage(flip.stage) if record is not None else None
    if s is None and record is not None and record.baseline is not None:
        s = record.baseline.stage(flip.stage)
    if s is not None and s.scale is not None:
        low, high = s.scale
    before, after = as_number(flip.before), as_number(flip.after)
    if before is None:
        return 0.0
    drop = before - (low if after is None else after)
    width = (high - low) or 1.0
    return abs(drop) / width if math.isfinite(drop) else 0.0
