"""Tests against a margin (Tango's score test, paired t), checked against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from pytest_llmfunnel.gate import margin


def _restricted_mle_numeric(better: int, worse: int, n: int, delta0: float) -> float:
    """argmax over P(worse) of the multinomial likelihood with P(better) = P(worse) + δ0."""
    rest = n - better - worse

    def nll(x: float) -> float:
        pb, pw = x + delta0, x
        return -(better * math.log(pb) + worse * math.log(pw) + rest * math.log(1 - pb - pw))

    lo = max(0.0, -delta0) + 1e-12
    hi = (1.0 - delta0) / 2.0 - 1e-12
    res = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-13})
    return float(res.x)


@pytest.mark.parametrize(
    ("better", "worse", "n", "delta0"),
    [(8, 30, 400, -0.02), (5, 5, 200, -0.05), (40, 4, 300, 0.02), (12, 3, 90, 0.1)],
)
def test_tango_statistic_uses_the_restricted_mle(
    better: int, worse: int, n: int, delta0: float
) -> None:
    p = _restricted_mle_numeric(better, worse, n, delta0)
    var = n * (2 * p + delta0 * (1 - delta0))  # Var(better − worse) under Δ = δ0
    expected = (better - worse - n * delta0) / math.sqrt(var)
    assert margin.tango_z(better, worse, n, delta0) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("better", "worse"), [(8, 30), (3, 3), (0, 7), (25, 1)])
def test_at_zero_margin_tango_is_mcnemars_score_test(better: int, worse: int) -> None:
    z = (better - worse) / math.sqrt(better + worse)
    assert margin.tango_z(better, worse, 500, 0.0) == pytest.approx(z, rel=1e-12)
    # Δ = 0 is symmetric (no skewness to correct): McNemar with the continuity correction.
    corrected = (better - worse + 0.5) / math.sqrt(better + worse)
    assert margin.tango_p_below(better, worse, 500, 0.0) == pytest.approx(
        sps.norm.cdf(corrected), rel=1e-9)


def test_no_flips_give_a_bound_just_above_the_exact_one_and_no_evidence() -> None:
    for n in (30, 200, 5000):
        # With no flips seen, the exact bound solves P(no flip) = (1 − δ)^n = level.
        exact = 1.0 - 0.025 ** (1.0 / n)
        assert exact <= margin.tango_upper(0, 0, n, 0.025) <= 1.06 * exact
        assert margin.tango_lower(0, 0, n, 0.025) == pytest.approx(
            -margin.tango_upper(0, 0, n, 0.025), rel=1e-9)
        assert margin.tango_p_below(0, 0, n, 0.0) == 1.0
        assert margin.tango_p_below(0, 0, n, -0.02) == 1.0


@pytest.mark.parametrize(("better", "worse", "n"), [(8, 30, 400), (0, 3, 50), (20, 20, 1000)])
@pytest.mark.parametrize("level", [0.05, 0.004])
def test_bounds_are_the_duals_of_the_p_values(
    better: int, worse: int, n: int, level: float
) -> None:
    upper = margin.tango_upper(better, worse, n, level)
    assert margin.tango_p_below(better, worse, n, upper + 1e-7) < level
    assert margin.tango_p_below(better, worse, n, upper - 1e-7) > level
    lower = margin.tango_lower(better, worse, n, level)
    assert margin.tango_p_above(better, worse, n, lower - 1e-7) < level
    assert margin.tango_p_above(better, worse, n, lower + 1e-7) > level


def _exact_rejection(n: int, p_worse: float, p_better: float, level: float,
                     delta0: float = -0.02) -> float:
    """P(tango_p_below < level) computed exactly over the trinomial of (better, worse).

    For each count of fail→pass flips, the smallest count of pass→fail flips that
    rejects (the p-value falls as pass→fail flips grow), then its binomial tail.
    """
    total = 0.0
    b_max = min(n, int(n * p_better + 12 * math.sqrt(n * p_better + 1) + 20))
    for better in range(b_max + 1):
        weight = float(sps.binom.pmf(better, n, p_better))
        if weight < 1e-15 or margin.tango_p_below(better, n - better, n, delta0) >= level:
            continue
        lo, hi = -1, n - better  # rejects at hi; at lo (-1: none) it does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if margin.tango_p_below(better, mid, n, delta0) < level:
                hi = mid
            else:
                lo = mid
        total += weight * float(sps.binom.sf(hi - 1, n - better, p_worse / (1 - p_better)))
    return total


@pytest.mark.parametrize("level", [0.05, 0.05 / 12])
@pytest.mark.parametrize("n", [100, 200, 500, 1000, 5000])
def test_the_tolerance_test_keeps_its_level_computed_exactly(n: int, level: float) -> None:
    # On the null's boundary (a true drop of exactly the tolerance) with few to
    # many background flips. The plain score test rejected up to 1.8 times as
    # often as its level here (n = 1000, level α/12, no background flips).
    sizes = [_exact_rejection(n, q + 0.02, q, level) for q in (0.0, 0.002, 0.01, 0.05, 0.2)]
    assert max(sizes) <= level, [round(s / level, 3) for s in sizes]


def test_upper_bound_coverage_computed_exactly() -> None:
    # Enough flips that the lattice no longer matters: the bound covers at its level.
    coverage = 1.0 - _exact_rejection(2000, 0.06, 0.04, 0.05)
    assert 0.95 <= coverage <= 0.96


def test_power_formula_matches_a_seeded_simulation() -> None:
    rng = np.random.default_rng(6)
    n, p_worse, p_better, level = 500, 0.085, 0.025, 0.05 / 12
    predicted = margin.tango_power(n, p_worse, p_better, -0.02, level)
    runs, hits = 3000, 0
    for _ in range(runs):
        better, worse, _ = (int(x) for x in rng.multinomial(n, [p_better, p_worse,
                                                                 1 - p_better - p_worse]))
        hits += margin.tango_p_below(better, worse, n, -0.02) < level
    assert hits / runs == pytest.approx(predicted, abs=0.03)


def test_cases_needed_is_where_the_power_formula_reaches_80_percent() -> None:
    need = margin.binary_cases_needed(0.065, 0.025, -0.02, 0.05)
    assert need is not None
    assert margin.tango_power(need, 0.065, 0.025, -0.02, 0.05) >= 0.8
    assert margin.tango_power(need - 1, 0.065, 0.025, -0.02, 0.05) < 0.8
    assert margin.binary_cases_needed(0.02, 0.03, -0.02, 0.05) is None  # not a drop


def test_paired_t_against_a_margin_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    diffs = rng.normal(-0.1, 0.5, size=15)
    mean, se = float(diffs.mean()), float(sps.sem(diffs))
    expected = sps.ttest_1samp(diffs, -0.05, alternative="less").pvalue
    assert margin.t_p_below(mean, se, 14, -0.05) == pytest.approx(expected, rel=1e-9)
    assert margin.t_bound(mean, se, 14, 0.05) == pytest.approx(
        mean + sps.t.ppf(0.95, 14) * se, rel=1e-9)


@pytest.mark.parametrize("n", [10, 30, 200])
def test_t_mde_matches_statsmodels_noncentral_t_power(n: int) -> None:
    from statsmodels.stats.power import TTestPower

    effect = TTestPower().solve_power(nobs=n, alpha=0.05, power=0.8, alternative="larger")
    # t_mde is in units of se = sd/sqrt(n); statsmodels answers in units of sd.
    assert margin.t_mde(1.0 / math.sqrt(n), n - 1, 0.05) == pytest.approx(effect, rel=0.02)


@pytest.mark.parametrize(("n", "flips"), [(200, 20), (1000, 100), (1000, 10)])
def test_the_printed_mde_is_caught_80_percent_of_the_time_by_a_noisy_judge(
    n: int, flips: int
) -> None:
    from pytest_llmfunnel.gate.decision import MetricSpec, PairedSample, decide

    # Half of the outputs unchanged (their verdicts reused, no flips); the other
    # half re-judged by a judge whose noise makes ``flips`` of them disagree.
    fresh, level = n // 2, 0.05 / 12
    base = (1.0,) * (flips // 2) + (0.0,) * (flips // 2) + (1.0,) * (n - flips)
    cur = (0.0,) * (flips // 2) + (1.0,) * (flips // 2) + (1.0,) * (n - flips)
    specs = [MetricSpec(f"m{i}", "binary") for i in range(12)]
    decisions = decide([PairedSample(s, "ds", base, cur, n - fresh) for s in specs])
    mde = decisions[0].mde
    # The world behind that table: each verdict of a re-judged output is the truth
    # flipped with probability e, 2e(1 − e) = flips/fresh; a true drop turns true
    # passes into fails among the re-judged outputs (see margin.drop_flips).
    e = (1 - math.sqrt(1 - 2 * flips / fresh)) / 2
    p_worse, p_better = margin.drop_flips(flips / n, mde, e)
    power = _exact_rejection(n, p_worse, p_better, level)
    assert 0.76 <= power <= 0.84, (mde, power)
