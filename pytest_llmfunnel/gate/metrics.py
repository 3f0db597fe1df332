"""Which metrics an eval test has, from the stages its records and its baseline know.

See :mod:`pytest_llmfunnel.gate.compare` for what each metric means and how it is gated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.record import CaseRecord

PROMOTION = "promotion rate"


@dataclass(frozen=True)
class Metric:
    """One metric of an eval test: its stage (None: the promotion rate), kind, gating."""

    name: str
    stage: str | None  # None: the promotion rate
    kind: Literal["binary", "score"]
    gated: bool
    scale: tuple[float, float] | None


def metrics_of(records: Sequence[CaseRecord], baseline: Baseline) -> list[Metric]:
    """The metrics of one eval test, from the stages either side knows."""
    kinds: dict[str, str] = {}
    scales: dict[str, tuple[float, float] | None] = {}
    statuses: dict[str, set[str]] = {}
    scored: set[str] = set()
    current: set[str] = set()  # stages the current funnel ran (re-evaluations included)
    for record in records:
        for rec in (record, record.baseline):
            for s in rec.stages if rec is not None else ():
                name = s.stage
                kinds.setdefault(name, s.kind)
                if s.scale is not None:
                    scales[name] = s.scale
                statuses.setdefault(name, set()).add(s.status)
                if s.score is not None:
                    scored.add(name)
                current.add(name)
    # A stored stage no current record ran was removed from the funnel, unless
    # no current case got that far (then it is there, and every case dropped before it).
    any_promoted = any(r.promoted for r in records)
    for name, stage in baseline.header.stages.items():
        if name not in current and any_promoted:
            continue
        kinds.setdefault(name, stage.kind)
        scales[name] = scales.get(name) or stage.scale
    for line in baseline.cases:
        for name, outcome in line.stages.items():
            if name in kinds:
                statuses.setdefault(name, set()).add(outcome.status)
                if outcome.score is not None:
                    scored.add(name)
    metrics = [Metric(PROMOTION, None, "binary", True, None)]
    for name in sorted(kinds):
        kind, scale = kinds[name], scales.get(name)
        if kind == "check":
            continue  # checks are gated through the promotion rate
        decides = bool(statuses.get(name, set()) & {"passed", "failed"})
        if decides:
            metrics.append(Metric(f"{name} pass rate", name, "binary", True, scale))
        if name in scored and (kind == "judge" or not decides):
            metrics.append(Metric(f"{name} mean score", name, "score", False, scale))
    return metrics


def judge_identity(records: Sequence[CaseRecord], stage: str) -> str | None:
    """The judge most current records name for ``stage`` (ties: the first by name)."""
    ids = Counter(
        s.judge for r in records for s in r.stages if s.stage == stage and s.judge
    )
    return min(ids, key=lambda v: (-ids[v], v)) if ids else None
