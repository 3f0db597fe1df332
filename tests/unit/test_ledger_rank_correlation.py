"""Spearman's rho against scipy, its interval against the closed form and a coverage simulation."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sps

from pytest_llmfunnel.ledger.rank_correlation import average_ranks, spearman


def test_average_ranks_share_ties() -> None:
    assert average_ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]


@pytest.mark.parametrize("seed", range(8))
def test_rho_matches_scipy_with_and_without_ties(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(4, 40)
    x = [float(rng.randint(0, 5)) if seed % 2 else rng.gauss(0, 1) for _ in range(n)]
    y = [xi + rng.gauss(0, 1.5) for xi in x]
    got = spearman(x, y)
    assert got.rho == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)


def test_the_interval_is_fisher_z_with_the_bonett_wright_standard_error() -> None:
    # Six pairs whose ranks differ by one in four places: rho = 1 - 6*4/(6*35) = 31/35.
    x = [0.10, 0.05, 0.02, -0.01, -0.04, -0.08]
    y = [0.030, 0.010, -0.005, 0.002, -0.020, -0.010]
    got = spearman(x, y)
    rho = 31 / 35
    assert got.rho == pytest.approx(rho, abs=1e-12)
    se = math.sqrt((1 + rho**2 / 2) / 3)
    z = 0.5 * math.log((1 + rho) / (1 - rho))
    assert got.low == pytest.approx(math.tanh(z - 1.959963984540054 * se), abs=1e-12)
    assert got.high == pytest.approx(math.tanh(z + 1.959963984540054 * se), abs=1e-12)
    assert got.low is not None and got.high is not None
    # By hand: z = ln(16.5)/2 = 1.40168, SE = 0.68124, tanh(1.40168 ∓ 1.33520).
    assert (round(got.low, 4), round(got.high, 4)) == (0.0664, 0.9916)


def test_no_interval_below_four_pairs_or_at_a_perfect_order_and_no_rho_without_spread() -> None:
    assert spearman([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]).low is None
    perfect = spearman([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 9.0])
    assert perfect.rho == 1.0 and perfect.low is None
    assert spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]).rho is None


def test_the_interval_covers_the_population_rho_about_95_percent_of_the_time() -> None:
    # Bivariate normal with correlation r: Spearman's population rho is (6/pi) asin(r/2).
    rng = random.Random(20260501)
    r, n, reps = 0.6, 25, 1500
    truth = 6 / math.pi * math.asin(r / 2)
    covered = 0
    for _ in range(reps):
        x = [rng.gauss(0, 1) for _ in range(n)]
        y = [r * a + math.sqrt(1 - r * r) * rng.gauss(0, 1) for a in x]
        got = spearman(x, y)
        assert got.low is not None and got.high is not None
        covered += got.low <= truth <= got.high
    # 1500 draws: the binomial standard error at 0.95 is about 0.006.
    assert 0.93 <= covered / reps <= 0.97
