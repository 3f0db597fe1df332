"""Each variant against the control: non-inferior, clearly worse, or undecided at this size.

One comparison per (variant, gated metric): the gate's paired tests
(:mod:`pytest_llmfunnel.gate.paired_tests`) for pass rates, a score test on
the win rate over decisive comparisons for pairwise judges. With Δ = variant −
control (for a win rate, Δ = win rate − ½), oriented so positive is better:

* **The margin** m is the tolerance τ when this many cases can resolve it,
  else the smallest margin they can: m = max(τ, MDE), where MDE is the margin
  an *unchanged* metric is shown within 80% of the time at the Bonferroni
  level α/k (k gated comparisons in the dataset), the gate's non-inferiority
  MDE. For a pass rate with n paired cases and discordance q (pairs whose
  verdicts differ) MDE ≈ (z₁₋α/k + z₀.₈)·√(q/n) (Tango's test, solved exactly);
  for a win rate over D decisive comparisons MDE ≈ (z₁₋α/k + z₀.₈)·½/√D.
  Where m > τ the comparison states the cases the tolerance would need.
* **Non-inferior**: H0 Δ ≤ −m rejected, i.e. the lower bound of Δ at its Holm
  level clears −m, on every gated metric.
* **Clearly worse**: H0 Δ ≥ −m rejected on some gated metric (the gate's
  regression test at the margin; the upper bound of Δ lies below −m).
* **Undecided**: neither; the cases that would decide it are those with which
  the observed difference, were it true, is resolved 80% of the time (shown
  non-inferior at τ if Δ > −τ, shown worse beyond τ if Δ < −τ).

Each of the two tests is one Holm family across every (variant, metric)
comparison of the dataset.

Why choosing m from the data stays honest: m depends only on n and on how
noisy the pairs are (the discordance q, or the decisive count D, or a score's
spread), never on the observed difference itself. Under the null, q says
nothing about which way the discordant pairs went: given q, the split of the
discordant pairs is what the test looks at, and its error rate at a margin
fixed by q is still α. A margin chosen from the observed difference (say, just
below the bound) would make every variant "non-inferior": a test that cannot
fail. The price of a data-chosen margin is only that it is stated, with the
cases a tighter one needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate import margin as margin_mod
from pytest_llmfunnel.gate.paired_tests import POWER, Tested, binary_test, score_test

Outcome = Literal["control", "non-inferior", "clearly worse", "undecided"]


@dataclass(frozen=True)
class Probe:
    """One (variant, metric) comparison's statistics as functions of margin and level.

    ``p_noninferior(m)`` tests H1 Δ > −m, ``p_worse(m)`` H1 Δ < −m; ``lower``
    and ``upper`` are one-sided bounds of Δ at a level; ``margin_mde(level)``
    the margin shown with 80% power when Δ = 0; ``needed(level, Δ, τ, worse)``
    the cases with which a true Δ is shown non-inferior at τ (``worse`` False)
    or worse beyond τ (True) with 80% power, None when none suffice.
    """

    metric: str
    kind: Literal["binary", "score"]
    n: int  # cases behind the comparison
    diff: float
    test: str
    p_noninferior: Callable[[float], float]
    p_worse: Callable[[float], float]
    lower: Callable[[float], float]
    upper: Callable[[float], float]
    margin_mde: Callable[[float], float]
    needed: Callable[[float, float, float, bool], int | None]
    flips: tuple[int, int] | None = None  # (worse, better) cases of a pass rate


def paired_probe(
    metric: str, kind: Literal["binary", "score"], control: Sequence[float],
    variant: Sequence[float],
) -> Probe:
    """A pass rate or score compared case by case, with the gate's own paired tests."""
    diffs = [c - b for b, c in zip(control, variant, strict=True)]
    n = len(diffs)

    def tested(margin: float) -> Tested:
        return binary_test(diffs, n, margin) if kind == "binary" else score_test(diffs, margin)

    base = tested(0.0)

    discordant = sum(d != 0.0 for d in diffs) / n if n else 0.0

    def needed(level: float, diff: float, tol: float, worse: bool) -> int | None:
        if kind == "binary":
            # The observed discordance q split as the difference says: P(worse) = (q - Δ)/2,
            # P(better) = (q + Δ)/2 (never negative, as |Δ| <= q). Non-inferiority (H1 Δ > -τ)
            # is the mirror image of the regression test (H1 Δ < -τ).
            q = max(discordant, abs(diff))
            p_worse, p_better = (q - diff) / 2, (q + diff) / 2
            if worse:
                return margin_mod.binary_cases_needed(p_worse, p_better, -tol, level, POWER)
            return margin_mod.binary_cases_needed(p_better, p_worse, tol, level, POWER)
        # Tested.needed(level, drop, d0) sizes the test of H1 Δ < d0 at a true Δ = -drop; the
        # non-inferiority test is its mirror image (drop = Δ, d0 = τ).
        return base.needed(level, -diff, tol) if worse else base.needed(level, diff, -tol)

    return Probe(
        metric, kind, n, base.diff, base.test,
        p_noninferior=lambda m: tested(m).p_noninferior,
        p_worse=lambda m: tested(m).p_worse,
        lower=base.lower, upper=base.upper, margin_mde=base.margin_mde, needed=needed,
        flips=base.flips,
    )


