"""The gate's decisions: tests, Holm across pairs, tolerance, modes, edge cases."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as sps

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate import margin
from pytest_llmfunnel.gate.decision import GateDecision, MetricSpec, PairedSample, decide

PASS = MetricSpec("correct", "binary")
SCORE = MetricSpec("quality", "score", scale=(1.0, 5.0))


def binary_pair(
    n: int, worse: int, better: int, *, passing: int | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """n cases with ``worse`` pass→fail and ``better`` fail→pass flips."""
    passing = n // 2 if passing is None else passing
    rest_pass = passing - worse
    rest_fail = n - passing - better
    assert rest_pass >= 0 and rest_fail >= 0
    base = (1.0,) * worse + (0.0,) * better + (1.0,) * rest_pass + (0.0,) * rest_fail
    cur = (0.0,) * worse + (1.0,) * better + (1.0,) * rest_pass + (0.0,) * rest_fail
    return base, cur


def sample(
    spec: MetricSpec, dataset: str, base: tuple[float, ...], cur: tuple[float, ...]
) -> PairedSample:
    return PairedSample(metric=spec, dataset=dataset, baseline=base, current=cur)


def test_identical_runs_are_ok_with_p_one() -> None:
    base, cur = binary_pair(100, 0, 0)
    (d,) = decide([sample(PASS, "qa", base, cur)])
    assert d.decision == "ok" and not d.fails
    assert (d.p_value, d.p_adjusted, d.flips, d.diff) == (1.0, 1.0, (0, 0), 0.0)
    assert d.bound == pytest.approx(margin.tango_upper(0, 0, 100, 0.05), rel=1e-9)
    assert d.bound >= 1.0 - 0.05 ** (1.0 / 100)  # no flips: not a zero bound, nor below exact
    assert d.test == "tango-score"


def test_clear_binary_regression_reports_the_numbers_that_decided() -> None:
    base, cur = binary_pair(400, 30, 8, passing=300)
    (d,) = decide([sample(PASS, "qa", base, cur)])
    assert d.decision == "regressed" and d.fails
    assert d.flips == (30, 8)
    # Tango's score test of H0 Δ >= -0.02 (see test_margin.py for its known answers).
    assert d.p_value == pytest.approx(margin.tango_p_below(8, 30, 400, -0.02), rel=1e-12)
    assert d.p_value < 0.05
    assert d.p_adjusted == d.p_value and d.level == 0.05  # one comparison
    assert d.baseline_mean == 0.75 and d.current_mean == pytest.approx(0.75 - 22 / 400)
    assert d.diff == pytest.approx(-22 / 400)
    assert d.bound == pytest.approx(margin.tango_upper(8, 30, 400, 0.05), rel=1e-9)
    assert d.bound < -0.02
    assert "update the baseline" in d.message() and "30 cases that got worse" in d.message()


@pytest.mark.parametrize(("b", "c"), [(20, 10), (21, 9), (15, 3), (8, 8), (3, 12), (1, 0)])
@pytest.mark.parametrize("level", [0.05, 0.0125, 0.004])
@pytest.mark.parametrize("tol", [0.0, 0.02])
def test_the_bound_is_the_dual_of_its_p_value(b: int, c: int, level: float, tol: float) -> None:
    # With one gated pair the level is alpha itself.
    base, cur = binary_pair(200, b, c)
    spec = MetricSpec("correct", "binary", tolerance=tol)
    (d,) = decide([sample(spec, "qa", base, cur)], alpha=level)
    if d.decision == "improved":  # reports the improvement test and its lower bound
        assert d.bound > tol and d.p_value < level
    else:
        assert (d.bound < -tol) == (d.p_value < level) == (d.decision == "regressed")


def test_significant_drop_within_tolerance_is_ok() -> None:
    base, cur = binary_pair(20_000, 300, 100, passing=15_000)  # a 1-point drop
    (d,) = decide([sample(PASS, "qa", base, cur)])
    assert margin.tango_p_below(100, 300, 20_000, 0.0) < 1e-6  # a drop, surely...
    assert d.decision == "ok" and d.bound > -0.02  # ...but surely not one past 2 points
    assert "no drop beyond the tolerance shown" in d.reason


def test_improvement_uses_its_own_test_and_bound() -> None:
    base, cur = binary_pair(300, 4, 40)
    (d,) = decide([sample(PASS, "qa", base, cur)])
    assert d.decision == "improved" and not d.fails
    assert d.p_value == pytest.approx(margin.tango_p_above(40, 4, 300, 0.02))
    assert d.bound == pytest.approx(margin.tango_lower(40, 4, 300, 0.05), rel=1e-9)
    assert d.bound > 0.02  # lower bound of the gain clears the tolerance
    assert "gate later changes against this run, update the baseline" in d.message()


def test_holm_runs_across_every_gated_pair() -> None:
    pairs = [binary_pair(300, w, c) for w, c in [(35, 10), (20, 10), (12, 10), (3, 3)]]
    samples = [sample(PASS, f"ds{i}", *p) for i, p in enumerate(pairs)]
    decisions = decide(samples)
    flips = [(35, 10), (20, 10), (12, 10), (3, 3)]
    raw = [margin.tango_p_below(c, w, 300, -0.02) for w, c in flips]
    assert [d.p_value for d in decisions] == pytest.approx(raw)
    assert [d.p_adjusted for d in decisions] == pytest.approx(stats.holm(raw))
    assert [d.level for d in decisions] == pytest.approx([0.05 / 4, 0.05 / 3, 0.05 / 2, 0.05])
    assert decisions[0].decision == "regressed"
    assert decisions[1].decision == "ok"


def test_step_down_stop_is_named_in_the_reason() -> None:
    # Both p = 0.037 (b=22, c=10): the first misses 0.05/2, so the second cannot
    # be rejected although its own bound at 0.05 clears the tolerance.
    samples = [sample(PASS, name, *binary_pair(100, 22, 10)) for name in ("a", "b")]
    first, second = decide(samples)
    assert first.decision == second.decision == "ok"
    assert second.bound < -0.02 and second.p_adjusted >= 0.05
    assert "step-down stopped at a/correct" in second.reason
    assert "step-down" not in first.reason


def test_not_comparable_pairs_fail_and_stay_out_of_the_family() -> None:
    base, cur = binary_pair(300, 30, 10)
    alone = decide([sample(PASS, "qa", base, cur)])[0]
    decisions = decide(
        [
            sample(PASS, "qa", base, cur),
            sample(PASS, "empty", (), ()),
            sample(PASS, "ragged", (1.0, 0.0), (1.0,)),
        ]
    )
    assert decisions[0].p_adjusted == alone.p_adjusted
    assert decisions[1].decision == "not comparable" and decisions[1].fails
    assert "no cases in common" in decisions[1].reason
    assert "pair the values by case id" in decisions[2].reason
    assert math.isnan(decisions[2].diff)
    assert decisions[2].message().startswith("ragged/correct: not comparable")


def test_measured_only_metrics_never_fail_and_do_not_widen_holm() -> None:
    measured = MetricSpec("style", "binary", gated=False)
    base, cur = binary_pair(300, 30, 10)
    decisions = decide([sample(PASS, "qa", base, cur), sample(measured, "qa", base, cur)])
    assert decisions[0].p_adjusted == decisions[0].p_value  # m = 1
    assert decisions[1].decision == "regressed" and not decisions[1].fails
    assert "Measured only" not in decisions[0].message()


def _scores(n: int, shift: float, seed: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    rng = random.Random(seed)
    base = tuple(float(rng.randint(2, 5)) for _ in range(n))
    cur = tuple(b + shift + rng.gauss(0, 0.5) for b in base)
    return base, cur


@pytest.mark.parametrize("n", [80, 12, 3])
def test_scores_use_a_paired_t_test_of_the_tolerance_at_every_size(n: int) -> None:
    base, cur = _scores(n, -0.6, 1)
    (d,) = decide([sample(SCORE, "qa", base, cur)])
    diffs = np.subtract(cur, base)
    assert d.test == "paired-t"
    assert d.tolerance == pytest.approx(0.08)  # 0.02 of the 1-5 scale
    # H0 mean >= -tolerance: scipy's t-test of the shifted differences.
    shifted = sps.ttest_1samp(diffs + 0.08, 0.0, alternative="less").pvalue
    assert d.p_value == pytest.approx(shifted, rel=1e-9)
    se = float(sps.sem(diffs))
    assert d.bound == pytest.approx(diffs.mean() + sps.t.ppf(0.95, n - 1) * se, rel=1e-9)
    t_sum = sps.t.ppf(0.95, n - 1) + sps.t.ppf(0.8, n - 1)
    assert d.mde == pytest.approx(0.08 + t_sum * se, rel=1e-9)
    assert (d.decision == "regressed") == (d.bound < -0.08)


def test_score_tolerance_is_a_fraction_of_the_scale() -> None:
    spec = MetricSpec("quality", "score", tolerance=0.05, scale=(0.0, 10.0))
    small = decide([sample(spec, "qa", *_scores(500, -0.3, 4))])[0]  # 0.3 < 0.5 points
    large = decide([sample(spec, "qa", *_scores(500, -0.8, 4))])[0]
    assert small.decision == "ok" and small.bound > -0.5
    assert large.decision == "regressed"


def test_lower_is_better_metrics_are_mirrored() -> None:
    latency = MetricSpec("toxicity", "score", tolerance=0.1, higher_is_better=False)
    base, cur = _scores(60, +0.4, 5)  # values went up: worse
    (d,) = decide([sample(latency, "qa", base, cur)])
    assert d.decision == "regressed" and d.diff > 0
    assert d.bound > 0  # lower bound of the raw increase clears zero
    flag = MetricSpec("hallucinated", "binary", higher_is_better=False)
    base_b, cur_b = binary_pair(300, 5, 40)  # 40 cases turned 0 -> 1: worse
    (b,) = decide([sample(flag, "qa", base_b, cur_b)])
    assert b.decision == "regressed" and b.flips == (40, 5)


def test_degenerate_scores() -> None:
    (one,) = decide([sample(SCORE, "qa", (3.0,), (1.0,))])
    assert one.decision == "not comparable" and "at least 2" in one.reason
    constant = tuple([-1.0] * 40)
    (same,) = decide([sample(SCORE, "qa", tuple([4.0] * 40), tuple(4.0 + d for d in constant))])
    assert same.decision == "regressed" and same.p_value == 0.0


def test_invalid_inputs_raise_with_a_fix() -> None:
    with pytest.raises(ValueError, match="declare it kind='score'"):
        decide([sample(PASS, "qa", (0.5, 1.0), (1.0, 1.0))])
    with pytest.raises(ValueError, match="exclude errored cases"):
        decide([sample(SCORE, "qa", (math.nan, 1.0), (1.0, 1.0))])
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        MetricSpec("x", "binary", tolerance=-0.1)
    with pytest.raises(ValueError, match="alpha"):
        decide([], alpha=1.5)


def test_mde_warning_names_the_detectable_change_and_the_cases_needed() -> None:
    base, cur = binary_pair(40, 2, 1)
    (d,) = decide([sample(PASS, "qa", base, cur)])
    # Power of the tolerance test at the MDE is 80%, under the alternative's own
    # variance, a true drop seen through the judge's noise (3 flips in 40 fresh pairs).
    noise = margin.judge_noise(3, 40)
    assert 0 < noise < 0.05
    at_mde = margin.drop_flips(3 / 40, d.mde, noise)
    assert margin.tango_power(40, *at_mde, -0.02, 0.05) == pytest.approx(0.8)
    assert d.decision == "ok" and d.underpowered
    assert f"only from about {d.mde:.3g}" in d.reason
    need = margin.binary_cases_needed(*margin.drop_flips(3 / 40, 0.04, noise), -0.02, 0.05)
    assert need is not None and need > 40 and f"about {need} cases would resolve it" in d.reason


def test_non_inferiority_passes_a_large_stable_run() -> None:
    base, cur = binary_pair(3000, 10, 9, passing=2400)
    (d,) = decide([sample(PASS, "qa", base, cur)], mode="non-inferiority")
    assert d.decision == "ok" and d.bound > -0.02
    assert d.test == "tango-score"
    assert d.bound == pytest.approx(margin.tango_lower(9, 10, 3000, 0.05), rel=1e-9)
    assert d.p_value == pytest.approx(margin.tango_p_above(9, 10, 3000, -0.02))


def test_non_inferiority_refuses_too_few_cases() -> None:
    base, cur = binary_pair(30, 0, 0)  # even a perfect run cannot show non-inferiority
    (d,) = decide([sample(PASS, "qa", base, cur)], mode="non-inferiority")
    assert d.decision == "not comparable" and d.fails
    assert "too few cases for non-inferiority" in d.reason
    # No flips, no noise: the bound moves only with n, and 155 cases clear −τ
    # (an exact test would need 149: 0.98¹⁴⁹ < 0.05).
    assert "about 155 cases would resolve it" in d.reason


@pytest.mark.parametrize("n", [132, 154, 155, 170])
def test_the_cases_needed_without_flips_are_the_cases_that_decide(n: int) -> None:
    (d,) = decide([sample(PASS, "qa", *binary_pair(n, 0, 0))], mode="non-inferiority")
    if n < 155:
        assert d.decision == "not comparable" and "about 155 cases" in d.reason
    else:
        assert d.decision == "ok" and "cases would resolve" not in d.reason


def test_non_inferiority_fails_a_real_drop() -> None:
    base, cur = binary_pair(3000, 200, 80, passing=2400)
    (d,) = decide([sample(PASS, "qa", base, cur)], mode="non-inferiority")
    assert d.decision == "regressed" and d.bound < -0.02 and d.p_adjusted >= 0.05


def test_non_inferiority_for_lower_is_better_reports_an_upper_bound() -> None:
    spec = MetricSpec("refusals", "binary", higher_is_better=False)
    base, cur = binary_pair(3000, 9, 10, passing=600)  # 9 went 1->0 (better), 10 went 0->1
    (d,) = decide([sample(spec, "qa", base, cur)], mode="non-inferiority")
    assert d.decision == "ok" and d.flips == (10, 9)
    assert 0 < d.bound < 0.02  # upper bound of the raw increase stays under +tolerance
    assert "upper bound of the change" in d.reason and "margin +0.02" in d.reason


def _aa_session(rng: np.random.Generator, n: int, disc: float) -> list[PairedSample]:
    out = []
    for i in range(6):
        cells = rng.multinomial(n, [0.7 - disc / 2, disc / 2, disc / 2, 0.3 - disc / 2])
        both, worse, better, _ = (int(x) for x in cells)
        out.append(sample(PASS, f"ds{i}", *binary_pair(n, worse, better, passing=both + worse)))
    return out


def test_a_over_a_false_alarm_rate_is_controlled() -> None:
    rng = np.random.default_rng(2024)
    runs = 400
    fails = sum(any(d.fails for d in decide(_aa_session(rng, 150, 0.1))) for _ in range(runs))
    naive = 0
    assert fails / runs <= 0.05
    rng = np.random.default_rng(2024)
    for _ in range(runs):
        naive += any(sum(s.current) < sum(s.baseline) for s in _aa_session(rng, 150, 0.1))
    assert naive / runs > 0.5  # what the statistics protect against


def test_non_inferiority_at_the_margin_passes_rarely() -> None:
    rng = np.random.default_rng(7)
    runs, passes = 400, 0
    for _ in range(runs):  # true difference exactly -tolerance (-0.05)
        worse, better, *_ = rng.multinomial(1000, [0.1, 0.05, 0.85])
        base, cur = binary_pair(1000, int(worse), int(better), passing=600)
        d = decide(
            [sample(MetricSpec("x", "binary", tolerance=0.05), "qa", base, cur)],
            mode="non-inferiority",
        )[0]
        passes += not d.fails
    assert passes / runs <= 0.08


def test_decision_is_a_frozen_value() -> None:
    (d,) = decide([sample(PASS, "qa", *binary_pair(10, 0, 0))])
    assert isinstance(d, GateDecision)
    with pytest.raises(AttributeError):
        d.decision = "regressed"  # type: ignore[misc]
