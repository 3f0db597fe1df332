"""Every statistic against a known answer: scipy/statsmodels oracles, textbook
examples, closed forms, and exact or seeded coverage computations."""

from __future__ import annotations

import math
import random
from typing import Literal

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps

from pytest_llmfunnel import stats


@pytest.mark.parametrize("x", [-30.0, -8.5, -3.0, -1.0, -0.1, 0.0, 0.7, 2.5, 6.0])
def test_norm_cdf_matches_scipy(x: float) -> None:
    assert stats.norm_cdf(x) == pytest.approx(sps.norm.cdf(x), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "p", [1e-300, 1e-15, 1e-9, 1e-4, 0.01, 0.02425, 0.2, 0.5, 0.8, 0.975, 0.999, 1 - 1e-12]
)
def test_norm_ppf_matches_scipy(p: float) -> None:
    assert stats.norm_ppf(p) == pytest.approx(sps.norm.ppf(p), rel=1e-9, abs=1e-12)


def test_norm_ppf_textbook_values_and_edges() -> None:
    assert stats.norm_ppf(0.975) == pytest.approx(1.959963984540054, abs=1e-12)
    assert stats.norm_ppf(0.95) == pytest.approx(1.6448536269514722, abs=1e-12)
    assert stats.norm_ppf(0.0) == -math.inf
    assert stats.norm_ppf(1.0) == math.inf
    with pytest.raises(ValueError, match="0 <= p <= 1"):
        stats.norm_ppf(1.5)


@pytest.mark.parametrize("a", [0.5, 1.0, 2.5, 30.0, 400.0])
@pytest.mark.parametrize("b", [0.5, 3.0, 45.0, 2000.0])
def test_betainc_matches_scipy(a: float, b: float) -> None:
    for x in (0.0, 1e-6, 0.01, 0.3, 0.5, 0.9, 0.999, 1.0):
        expected = special.betainc(a, b, x)
        assert stats.betainc(a, b, x) == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.0, 5.0), (37.0, 13.0), (0.5, 40.0)])
def test_beta_ppf_inverts_betainc_like_scipy(a: float, b: float) -> None:
    for q in (1e-8, 0.004, 0.05, 0.5, 0.95, 0.9999):
        x = stats.beta_ppf(q, a, b)
        assert x == pytest.approx(sps.beta.ppf(q, a, b), rel=1e-9)
        assert special.betainc(a, b, x) == pytest.approx(q, rel=1e-9)


@pytest.mark.parametrize("df", [1.0, 2.0, 3.5, 9.0, 29.0, 250.0])
def test_t_distribution_matches_scipy(df: float) -> None:
    for t in (-40.0, -4.0, -1.3, 0.0, 0.4, 2.1, 12.0):
        assert stats.t_sf(t, df) == pytest.approx(sps.t.sf(t, df), rel=1e-10)
        assert stats.t_cdf(t, df) == pytest.approx(sps.t.cdf(t, df), rel=1e-10)
    for p in (1e-9, 0.001, 0.0125, 0.05, 0.5, 0.8, 0.975, 0.99999):
        assert stats.t_ppf(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-9, abs=1e-12)


def test_t_textbook_quantiles_and_normal_limit() -> None:
    # Tabulated two-sided 95% critical values.
    assert stats.t_ppf(0.975, 1) == pytest.approx(12.706204736, abs=1e-8)
    assert stats.t_ppf(0.975, 10) == pytest.approx(2.228138852, abs=1e-8)
    assert stats.t_ppf(0.975, math.inf) == pytest.approx(1.959963985, abs=1e-8)
    assert stats.t_sf(1.96, math.inf) == pytest.approx(0.0249978951, abs=1e-9)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 5, 0.3), (3, 10, 0.5), (40, 50, 0.6), (7, 6, 0.5)])
def test_binom_sf_matches_scipy(k: int, n: int, p: float) -> None:
    assert stats.binom_sf(k, n, p) == pytest.approx(sps.binom.sf(k - 1, n, p), rel=1e-11)


@pytest.mark.parametrize(
    ("b", "c"), [(1, 0), (3, 0), (10, 2), (5, 9), (40, 60), (37, 13), (700, 620), (2, 2)]
)
def test_mcnemar_exact_matches_binomtest(b: int, c: int) -> None:
    expected = sps.binomtest(b, b + c, 0.5, alternative="greater").pvalue
    assert stats.mcnemar_exact_one_sided(b, c) == pytest.approx(expected, rel=1e-10)


