"""The forest plot: what decided the build, per metric, on one common scale.

One row per (dataset, metric): the paired change current − baseline (``●``),
the one-sided confidence bound the gate decided with (``┫`` an upper bound,
``┣`` a lower one, joined to the change by ``━``), the metric's tolerance
on both sides (``┆``: regressed when the bound lies left of −tolerance,
improved when it lies right of +tolerance) and no change (``│``). The figures
are the :class:`GateDecision`'s own, so the plot never disagrees with the gate.

The common scale is *points of 100*: pass rates in percentage points, scores
with a declared scale (a 1–5 rubric) in percent of that scale's width, so a
0.08-point drop on a 1–5 rubric sits where a 2-point drop of a pass rate does
and both meet the default tolerance (2% of the range) at the same place. A
score without a declared scale has no such unit and is listed, not drawn.

The axis covers every gated change, bound and tolerance, but no more than
:data:`CLIP` tolerances either side: what lies beyond (a far bigger measured
drop, a collapse of a whole metric) stops at the edge with ``◀`` or ``▶``
and keeps its figure in the row. Gated metrics come first, measured-only ones
in their own block below, and a not comparable metric says why instead of a
bar. Plain text in monospace: a terminal prints it as it is, the pull-request
report puts it in a code block. Lines fit ``width`` columns; labels too long
for their column get a line of their own, never a cut.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_llmfunnel.escape import one_line, truncate
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.report.summary import MINUS, decision_label, is_binary

if TYPE_CHECKING:
    # Annotations only: drawing the plot needs no statistics (as in .summary).
    from pytest_llmfunnel.gate.decision import GateDecision
    from pytest_llmfunnel.record import CaseRecord

CLIP = 10.0  # the axis reaches at most this many (largest) tolerances from zero
WIDE_PLOT = 40  # columns of plot that leave room for the labels beside it
MIN_PLOT = 16  # columns of plot below which the figures give way to it
NUMBER = 6  # columns of a figure: "−100.0"
LABEL_LIMIT = 120  # a metric's name is wrapped, not cut, up to this length
NOTE_LIMIT = 240  # a not comparable metric's reason, likewise
CHANGE, BAR, UPPER, LOWER, TOLERANCE, ZERO, CROSS = "●", "━", "┫", "┣", "┆", "│", "┿"
LEFT, RIGHT = "◀", "▶"
Scales = Mapping[tuple[str, str], tuple[float, float]]


@dataclass(frozen=True)
class Row:
    """One metric on the common scale; ``change`` None: listed with ``note`` instead."""

    label: str
    gated: bool
    decision: str
    change: float | None = None
    bound: float | None = None
    tolerance: float = 0.0
    note: str = ""


def score_scales(records: Iterable[CaseRecord]) -> dict[tuple[str, str], tuple[float, float]]:
    """(dataset, stage) -> the score scale the records declare for it."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for record in records:
        for rec in (record, record.baseline):
            for s in rec.stages if rec is not None else ():
                if s.scale is not None:
                    out.setdefault((record.dataset, s.stage), s.scale)
    return out


def _unit(d: GateDecision, scales: Scales) -> float | None:
    """Points of 100 per unit of the metric, or None when it has no known range."""
    if is_binary(d):
        return 100.0
    stage = d.metric.removesuffix(" mean score")
    scale = scales.get((d.dataset, stage))
    if scale is None or not scale[1] > scale[0]:
        return None
    return 100.0 / (scale[1] - scale[0])


def rows_of(
    decisions: Sequence[GateDecision], scales: Scales | None = None, names: Names = NO_NAMES
) -> list[Row]:
    """The plot's rows, gated metrics first (in the gate's order), then measured-only."""
    several = len({d.dataset for d in decisions}) > 1
    rows = [_row(d, scales or {}, several, names) for d in decisions]
    return [r for r in rows if r.gated] + [r for r in rows if not r.gated]


def _row(d: GateDecision, scales: Scales, several: bool, names: Names) -> Row:
    name = f"{dataset_label(d.dataset, names)}/{d.metric}" if several else d.metric
    label = truncate(one_line(name), LABEL_LIMIT)
    word = decision_label(d).rstrip("*")
    if not d.gated and d.decision == "regressed":
        word = "dropped"
    if d.decision == "not comparable" or not (math.isfinite(d.diff) and math.isfinite(d.bound)):
        why = truncate(f"not comparable: {one_line(d.reason)}", NOTE_LIMIT)
        return Row(label, d.gated, word, note=why)
    unit = _unit(d, scales)
    if unit is None:
        return Row(label, d.gated, word, note=(
            f"no declared scale, not drawn: change {_num(d.diff)}, bound {_num(d.bound)} "
            "(raw units)"))
    tolerance = d.tolerance * unit if math.isfinite(d.tolerance) else 0.0
    return Row(label, d.gated, word, d.diff * unit, d.bound * unit, tolerance)


