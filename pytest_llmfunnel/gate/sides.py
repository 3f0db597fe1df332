"""One side of a gate pair (the current record or the baseline) and its value on a metric.

The gate and the variant ranking read a side the same way, so the two cannot
drift apart: :func:`side_of_record` / :func:`side_of_line` take what a side
knows, :func:`value_of` its value on one metric (a number, or why there is none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_llmfunnel.gate.baseline_file import BaselineCase
from pytest_llmfunnel.gate.metrics import Metric
from pytest_llmfunnel.record import CaseRecord


@dataclass(frozen=True)
class Side:
    """One side of a pair: promotion and per-stage (status, score, reason)."""

    promoted: bool
    dropped_at: str | None
    stages: Mapping[str, tuple[str, float | None, str]]
    from_file: bool


def side_of_record(record: CaseRecord, from_file: bool = False) -> Side:
    return Side(
        record.promoted,
        record.dropped_at,
        {s.stage: (s.status, s.score, s.reason) for s in record.stages},
        from_file,
    )


def side_of_line(line: BaselineCase) -> Side:
    return Side(
        line.promoted,
        line.dropped_at,
        {name: (o.status, o.score, "") for name, o in line.stages.items()},
        True,
    )


# A side's value for one metric: a number, or why there is none.
ERROR, MISSING, FLOOR = "error", "missing", "floor"
Value = float | str


def value_of(side: Side, metric: Metric) -> Value:
    if metric.stage is None:
        return float(side.promoted)
    got = side.stages.get(metric.stage)
    if got is None:
        # Stages after a drop are absent: the dropped case fails them (survivorship).
        return MISSING if side.promoted else (0.0 if metric.kind == "binary" else FLOOR)
    status, score, _ = got
    if status == "error":
        return ERROR
    if metric.kind == "binary":
        return {"passed": 1.0, "failed": 0.0}.get(status, MISSING)
    return MISSING if score is None else float(score)
