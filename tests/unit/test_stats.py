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


def test_mean_and_se_textbook_example_and_edges() -> None:
    # 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7, se sqrt(32/7/8).
    mean, se = stats.mean_and_se([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert mean == 5.0
    assert se == pytest.approx(math.sqrt(32 / 7 / 8), rel=1e-15)
    assert stats.mean_and_se([3.0]) == (3.0, math.inf)
    mean, se = stats.mean_and_se([])
    assert math.isnan(mean) and se == math.inf


def test_mean_and_se_keeps_precision_where_naive_sums_lose_it() -> None:
    # A large offset cancels in naive sums of squares; the exact answer is the offset's.
    values = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0]
    mean, se = stats.mean_and_se(values)
    assert mean == 1e9 + 10.0
    assert se == pytest.approx(math.sqrt(30.0 / 4), rel=1e-12)


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


def test_wilson_coverage_by_seeded_simulation() -> None:
    rng = random.Random(42)
    n, p, runs = 40, 0.15, 3000
    hits = 0
    for _ in range(runs):
        k = sum(rng.random() < p for _ in range(n))
        lo, hi = stats.wilson_interval(k, n)
        hits += lo <= p <= hi
    assert 0.93 <= hits / runs <= 0.97


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


