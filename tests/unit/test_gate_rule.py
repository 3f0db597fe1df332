"""The gate's decision rule as a test of the tolerance: error rates, bound coverage, power.

Each statistic is checked against a known answer: a fixed-seed simulation whose
error rate or coverage is asserted within a tolerance, or a closed form.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_llmfunnel.gate.decision import MetricSpec, PairedSample, decide

TOL = 0.02


def _binary(n: int, worse: int, better: int, passing: int) -> PairedSample:
    rest_pass, rest_fail = passing - worse, n - passing - better
    base = (1.0,) * worse + (0.0,) * better + (1.0,) * rest_pass + (0.0,) * rest_fail
    cur = (0.0,) * worse + (1.0,) * better + (1.0,) * rest_pass + (0.0,) * rest_fail
    return PairedSample(MetricSpec("correct", "binary", tolerance=TOL), "qa", base, cur)


def _draw(rng: np.random.Generator, n: int, p_worse: float, p_better: float) -> PairedSample:
    # 70% pass in the baseline; flips drawn as a multinomial over the paired 2x2 table.
    both, worse, better, _ = (
        int(x) for x in rng.multinomial(n, [0.7 - p_worse, p_worse, p_better, 0.3 - p_better])
    )
    return _binary(n, worse, better, both + worse)


@pytest.mark.parametrize("n", [200, 1000])
def test_a_true_drop_of_exactly_the_tolerance_fails_at_most_alpha(n: int) -> None:
    rng = np.random.default_rng(18)
    runs = 600
    # 5% of cases flip by noise, and the pass rate truly drops by exactly the tolerance.
    fails = sum(decide([_draw(rng, n, 0.025 + TOL, 0.025)])[0].fails for _ in range(runs))
    assert fails / runs <= 0.05 + 0.025  # binomial SE at 600 runs is about 0.009


def test_a_true_drop_of_half_the_tolerance_rarely_fails() -> None:
    rng = np.random.default_rng(19)
    runs = 600
    fails = sum(decide([_draw(rng, 1000, 0.035, 0.025)])[0].fails for _ in range(runs))
    assert fails / runs <= 0.01


@pytest.mark.parametrize(("n", "p_worse", "p_better"), [(200, 0.03, 0.02), (1000, 0.01, 0.01)])
def test_the_reported_bound_covers_the_true_difference(
    n: int, p_worse: float, p_better: float
) -> None:
    rng = np.random.default_rng(20)
    runs = 1500
    truth = p_better - p_worse
    covered = sum(decide([_draw(rng, n, p_worse, p_better)])[0].bound >= truth
                  for _ in range(runs))
    assert 0.935 <= covered / runs <= 0.965  # a one-sided 95% bound; SE about 0.0056


def test_with_no_flips_the_bound_is_the_score_bound_not_zero() -> None:
    (d,) = decide([_binary(200, 0, 0, 140)])
    # With no discordant pair seen, an exact bound solves (1 − δ)^n = α; the
    # corrected score bound lies just above it (never below: it keeps its level).
    exact = 1.0 - 0.05 ** (1.0 / 200)
    assert exact <= d.bound <= 1.06 * exact
    assert d.decision == "ok" and d.p_value == 1.0


def test_with_zero_tolerance_and_no_flips_nothing_regresses() -> None:
    spec = MetricSpec("correct", "binary", tolerance=0.0)
    s = _binary(50, 0, 0, 30)
    (d,) = decide([PairedSample(spec, "qa", s.baseline, s.current)])
    assert d.decision == "ok" and d.p_value == 1.0


def test_mde_is_the_drop_caught_with_80_percent_power() -> None:
    # Observed: 10 discordant pairs in 200 (5% noise), no net change.
    (d,) = decide([_binary(200, 5, 5, 140)])
    assert d.mde > TOL
    rng = np.random.default_rng(21)
    runs = 1000
    caught = sum(decide([_draw(rng, 200, 0.025 + d.mde, 0.025)])[0].fails for _ in range(runs))
    assert 0.75 <= caught / runs <= 0.85


@pytest.mark.slow
@pytest.mark.parametrize("n", [5, 10, 20])
def test_small_score_samples_keep_their_false_fail_rate(n: int) -> None:
    # The true mean change is exactly −tolerance (0.08 on a 1–5 scale): a fail is a false one.
    spec = MetricSpec("quality", "score", scale=(1.0, 5.0))
    rng = np.random.default_rng(22)
    runs, fails = 2000, 0
    for _ in range(runs):
        base = rng.integers(2, 6, size=n).astype(float)
        cur = base - 0.08 + rng.normal(0.0, 0.6, size=n)
        fails += decide([PairedSample(spec, "qa", tuple(base), tuple(cur))])[0].fails
    assert fails / runs <= 0.05 + 0.012  # SE about 0.005