def test_mcnemar_degenerate_and_invalid() -> None:
    assert stats.mcnemar_exact_one_sided(0, 0) == 1.0
    assert stats.mcnemar_exact_one_sided(0, 12) == 1.0
    assert stats.mcnemar_exact_one_sided(3, 0) == 0.125  # (1/2)^3
    with pytest.raises(ValueError, match="non-negative"):
        stats.mcnemar_exact_one_sided(-1, 2)


def test_paired_t_matches_scipy() -> None:
    rng = random.Random(3)
    diffs = [rng.gauss(-0.2, 1.0) for _ in range(25)]
    mean, se, p = stats.paired_t_one_sided(diffs)
    expected = sps.ttest_1samp(diffs, 0.0, alternative="less")
    assert mean == pytest.approx(float(np.mean(diffs)), rel=1e-12)
    assert se == pytest.approx(float(sps.sem(diffs)), rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_paired_t_degenerate_cases() -> None:
    assert stats.paired_t_one_sided([-0.5]) == (-0.5, math.inf, 1.0)
    assert stats.paired_t_one_sided([-0.5, -0.5, -0.5])[1:] == (0.0, 0.0)
    assert stats.paired_t_one_sided([0.0, 0.0])[2] == 1.0
    assert stats.paired_t_one_sided([0.2, 0.2])[2] == 1.0
    mean, se, p = stats.paired_t_one_sided([])
    assert math.isnan(mean) and se == math.inf and p == 1.0


def test_bootstrap_is_seeded_and_p_is_the_share_of_means_at_or_above_zero() -> None:
    diffs = [-1.0, -0.5, 0.0, 0.25, -0.75, -1.5, 0.5, -0.25]
    upper, p = stats.paired_bootstrap_one_sided(diffs, resamples=2000, seed=7)
    upper2, p2 = stats.paired_bootstrap_one_sided(diffs, resamples=2000, seed=7)
    assert (p, upper(0.05)) == (p2, upper2(0.05))
    # Reproduce the definition by hand with the same generator.
    rng = random.Random(7)
    means = [sum(rng.choices(diffs, k=len(diffs))) / len(diffs) for _ in range(2000)]
    assert p == sum(m >= 0 for m in means) / 2000
    assert upper(0.05) == pytest.approx(sorted(means)[2000 - 100], abs=1e-12)
    other = stats.bootstrap_means(diffs, resamples=2000, seed=8)
    assert other.means != stats.bootstrap_means(diffs, resamples=2000, seed=7).means


def test_bootstrap_bounds_are_exact_duals_of_the_p_values() -> None:
    rng = random.Random(11)
    dist = stats.bootstrap_means([rng.gauss(-0.3, 1) for _ in range(12)], resamples=999, seed=1)
    for level in (0.001, 0.004, 0.0125, 0.05, 0.2, 0.5):
        for t in (-0.6, -0.3, 0.0, 0.1):
            assert (dist.upper(level) < t) == (dist.p_at_least(t) < level)
            assert (dist.lower(level) > t) == (dist.p_at_most(t) < level)


def test_bootstrap_agrees_with_t_for_a_large_normal_sample() -> None:
    rng = random.Random(5)
    diffs = [rng.gauss(0.1, 1.0) for _ in range(400)]
    dist = stats.bootstrap_means(diffs, resamples=4000, seed=0)
    mean, se, _ = stats.paired_t_one_sided(diffs)
    assert dist.upper(0.05) == pytest.approx(mean + 1.6449 * se, abs=0.2 * se)
    assert dist.lower(0.05) == pytest.approx(mean - 1.6449 * se, abs=0.2 * se)


def test_holm_textbook_example() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> raised to 0.06
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.6, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_holm_matches_statsmodels() -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = random.Random(2)
    for _ in range(20):
        ps = [rng.random() ** 3 for _ in range(rng.randint(1, 15))]
        expected = multitest.multipletests(ps, method="holm")[1]
        assert stats.holm(ps) == pytest.approx(list(expected), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 20), (17, 40), (50, 50), (412, 1000)])
def test_intervals_match_scipy(k: int, n: int) -> None:
    result = sps.binomtest(k, n)
    wilson = result.proportion_ci(0.9, method="wilson")
    exact = result.proportion_ci(0.95, method="exact")
    assert stats.wilson_interval(k, n, 0.9) == pytest.approx((wilson.low, wilson.high), abs=1e-12)
    assert stats.clopper_pearson(k, n) == pytest.approx((exact.low, exact.high), abs=1e-10)


