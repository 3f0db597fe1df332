"""Which variant is best on what: per gated metric the highest, and whether clearly ahead.

A pass rate's leader is *clearly ahead* when its paired test against the
runner-up rejects H0 Δ ≤ 0 (the gate's test at tolerance 0); a win rate's
leader (the variant, or the control when the variant's win rate is below ½)
when the score test rejects a win rate of ½. One Holm family across the
dataset's gated metrics; otherwise the leader is *tied within noise*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate.paired_tests import binary_test, score_test


@dataclass(frozen=True)
class Leader:
    """The highest variant on one gated metric; ``clear`` when ahead beyond noise."""

    metric: str
    variant: str
    runner_up: str
    clear: bool
    p_adjusted: float

    def text(self) -> str:
        if not math.isfinite(self.p_adjusted):
            return f"{self.metric}: no variant ahead ({self.variant} level with {self.runner_up})"
        how = "clearly ahead" if self.clear else "tied within noise"
        return (f"{self.metric}: {self.variant} highest, {how} of {self.runner_up} "
                f"(adjusted p={self.p_adjusted:.3g})")


def pass_rate_p(kind: str, top: Sequence[float], second: Sequence[float]) -> float:
    """One-sided p of H1 top > second, paired by case (the gate's tests at tolerance 0)."""
    diffs = [a - b for a, b in zip(top, second, strict=True)]
    if not diffs or (kind == "score" and len(diffs) < 2):
        return math.nan
    tested = binary_test(diffs, len(diffs), 0.0) if kind == "binary" else score_test(diffs, 0.0)
    return tested.p_better


def win_rate_p(wins: int, losses: int) -> float:
    """One-sided p of H1 win rate > ½ over the decisive comparisons."""
    decisive = wins + losses
    if not decisive:
        return math.nan
    return 1.0 - stats.norm_cdf((wins / decisive - 0.5) / math.sqrt(0.25 / decisive))


def leaders(
    found: Sequence[tuple[str, str, str, float]], alpha: float,
) -> list[Leader]:
    """``found``: (metric, leader, runner-up, raw p); Holm across them (NaN never clear)."""
    usable = [i for i, f in enumerate(found) if math.isfinite(f[3])]
    adjusted: Mapping[int, float] = dict(zip(
        usable, stats.holm([found[i][3] for i in usable]), strict=True))
    return [Leader(m, v, r, adjusted.get(i, math.nan) < alpha, adjusted.get(i, math.nan))
            for i, (m, v, r, _) in enumerate(found)]
