"""Agreement coefficients and calibrated pass rates against known answers."""

from __future__ import annotations

import random

import pytest

from pytest_llmfunnel.review.agreement import (
    Interval,
    bootstrap_interval,
    distrust,
    kappa_of_pairs,
    krippendorff_alpha,
    proportion,
)
from pytest_llmfunnel.review.calibrated_rate import humans_only, labels_needed, with_judge

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers, 12 units, values 1..5, None where an observer gave no value.
RELIABILITY_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_krippendorff_alpha_reproduces_the_published_example() -> None:
    units = list(zip(*RELIABILITY_DATA, strict=True))
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_krippendorff_alpha_matches_an_independent_implementation() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = random.Random(4)
    for level in ("nominal", "ordinal"):
        for _ in range(20):
            raters = [[rng.choice([1, 2, 3, None]) for _ in range(30)] for _ in range(3)]
            units = list(zip(*raters, strict=True))
            ours = krippendorff_alpha(units, level)
            data = [[float("nan") if v is None else v for v in row] for row in raters]
            theirs = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
            assert ours == pytest.approx(theirs, abs=1e-12)


def test_undefined_coefficients_are_none_not_perfect() -> None:
    assert krippendorff_alpha([(1, 1), (1, 1)]) is None  # no variation at all
    assert krippendorff_alpha([(1, None)]) is None  # nothing pairable
    assert kappa_of_pairs([(True, True), (True, True)]) is None
    assert krippendorff_alpha([(1, 1), (2, 2), (1, 1)]) == pytest.approx(1.0)


def test_bootstrap_interval_is_seeded_and_covers_the_truth() -> None:
    # Kappa of two raters who agree with prob 0.8 beyond independent 50/50 labels:
    # p_o = 0.8 + 0.2 * 0.5 = 0.9, p_e = 0.5, kappa = 0.8.
    covered = 0
    for seed in range(60):
        rng = random.Random(seed)
        pairs = []
        for _ in range(150):
            a = rng.random() < 0.5
            pairs.append((a, a if rng.random() < 0.8 else rng.random() < 0.5))
        bounds = bootstrap_interval(pairs, kappa_of_pairs, seed=seed, resamples=200)
        assert bounds is not None
        covered += bounds[0] <= 0.8 <= bounds[1]
    assert 0.86 <= covered / 60 <= 1.0
    same = [(True, False), (True, True), (False, False)] * 5
    assert bootstrap_interval(same, kappa_of_pairs, seed=1) == \
        bootstrap_interval(same, kappa_of_pairs, seed=1)


def test_a_judge_is_distrusted_when_kappa_reaches_zero_or_accuracy_is_low() -> None:
    good = proportion(90, 100)
    assert distrust(Interval(0.6, 0.4, 0.75), good, 0.7) is None
    assert "does not rule out chance" in str(distrust(Interval(0.2, -0.05, 0.4), good, 0.7))
    assert "less often than chance" in str(distrust(Interval(-0.2, -0.4, -0.05), good, 0.7))
    assert "below the floor 70%" in str(distrust(Interval(0.6, 0.4, 0.75), proportion(6, 10), 0.7))


def test_labelling_every_output_leaves_no_uncertainty_about_these_outputs() -> None:
    census = humans_only([1.0, 0.0, 1.0, 1.0], 4)
    assert (census.lo, census.estimate, census.hi) == (0.75, 0.75, 0.75)
    aided = with_judge([1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 1.0], [])
    assert aided.half_width == 0.0 and aided.estimate == pytest.approx(0.75)


def test_the_finite_population_correction_narrows_with_the_labelled_share() -> None:
    labels = [1.0] * 70 + [0.0] * 30
    small_share = humans_only(labels, 10_000)
    half_share = humans_only(labels, 200)
    assert half_share.half_width < small_share.half_width
    # Wilson on the effective n = n / (1 - n/N): at half the population, n_eff = 200.
    assert half_share.half_width == pytest.approx(proportion(140, 200).half_width, rel=1e-9)


def test_an_anti_correlated_judge_helps_as_much_as_a_correlated_one() -> None:
    rng = random.Random(7)
    y = [float(rng.random() < 0.6) for _ in range(2000)]
    right = [v if rng.random() < 0.8 else float(rng.random() < 0.6) for v in y]
    wrong = [1.0 - v for v in right]
    labelled = range(200)
    rest = range(200, 2000)
    for judged in (right, wrong):
        aided = with_judge([y[i] for i in labelled], [judged[i] for i in labelled],
                           [judged[i] for i in rest])
        humans = humans_only([y[i] for i in labelled], 2000)
        assert aided.half_width < 0.8 * humans.half_width
        assert aided.lo <= sum(y) / 2000 <= aided.hi
    lam = with_judge([y[i] for i in labelled], [wrong[i] for i in labelled],
                     [wrong[i] for i in rest]).lam
    assert lam is not None and lam < 0


def test_labels_needed_inverts_the_width_formula() -> None:
    humans = humans_only([1.0] * 60 + [0.0] * 40, 1000)
    assert labels_needed(humans, humans.half_width) == 100
    assert labels_needed(humans, humans.half_width / 2) > 300  # type: ignore[operator]
    assert labels_needed(humans, 0.0) is None


def test_labels_that_leave_no_residual_make_the_judge_aided_interval_claim_nothing() -> None:
    # People and judge agree on all 40 labelled outputs: nothing measures the judge's error.
    labels = [1.0] * 30 + [0.0] * 10
    aided = with_judge(labels, labels, [1.0] * 160)
    assert (aided.lo, aided.hi) == (0.0, 1.0)
    assert humans_only(labels, 200).half_width < aided.half_width