def test_intervals_match_statsmodels() -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    for k, n in [(1, 7), (9, 30), (120, 130)]:
        wilson = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
        exact = proportion.proportion_confint(k, n, alpha=0.05, method="beta")
        assert stats.wilson_interval(k, n) == pytest.approx(wilson, abs=1e-12)
        assert stats.clopper_pearson(k, n) == pytest.approx(exact, abs=1e-10)


def test_interval_coverage_computed_exactly_over_the_binomial() -> None:
    n = 60
    wilson = [stats.wilson_interval(k, n) for k in range(n + 1)]
    exact = [stats.clopper_pearson(k, n) for k in range(n + 1)]
    wilson_cov = []
    for p in [i / 100 for i in range(5, 96, 5)]:
        probs = [sps.binom.pmf(k, n, p) for k in range(n + 1)]
        cp = sum(pr for pr, (lo, hi) in zip(probs, exact, strict=True) if lo <= p <= hi)
        assert cp >= 0.95 - 1e-12  # Clopper–Pearson never under-covers
        wilson_cov.append(
            sum(pr for pr, (lo, hi) in zip(probs, wilson, strict=True) if lo <= p <= hi)
        )
    assert sum(wilson_cov) / len(wilson_cov) == pytest.approx(0.95, abs=0.01)
    assert min(wilson_cov) > 0.92


def test_wilson_coverage_by_seeded_simulation() -> None:
    rng = random.Random(42)
    n, p, runs = 40, 0.15, 3000
    hits = 0
    for _ in range(runs):
        k = sum(rng.random() < p for _ in range(n))
        lo, hi = stats.wilson_interval(k, n)
        hits += lo <= p <= hi
    assert 0.93 <= hits / runs <= 0.97


def test_interval_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.wilson_interval(5, 4)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.clopper_pearson(0, 0)


def test_mde_closed_form() -> None:
    alpha_m = 0.05 / 12
    expected = (sps.norm.ppf(1 - alpha_m) + sps.norm.ppf(0.8)) * 0.01
    assert stats.mde(0.01, alpha_m) == pytest.approx(expected, rel=1e-10)
    assert stats.mde(0.01, alpha_m, tolerance=0.02) == pytest.approx(
        0.02 if expected < 0.02 else expected
    )
    assert stats.mde(0.001, 0.05, tolerance=0.02) == 0.02
    assert stats.mde(0.01, 0.05, power=0.9) == pytest.approx(
        (1.6448536 + 1.2815516) * 0.01, rel=1e-6
    )


def test_cohen_kappa_textbook_example() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert stats.cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    assert stats.cohen_kappa(a, a) == 1.0
    assert stats.cohen_kappa(["x", "x"], ["x", "x"]) == 1.0


def _table(a: list[int], b: list[int], k: int) -> np.ndarray:
    table = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        table[x, y] += 1
    return table


KINDS: tuple[Literal["quadratic", "linear"], ...] = ("quadratic", "linear")


def test_weighted_kappa_matches_closed_form_and_statsmodels() -> None:
    rng = random.Random(9)
    a = [rng.randint(0, 4) for _ in range(80)]
    b = [min(4, max(0, x + rng.choice([-1, 0, 0, 1, 2]))) for x in a]
    table = _table(a, b, 5)
    idx = np.arange(5)
    matrices = {"quadratic": (idx[:, None] - idx) ** 2 / 16, "linear": abs(idx[:, None] - idx) / 4}
    for kind in KINDS:
        w = matrices[kind]
        expected_cells = np.outer(table.sum(1), table.sum(0)) / table.sum()
        closed = 1 - (w * table).sum() / (w * expected_cells).sum()
        assert stats.weighted_kappa(a, b, range(5), weights=kind) == pytest.approx(
            closed, rel=1e-12
        )
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    for kind in KINDS:
        expected = inter_rater.cohens_kappa(table, wt=kind).kappa
        assert stats.weighted_kappa(a, b, range(5), weights=kind) == pytest.approx(
            expected, rel=1e-10
        )
    assert stats.cohen_kappa(a, b) == pytest.approx(
        inter_rater.cohens_kappa(table).kappa, rel=1e-10
    )


def test_kappa_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="not one of the categories"):
        stats.weighted_kappa([1, 2], [1, 7], [1, 2, 3])
    with pytest.raises(ValueError, match="equally long"):
        stats.cohen_kappa([1], [1, 2])


