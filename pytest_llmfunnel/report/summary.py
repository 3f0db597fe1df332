"""What every report says, independent of how it is drawn.

The renderers (:mod:`.text` for the terminal, :mod:`.markdown` for a pull
request, :mod:`.jsonschema` for machines) share the verdict, the number
formats, the order of flipped cases and the per-tag breakdown defined here, so
the terminal and the pull-request comment never disagree.

Flipped cases are the gate's :class:`pytest_llmfunnel.record.Flip`, live or
read back from a results file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.record import CaseRecord, RunResult
from pytest_llmfunnel.report.judges import OFFLINE_JUDGE_MARK, judge_label
from pytest_llmfunnel.report.labels import (
    NO_NAMES,
    Names,
    dataset_label,
    funnel_names,
    short_dataset,
)

if TYPE_CHECKING:
    # Annotations only: the funnel table of a run without a gate needs no statistics.
    from pytest_llmfunnel.gate.decision import GateDecision

MINUS = "−"
__all__ = ["OFFLINE_JUDGE_MARK", "judge_label", "short_dataset"]  # re-exported


@dataclass(frozen=True)
class ReportData:
    """Everything a renderer needs, however it was obtained (a live session, a JSON file)."""

    run: RunResult
    records: tuple[CaseRecord, ...]
    decisions: tuple[GateDecision, ...]
    flips: tuple[Flip, ...]
    missing_baselines: tuple[str, ...] = ()
    judge_label: str = "no judge stage ran"
    completeness: Completeness | None = None  # None: not recorded (taken as complete)
    # What a reader must not miss beside the verdict: the judge endpoint given up,
    # a large share of unpaired cases.
    warnings: tuple[str, ...] = ()

    @property
    def names(self) -> dict[str, str]:
        """Each eval test's label where its funnel has a ``name=`` (see :mod:`.labels`)."""
        return funnel_names(self.records)


# --- the verdict ---------------------------------------------------------------

Status = Literal["regressed", "not comparable", "passed", "no gate", "incomplete"]


@dataclass(frozen=True)
class RunVerdict:
    """The session's outcome in one sentence, from the gate's decisions."""

    status: Status
    gated: int
    regressed: tuple[GateDecision, ...]
    not_comparable: tuple[GateDecision, ...]
    improved: tuple[GateDecision, ...]
    missing_baselines: tuple[str, ...]
    measured: int = 0
    scope: Completeness | None = None  # how much of the selection ran
    names: Names = field(default_factory=dict)  # the eval tests' labels (:mod:`.labels`)

    def lead(self, *, extent: bool = True) -> str:
        """The first words: ``Regression in 1 of 12 gated metrics (partial: 14 of 400 cases)``.

        ``extent=False`` leaves out a partial run's counts (a caller shows them first).
        """
        scope = self.scope
        if self.status == "incomplete" and scope is not None:
            return f"Incomplete run, {scope.counts()}; no gate decision"
        if extent and scope is not None and scope.status == "partial":
            return f"{self._lead()} ({scope.counts()})"
        return self._lead()

    def _lead(self) -> str:
        n = self.gated
        metrics = f"{n} gated metric{'' if n == 1 else 's'}"
        if self.status == "regressed":
            return f"Regression in {len(self.regressed)} of {metrics}"
        if self.status == "not comparable":
            return f"Not comparable: {len(self.not_comparable)} of {metrics}"
        if self.status == "passed":
            return f"No regression in {metrics}"
        if self.missing_baselines:
            listed = ", ".join(dataset_label(m, self.names) for m in self.missing_baselines)
            return f"No baseline file for {listed}"
        if self.measured:
            return f"No gate: no gated metrics ({self.measured} measured only)"
        return "No gate: no baseline to compare with"

    def detail(self, minus: str = MINUS) -> str:
        """What decided it: the regressed metrics, the first reason, or the improvements."""
        if self.status == "incomplete":
            return (self.scope.stopped or "") if self.scope is not None else ""
        if self.status == "regressed":
            return _listed(self.regressed, minus, self.names)
        if self.status == "not comparable":
            first = self.not_comparable[0]
            return f"{dataset_label(first.dataset, self.names)}: {first.metric}: {first.reason}"
        if self.status == "passed" and self.improved:
            return f"{len(self.improved)} improved: {_listed(self.improved, minus, self.names)}"
        return ""

    def extra(self) -> str:
        """What else the reader must know: other failing metrics, missing baselines."""
        text = ""
        if self.status == "incomplete":
            return text
        if self.status == "regressed" and self.not_comparable:
            text += f"; {len(self.not_comparable)} not comparable"
        if self.missing_baselines and self.status != "no gate":
            listed = ", ".join(dataset_label(m, self.names) for m in self.missing_baselines)
            text += f"; no baseline for {listed}"
        return text

    def headline(self, minus: str = MINUS, *, extent: bool = True) -> str:
        """The verdict as plain (unescaped) text."""
        detail = self.detail(minus)
        return self.lead(extent=extent) + (f" ({detail})" if detail else "") + self.extra()