def win_rate_probe(metric: str, wins: int, losses: int, cases: int) -> Probe | None:
    """A pairwise judge's win rate of the variant over the control; None without a decisive one.

    Δ = wins/(wins + losses) − ½, tested with the one-sample score test, bounds
    from the Wilson interval (its inversion). ``cases`` (ties included) turns
    the decisive comparisons a size needs into cases.
    """
    decisive = wins + losses
    if decisive == 0:
        return None
    rate = wins / decisive
    share = decisive / cases if cases else 1.0

    def z_at(m: float) -> float:
        p0 = min(max(0.5 - m, 1e-12), 1 - 1e-12)
        return (rate - p0) / math.sqrt(p0 * (1 - p0) / decisive)

    def bound(level: float, side: int) -> float:
        lo, hi = stats.wilson_interval(wins, decisive, 1.0 - 2.0 * level)
        return (lo if side < 0 else hi) - 0.5

    def needed(level: float, diff: float, tol: float, worse: bool) -> int | None:
        gap = (-tol - diff) if worse else (diff + tol)
        if gap <= 0:
            return None
        p0, p1 = 0.5 - tol, 0.5 + diff
        z = (stats.norm_ppf(1 - level) * math.sqrt(p0 * (1 - p0))
             + stats.norm_ppf(POWER) * math.sqrt(max(p1 * (1 - p1), 1e-12)))
        return math.ceil((z / gap) ** 2 / share)

    return Probe(
        metric, "binary", cases, rate - 0.5, "wilson-score",
        p_noninferior=lambda m: 1.0 - stats.norm_cdf(z_at(m)),
        p_worse=lambda m: stats.norm_cdf(z_at(m)),
        lower=lambda level: bound(level, -1), upper=lambda level: bound(level, 1),
        margin_mde=lambda level: (stats.norm_ppf(1 - level) + stats.norm_ppf(POWER))
        * 0.5 / math.sqrt(decisive),
        needed=needed,
    )


@dataclass(frozen=True)
class MarginVerdict:
    """One (variant, metric) comparison, decided.

    ``margin`` is the stated margin m (≥ ``tolerance``); ``tighter`` the cases
    the tolerance would need when m > τ; ``lower``/``upper`` the bounds of Δ at
    their Holm levels; ``decide_at`` the cases that would decide an undecided one.
    """

    metric: str
    kind: Literal["binary", "score"]
    n: int
    diff: float
    tolerance: float
    margin: float
    tighter: int | None
    noninferior: bool
    worse: bool
    lower: float
    upper: float
    p_noninferior: float  # Holm-adjusted
    p_worse: float  # Holm-adjusted
    decide_at: int | None
    test: str
    flips: tuple[int, int] | None = None
    p_raw: float = math.nan  # the non-inferiority p-value before Holm
    level: float = math.nan  # the Holm level of ``lower``


def _holm(pvalues: Sequence[float], alpha: float) -> list[tuple[float, float]]:
    """(adjusted p, Holm level of its rank) per p-value."""
    adjusted = stats.holm(list(pvalues))
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    levels = [0.0] * len(pvalues)
    for rank, i in enumerate(order):
        levels[i] = alpha / (len(pvalues) - rank)
    return list(zip(adjusted, levels, strict=True))


def decide_family(
    probes: Sequence[Probe], tolerances: Sequence[float], alpha: float,
) -> list[MarginVerdict]:
    """Decide every comparison of one dataset; Holm runs across all of them (two families)."""
    k = max(len(probes), 1)
    level_m = alpha / k
    margins, tighter = [], []
    for probe, tol in zip(probes, tolerances, strict=True):
        mde = probe.margin_mde(level_m)
        resolvable = mde <= tol
        # Just past the root, so a metric whose pairs never differ is shown at it (not on the edge).
        margin = tol if resolvable else mde * (1 + 1e-6) if math.isfinite(mde) else math.inf
        # A difference of proportions lies in [-1, 1]: no wider margin means anything.
        margins.append(margin if probe.kind == "score" else min(margin, 1.0))
        tighter.append(None if resolvable else probe.needed(level_m, 0.0, tol, False))
    raw = [p.p_noninferior(m) for p, m in zip(probes, margins, strict=True)]
    ni = _holm(raw, alpha)
    wo = _holm([p.p_worse(m) for p, m in zip(probes, margins, strict=True)], alpha)
    out = []
    for i, probe in enumerate(probes):
        tol, m = tolerances[i], margins[i]
        shown, worse = ni[i][0] < alpha, wo[i][0] < alpha
        decide_at = None
        if not (shown or worse):
            decide_at = probe.needed(level_m, probe.diff, tol, probe.diff < -tol)
        out.append(MarginVerdict(
            probe.metric, probe.kind, probe.n, probe.diff, tol, m, tighter[i], shown, worse,
            probe.lower(ni[i][1]), probe.upper(wo[i][1]), ni[i][0], wo[i][0], decide_at,
            probe.test, probe.flips, raw[i], ni[i][1],
        ))
    return out


def outcome_of(verdicts: Sequence[MarginVerdict]) -> Outcome:
    """Clearly worse on some gated metric, else non-inferior on all, else undecided."""
    if any(v.worse for v in verdicts):
        return "clearly worse"
    if verdicts and all(v.noninferior for v in verdicts):
        return "non-inferior"
    return "undecided"


ONLINE = {"control": "yes (control)", "non-inferior": "yes", "undecided": "only if cheap",
          "clearly worse": "no"}