def _num(value: float, digits: int = 3) -> str:
    text = f"{value:+.{digits}g}"
    return text.replace("-", MINUS, 1)


def _fig(value: float) -> str:
    return f"{value:+.1f}".replace("-", MINUS, 1)


# --- the axis ------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """``low``..``high`` over ``columns`` characters, ticks every ``step``."""

    low: float
    high: float
    columns: int
    step: float

    def col(self, value: float) -> int:
        span = self.high - self.low
        return round((value - self.low) / span * (self.columns - 1))

    def inside(self, value: float) -> bool:
        return self.low <= value <= self.high

    def ticks(self) -> list[float]:
        first = math.ceil(self.low / self.step - 1e-9)
        last = math.floor(self.high / self.step + 1e-9)
        return [k * self.step for k in range(first, last + 1)]


def _nice(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(f * power for f in (1.0, 2.0, 2.5, 5.0, 10.0) if f * power >= raw * (1 - 1e-9))


def axis_for(rows: Sequence[Row], columns: int) -> Axis:
    """An axis around zero, the tolerances and the gated figures, at most CLIP tolerances."""
    drawn = [r for r in rows if r.change is not None and r.bound is not None]
    deciding = [r for r in drawn if r.gated] or drawn
    values = [0.0]
    for r in drawn:
        values += [-r.tolerance, r.tolerance]
    for r in deciding:
        values += [r.change or 0.0, r.bound or 0.0]
    widest = max((r.tolerance for r in drawn), default=0.0)
    reach = min(CLIP * widest, 100.0) if widest > 0 else 100.0
    low, high = max(min(values), -reach), min(max(values), reach)
    span = high - low or 2.0
    low, high = low - 0.08 * span, high + 0.08 * span
    # Ticks at round values inside; the ends stay where the figures need them,
    # so no column is spent on an empty stretch up to the next round value.
    step = _nice((high - low) / max(1, columns // 7))
    return Axis(low, high, columns, step)


def _tick_text(value: float, step: float) -> str:
    text = f"{value:+g}" if step >= 1 else f"{value:+.1f}"
    if value == 0:
        return "0"
    return text.replace("-", MINUS, 1)


def axis_lines(axis: Axis) -> tuple[str, str]:
    """The tick labels over the tick marks (``┼``) of ``axis``."""
    labels = [" "] * axis.columns
    marks = ["─"] * axis.columns
    free = 0  # first column a label may use
    for t in axis.ticks():
        c = axis.col(t)
        marks[c] = "┼"
        text = _tick_text(t, axis.step)
        start = min(max(0, c - len(text) // 2), axis.columns - len(text))
        if start >= free:
            labels[start:start + len(text)] = list(text)
            free = start + len(text) + 1
    return "".join(labels), "".join(marks)


def bar(row: Row, axis: Axis) -> str:
    """One metric's line of plot: tolerances, zero, then the change and its bound on top."""
    assert row.change is not None and row.bound is not None
    cells = [" "] * axis.columns
    for value, glyph in ((-row.tolerance, TOLERANCE), (row.tolerance, TOLERANCE), (0.0, ZERO)):
        if axis.inside(value):
            cells[axis.col(value)] = glyph
    lo_v, hi_v = sorted((row.change, row.bound))
    first = axis.col(max(lo_v, axis.low))
    last = axis.col(min(hi_v, axis.high))
    for c in range(first, last + 1):
        cells[c] = CROSS if cells[c] in (TOLERANCE, ZERO) else BAR
    for value, mark in ((row.bound, UPPER if row.bound > row.change else LOWER),
                        (row.change, CHANGE)):
        if axis.inside(value):
            cells[axis.col(value)] = mark
        elif value < axis.low:
            cells[0] = LEFT
        else:
            cells[-1] = RIGHT
    return "".join(cells)


# --- the whole plot ------------------------------------------------------------


def forest_lines(
    decisions: Sequence[GateDecision], *, width: int = 80, scales: Scales | None = None,
    measured: bool = True, names: Names = NO_NAMES,
) -> list[str]:
    """The plot as plain lines of at most ``width`` columns (no line ends in a space).

    ``scales``: (dataset, stage) -> score scale, see :func:`score_scales`;
    ``measured``: draw the measured-only metrics too (else one line counts them).
    Labels and reasons are cleaned (:func:`one_line`) but not escaped: the caller
    puts the lines in a code block or on a terminal.
    """
    rows = rows_of(decisions, scales, names)
    if not rows:
        return []
    shown = rows if measured else [r for r in rows if r.gated]
    hidden = len(rows) - len(shown)
    if not shown:
        return _hidden(hidden, width)
    drawn = [r for r in shown if r.change is not None]
    layout = _layout(shown, width)
    axis = axis_for(drawn, layout.plot) if drawn else None
    out = _legend(width)
    if axis is not None:
        ticks, marks = axis_lines(axis)
        head = f"{'change':>{NUMBER}} {'bound':>{NUMBER}}" if layout.figures else ""
        out.append(_join(" " * layout.label, ticks, head, layout))
        out.append(_join(" " * layout.label, marks, "", layout))
    for gated, title in ((True, "gated (these decide the build)"),
                         (False, "measured only (these never fail the build)")):
        block = [r for r in shown if r.gated == gated]
        if not block:
            continue
        out += textwrap.wrap(f"{title}:", width)
        for r in block:
            out += _row_lines(r, axis, layout, width)
    out += _hidden(hidden, width)
    return [line.rstrip() for line in out]


def _hidden(count: int, width: int) -> list[str]:
    """The line that counts the measured-only metrics left out, if any."""
    if not count:
        return []
    text = f"({count} measured-only metric{'s' * (count != 1)} not drawn; -v draws them)"
    return textwrap.wrap(text, width)


def terminal_forest(
    decisions: Sequence[GateDecision], records: Iterable[CaseRecord] = (), *,
    verbosity: int = 0, width: int = 80, names: Names = NO_NAMES,
) -> list[str]:
    """The plot for the terminal: when the gate failed (it shows why), or at ``-v``.

    A passing gate's plot only repeats the quality table, so it waits for ``-v``;
    without ``-v`` the measured-only metrics are counted, not drawn.
    """
    if not decisions or verbosity < 0:
        return []
    if verbosity == 0 and not any(d.fails for d in decisions):
        return []
    lines = forest_lines(decisions, width=width, scales=score_scales(records),
                         measured=verbosity > 0, names=names)
    return ["what decided the gate, per metric:", *lines] if lines else []


@dataclass(frozen=True)
class _Layout:
    label: int  # columns of the label (0: labels on their own lines)
    plot: int
    figures: bool
    decision: int


def _layout(rows: Sequence[Row], width: int) -> _Layout:
    """Labels beside the plot when that leaves it WIDE_PLOT columns, else above each row."""
    decision = max(len(r.decision) for r in rows)
    label = min(max(len(r.label) for r in rows), max(12, width // 4)) + 1
    for figures in (True, False):
        right = (2 * NUMBER + 3 if figures else 0) + 2 + decision
        if width - label - right >= WIDE_PLOT:
            return _Layout(label, width - label - right, figures, decision)
        if width - 2 - right >= MIN_PLOT:
            return _Layout(2, width - 2 - right, figures, decision)
    return _Layout(2, max(8, width - 4 - decision), False, decision)


def _join(label: str, plot: str, figures: str, layout: _Layout) -> str:
    right = f" {figures}" if layout.figures and figures else ""
    return f"{label:<{layout.label}}{plot}{right}"


def _row_lines(row: Row, axis: Axis | None, layout: _Layout, width: int) -> list[str]:
    fits = len(row.label) < layout.label
    lines = [] if fits else textwrap.wrap(row.label, width) or [""]
    label = row.label if fits else ""
    if row.change is None or row.bound is None or axis is None:
        text = f"{label:<{layout.label}}{row.note}" if fits else "  " + row.note
        lines += textwrap.wrap(text, width, subsequent_indent=" " * (layout.label if fits else 4),
                               break_on_hyphens=False)
        return lines
    figures = f"{_fig(row.change):>{NUMBER}} {_fig(row.bound):>{NUMBER}}" if layout.figures else ""
    right = f" {figures}  {row.decision}" if figures else f"  {row.decision}"
    lines.append(f"{label:<{layout.label}}{bar(row, axis)}{right}")
    return lines


def _legend(width: int) -> list[str]:
    """What the plot shows, its parts packed whole into lines of ``width``."""
    lines = textwrap.wrap(
        "change = current − baseline in points of 100: pass rates in percentage points, "
        "scores in % of their scale.", width)
    parts = [
        f"{CHANGE} change",
        f"{BAR}{UPPER} {LOWER}{BAR} the bound the gate decided with (one-sided, at its Holm "
        "level)",
        f"{TOLERANCE} ±tolerance", f"{ZERO} no change",
        f"{LEFT}{RIGHT} beyond the axis",
    ]
    first = len(lines)
    for part in parts:
        if len(lines) > first and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "  " + part
        else:
            lines += textwrap.wrap(part, width) or [""]
    return lines
