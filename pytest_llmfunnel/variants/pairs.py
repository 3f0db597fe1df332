"""Pairwise judges in the variant ranking: wins, ties and losses between two variants.

A comparison sits on both variants' records (each from its own point of view);
it is counted once per case and pair of variants here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_llmfunnel import stats
from pytest_llmfunnel.record import CaseRecord

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairwiseResult:
    """A pairwise judge's verdicts between two variants, from ``variant``'s point of view."""

    stage: str
    variant: str
    opponent: str
    wins: int
    ties: int
    losses: int
    errors: int

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> float:
        """Wins over decisive comparisons (ties left out); NaN when there were none."""
        return self.wins / self.decisive if self.decisive else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """Two-sided 95% Wilson interval of :attr:`win_rate`."""
        if not self.decisive:
            return math.nan, math.nan
        return stats.wilson_interval(self.wins, self.decisive, CONFIDENCE)

    def flipped(self) -> PairwiseResult:
        return PairwiseResult(self.stage, self.opponent, self.variant, self.losses, self.ties,
                              self.wins, self.errors)



def opponent_of(name: str, variant: str, names: Sequence[str]) -> tuple[str, str] | None:
    """(criterion, other variant) of a pairwise stage on ``variant``'s record, or None."""
    for other in names:
        if other != variant and name.endswith(f" vs {other}"):
            return name[: -len(f" vs {other}")], other
    # Between two variants both records carry the plain name. Among several, the first
    # variant's record holds "<judge> vs <other>" and the plain name is its mirror: skip it.
    return (name, next(o for o in names if o != variant)) if len(names) == 2 else None


def pairwise_results(
    by_variant: Mapping[str, Mapping[str, CaseRecord]], names: Sequence[str], cases: Sequence[str],
    stage_names: set[str],
) -> list[PairwiseResult]:
    """Win/tie/loss counts per pairwise criterion and pair of variants, each case counted once."""
    seen: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for v, case in ((v, c) for v in names for c in cases):
        for s in by_variant[v][case].stages:
            found = opponent_of(s.stage, v, names) if s.stage in stage_names else None
            if found:
                a, b = sorted((v, found[1]))
                score = None if s.status == "error" or s.score is None else (
                    s.score * (1.0 if v == a else -1.0))
                seen.setdefault((found[0], a, b), {}).setdefault(case, score)
    return [
        PairwiseResult(stage, a, b, sum(x is not None and x > 0 for x in xs.values()),
                       list(xs.values()).count(0.0),
                       sum(x is not None and x < 0 for x in xs.values()),
                       list(xs.values()).count(None))
        for (stage, a, b), xs in seen.items()
    ]


def pair_score(pairs: Sequence[PairwiseResult], variant: str) -> float:
    """Mean pairwise score (+1 win, 0 tie, -1 loss) of ``variant``; 0 when it met nobody."""
    mine = [p if p.variant == variant else p.flipped() for p in pairs
            if variant in (p.variant, p.opponent)]
    n = sum(p.wins + p.ties + p.losses for p in mine)
    return sum(p.wins - p.losses for p in mine) / n if n else 0.0


def preference_note(pairs: Sequence[PairwiseResult], best: str, primary: str) -> str:
    """Where a pairwise judge clearly prefers another variant to the best."""
    against = [p.flipped() for p in pairs
               if p.variant == best and p.decisive and p.interval[1] < 0.5]
    return "; ".join(
        f"{p.stage} prefers {p.variant} to {best} ({p.variant} wins {p.wins} of {p.decisive} "
        f"decisive comparisons, 95% CI {p.interval[0]:.0%}-{p.interval[1]:.0%}); the ranking "
        f"follows {primary}" for p in against)