def _listed(
    decisions: Sequence[GateDecision], minus: str, names: Names, shown: int = 3
) -> str:
    parts = [
        f"{dataset_label(d.dataset, names)}: {d.metric} {fmt_diff(d, minus=minus, unit=' pts')}, "
        f"p_adj={fmt_p(d.p_adjusted)}"
        for d in decisions[:shown]
    ]
    if len(decisions) > shown:
        parts.append(f"and {len(decisions) - shown} more")
    return "; ".join(parts)


def summarize(
    decisions: Sequence[GateDecision], missing_baselines: Iterable[str] = (),
    completeness: Completeness | None = None, names: Names = NO_NAMES,
) -> RunVerdict:
    """The verdict of a gate: incomplete beats regressed beats not comparable beats passed.

    ``names``: the eval tests' labels (see :mod:`.labels`).
    """
    gated = [d for d in decisions if d.gated]
    regressed = tuple(d for d in gated if d.decision == "regressed")
    not_comparable = tuple(d for d in gated if d.decision == "not comparable")
    improved = tuple(d for d in gated if d.decision == "improved")
    status: Status
    if completeness is not None and completeness.status == "incomplete":
        status = "incomplete"
    elif regressed:
        status = "regressed"
    elif not_comparable:
        status = "not comparable"
    elif gated:
        status = "passed"
    else:
        status = "no gate"
    return RunVerdict(
        status, len(gated), regressed, not_comparable, improved, tuple(missing_baselines),
        measured=len(decisions) - len(gated), scope=completeness, names=names,
    )


# --- numbers -------------------------------------------------------------------


def is_binary(d: GateDecision) -> bool:
    """Pass-rate metrics carry flip counts; scores do not."""
    return d.flips is not None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def fmt_mean(d: GateDecision, value: float) -> str:
    """A mean in the metric's units: a percentage for pass rates."""
    if not _finite(value):
        return "-"
    return f"{value * 100:.1f}%" if is_binary(d) else f"{value:.3g}"


def fmt_diff(d: GateDecision, value: float | None = None, *, minus: str = "-",
             unit: str = "pt") -> str:
    """A signed difference: percentage points for pass rates (``unit``), raw otherwise."""
    v = d.diff if value is None else value
    if not _finite(v):
        return "-"
    text = f"{v * 100:+.1f}{unit}" if is_binary(d) else f"{v:+.3g}"
    return text.replace("-", minus, 1) if text.startswith("-") else text


def fmt_plain(d: GateDecision, value: float, unit: str = "pt") -> str:
    """An unsigned size (MDE, tolerance) in the metric's units."""
    if not _finite(value):
        return "-"
    return f"{value * 100:.1f}{unit}" if is_binary(d) else f"{value:.3g}"


def fmt_p(p: float) -> str:
    if not _finite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def decision_label(d: GateDecision) -> str:
    """``ok``, ``improved``, ``REGRESSED`` or ``not comparable``; ``*`` marks measured-only.

    Only a gated metric fails the build, so only it is ever ``REGRESSED``: a
    measured-only metric that got worse is ``dropped*``.
    """
    if not d.gated:
        return ("dropped" if d.decision == "regressed" else d.decision) + "*"
    return "REGRESSED" if d.decision == "regressed" else d.decision


