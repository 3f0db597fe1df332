"""The ranking's reasons in words: why the control, and what each comparison found.

Pass rates and win rates in percentage points (``pt``), scores in their own units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_llmfunnel.variants.outcomes import MarginVerdict, Outcome
from pytest_llmfunnel.wording import plural


def fmt(value: float, kind: str, signed: bool = True) -> str:
    """Pass rates in percentage points (``pt``), scores in their own units."""
    if not math.isfinite(value):
        return "-"
    sign = "+" if signed else ""
    return f"{value * 100:{sign}.1f}pt" if kind == "binary" else f"{value:{sign}.3g}"


def _cases(count: int | None) -> str:
    return "no number of cases" if count is None else f"about {plural(count, 'case')}"


def margin_text(v: MarginVerdict) -> str:
    """The stated margin, and what a tighter one (the tolerance) would need."""
    margin = fmt(v.margin, v.kind, False)
    if v.margin <= v.tolerance:
        return f"margin {margin} (the tolerance)"
    return (f"margin {margin} (the smallest {plural(v.n, 'case')} resolve; the tolerance "
            f"{fmt(v.tolerance, v.kind, False)} needs {_cases(v.tighter)})")


def verdict_text(v: MarginVerdict) -> str:
    """One clause per comparison that names the metric, the difference and the bound."""
    diff = f"diff {fmt(v.diff, v.kind)}"
    if v.worse:
        return (f"{v.metric}: worse beyond the margin: {diff}, upper bound "
                f"{fmt(v.upper, v.kind)} below {fmt(-v.margin, v.kind)}, {margin_text(v)}")
    if v.noninferior:
        return (f"{v.metric}: non-inferior: {diff}, lower bound {fmt(v.lower, v.kind)} above "
                f"{fmt(-v.margin, v.kind)}, {margin_text(v)}")
    return (f"{v.metric}: undecided: {diff}, bounds {fmt(v.lower, v.kind)} to "
            f"{fmt(v.upper, v.kind)} straddle {fmt(-v.margin, v.kind)}, {margin_text(v)}; "
            f"{_cases(v.decide_at)} would decide it")


def reason_for(
    outcome: Outcome, found: Sequence[tuple[str, MarginVerdict | None]], control: str,
) -> str:
    """The variant's outcome in one sentence from its (reason, verdict) per gated metric.

    A verdict of None is a metric with no case to compare.
    """
    if outcome == "clearly worse":
        worse = [reason for reason, v in found if v is not None and v.worse]
        return f"clearly worse than {control}: " + "; ".join(worse)
    decided = [(reason, v) for reason, v in found if v is not None]
    if outcome == "non-inferior":
        closest = min(decided, key=lambda rv: rv[1].lower + rv[1].margin)
        return f"non-inferior to {control} on every gated metric; closest: {closest[0]}"
    open_ = [(reason, v) for reason, v in found if v is None or not v.noninferior]
    needs = [v.decide_at if v is not None else None for _, v in open_]
    most = None if not needs or None in needs else max(n for n in needs if n is not None)
    return (f"cannot decide at this size against {control} ({_cases(most)} would): "
            + "; ".join(reason for reason, _ in open_))


def control_reason(
    chosen: str, named: str | None, keys: Sequence[tuple[float, float, float, str]],
    primary: str, value: float, lead: str,
) -> str:
    """Why this variant is the control: named, or best on the primary metric (or a tie-break)."""
    if named is not None:
        return f"the control, as named ({primary} {value * 100:.1f}%)"
    text = f"the control: highest {primary} ({value * 100:.1f}%)"
    if len(keys) < 2 or keys[0][0] != keys[1][0]:
        return text
    mine, theirs = keys[0], keys[1]
    tie = f"the control: tied with {theirs[3]} on {primary}; "
    if mine[1] != theirs[1]:
        return tie + f"ahead on the mean {lead} score ({-mine[1]:+.2f} vs {-theirs[1]:+.2f})"
    return tie + ("ahead on the promotion rate" if mine[2] != theirs[2] else "first by name")