def _ppi_lambda(y: np.ndarray, yh: np.ndarray, yu: np.ndarray, n: int) -> float:
    lam = np.cov(y, yh)[0, 1] / ((1 + n / len(yu)) * np.var(np.concatenate([yh, yu]), ddof=1))
    return float(np.clip(lam, 0, 1))


def _ppi_closed_form(
    y: np.ndarray, yh: np.ndarray, yu: np.ndarray, alpha: float, *, cross_fit: bool
) -> tuple[float, ...]:
    n, big_n = len(y), len(yu)
    if cross_fit:  # fold k = positions of parity k; its lambda is tuned on the other fold
        even, odd = np.arange(0, n, 2), np.arange(1, n, 2)
        lam_even = _ppi_lambda(y[odd], yh[odd], yu, n)
        lam_odd = _ppi_lambda(y[even], yh[even], yu, n)
        lams = np.where(np.arange(n) % 2 == 0, lam_even, lam_odd)
    else:
        lams = np.full(n, _ppi_lambda(y, yh, yu, n))
    lam = float(lams.mean())
    rect = y - lams * yh
    est = rect.mean() + lam * yu.mean()
    var = lam**2 * np.var(yu, ddof=1) / big_n + np.var(rect, ddof=1) / n
    half = sps.norm.ppf(1 - alpha / 2) * np.sqrt(var)
    return float(est), float(est - half), float(est + half), lam


@pytest.mark.parametrize("cross_fit", [True, False])
def test_ppi_mean_ci_matches_closed_form(cross_fit: bool) -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(600) < 0.7
    pred = np.where(rng.random(600) < 0.85, truth, ~truth).astype(float)
    y, yh, yu = truth[:60].astype(float), pred[:60], pred[60:]
    got = stats.ppi_mean_ci(y.tolist(), yh.tolist(), yu.tolist(), alpha=0.1, cross_fit=cross_fit)
    assert got == pytest.approx(_ppi_closed_form(y, yh, yu, 0.1, cross_fit=cross_fit), rel=1e-10)
    assert 0 < got[3] < 1


def test_ppi_lambda_zero_is_the_classical_interval_and_good_predictions_narrow_it() -> None:
    rng = random.Random(4)
    y = [float(rng.random() < 0.6) for _ in range(50)]
    unl = [float(rng.random() < 0.6) for _ in range(500)]
    est, lo, hi, lam = stats.ppi_mean_ci(y, y, unl, lam=0.0)
    mean, se = float(np.mean(y)), float(sps.sem(y))
    assert lam == 0.0 and est == pytest.approx(mean)
    assert (lo, hi) == pytest.approx((mean - 1.959964 * se, mean + 1.959964 * se), rel=1e-6)
    # Perfect predictions: the tuned lambda is near 1 and the CI much narrower.
    _, lo2, hi2, lam2 = stats.ppi_mean_ci(y, y, unl)
    assert lam2 > 0.85 and hi2 - lo2 < 0.6 * (hi - lo)


def test_ppi_coverage_by_seeded_simulation() -> None:
    rng = random.Random(12)
    hits, runs, p = 0, 300, 0.4
    for _ in range(runs):
        truth = [rng.random() < p for _ in range(400)]
        pred = [t if rng.random() < 0.8 else rng.random() < 0.5 for t in truth]
        y, yh = [float(t) for t in truth[:40]], [float(t) for t in pred[:40]]
        _, lo, hi, _ = stats.ppi_mean_ci(y, yh, [float(t) for t in pred[40:]])
        hits += lo <= p <= hi
    assert hits / runs >= 0.91


def test_ppi_rejects_too_little_data() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        stats.ppi_mean_ci([1.0], [1.0], [0.0, 1.0])


def test_ipw_mean_hand_example() -> None:
    values, probs = [1.0, 0.0, 1.0], [0.5, 0.25, 1.0]
    # Horvitz–Thompson: (1/0.5 + 0 + 1/1) / N; Hájek: 3 / (2 + 4 + 1).
    assert stats.ipw_mean(values, probs, population_size=10) == pytest.approx(0.3)
    assert stats.ipw_mean(values, probs) == pytest.approx(3 / 7)
    assert stats.ipw_mean([0.2, 0.4], [1.0, 1.0]) == pytest.approx(0.3)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        stats.ipw_mean([1.0], [0.0])