# --- flipped cases -------------------------------------------------------------

_TRUTHY = {"passed": 1.0, "pass": 1.0, "true": 1.0, "failed": 0.0, "fail": 0.0, "false": 0.0}


def as_number(value: object) -> float | None:
    """A flip's before/after value as a number (pass = 1, fail = 0), or None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return _TRUTHY.get(value.strip().lower())
    return None


def severity(flip: Flip) -> float:
    """How much worse a case got (positive = worse; unknown = 0)."""
    before, after = as_number(flip.before), as_number(flip.after)
    if before is None or after is None:
        return 0.0
    return before - after


def sort_flips(flips: Iterable[Flip]) -> list[Flip]:
    """Most severe first, then by dataset, case, variant and metric for a stable order."""
    return sorted(
        flips, key=lambda f: (-severity(f), f.dataset, f.case, f.variant, f.metric)
    )


def fmt_value(value: object) -> str:
    """A flip's before/after value for display."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "pass" if value else "fail"
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return {"passed": "pass", "failed": "fail"}.get(text, text)


def case_label(
    dataset: str, case: str, variant: str, *, with_dataset: bool = True, names: Names = NO_NAMES
) -> str:
    label = case if variant in ("", "default") else f"{case}:{variant}"
    return f"{dataset_label(dataset, names)}/{label}" if with_dataset else label


# --- breakdown by tag ----------------------------------------------------------


@dataclass(frozen=True)
class TagRow:
    """One stage's baseline and current value over the cases of one tag (descriptive)."""

    dataset: str
    tag: str
    stage: str
    kind: Literal["pass rate", "score"]
    n: int
    baseline: float | None
    current: float | None


def _stage_value(record: CaseRecord, stage: str, kind: str) -> float | None:
    s = record.stage(stage)
    if s is not None:
        if s.status == "error":
            return None
        if kind == "pass rate":
            return {"passed": 1.0, "failed": 0.0}.get(s.status)
        return None if s.score is None else float(s.score)
    # Absent after a drop: a case stopped earlier fails every later pass/fail stage,
    # so a tag cannot look better by losing cases (survivorship).
    if kind == "pass rate" and record.dropped_at and not record.error:
        return 0.0
    return None


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def tag_rows(records: Iterable[CaseRecord]) -> list[TagRow]:
    """Per dataset, tag and stage: n, baseline and current pass rate or mean score.

    A record's ``baseline`` (the baseline output re-evaluated) gives the
    baseline value. Datasets whose cases carry no tags are left out.
    """
    by_dataset: dict[str, list[CaseRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.dataset, []).append(r)
    rows: list[TagRow] = []
    for dataset, recs in by_dataset.items():
        if not any(r.tags for r in recs):
            continue
        stages: dict[str, Literal["pass rate", "score"]] = {}
        for r in recs:
            for s in r.stages:
                if s.decided:
                    stages[s.stage] = "pass rate"
                else:
                    stages.setdefault(s.stage, "score")
        tags = sorted({t for r in recs for t in r.tags or ("(untagged)",)})
        for tag in tags:
            members = [r for r in recs if tag in (r.tags or ("(untagged)",))]
            for stage, kind in stages.items():
                cur = [v for r in members if (v := _stage_value(r, stage, kind)) is not None]
                base = [
                    v
                    for r in members
                    if r.baseline is not None
                    and (v := _stage_value(r.baseline, stage, kind)) is not None
                ]
                if cur or base:
                    rows.append(
                        TagRow(dataset, tag, stage, kind, len(cur), _mean(base), _mean(cur))
                    )
    return rows


def fmt_tag_value(row: TagRow, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f}%" if row.kind == "pass rate" else f"{value:.3g}"


def fmt_tag_diff(row: TagRow, minus: str = "-") -> str:
    if row.baseline is None or row.current is None:
        return "-"
    v = row.current - row.baseline
    text = f"{v * 100:+.1f}pt" if row.kind == "pass rate" else f"{v:+.3g}"
    return text.replace("-", minus, 1) if text.startswith("-") else text
