"""Judge calibration against human labels: every number against a known answer."""

from __future__ import annotations

import math
import random
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.report.calibration import calibration_lines, calibration_markdown
from pytest_llmfunnel.review.calibrated_rate import calibrated_estimates
from pytest_llmfunnel.review.calibration import calibrate, light_kappa
from pytest_llmfunnel.review.slice import Label, ReviewItem, ReviewSlice, output_hash
from tests.support.sample_records import as_record


def judge(score: float, threshold: float = 4.0, name: str = "faith") -> dict[str, Any]:
    passed = score >= threshold
    return {"stage": name, "kind": "judge", "status": "passed" if passed else "failed",
            "gating": False, "must": False, "score": score, "samples": [score],
            "reason": f"score {score:g} {'>=' if passed else '<'} threshold {threshold:g}: ok",
            "threshold": threshold}


def record(case: str, *stages: dict[str, Any]) -> CaseRecord:
    return as_record({"dataset": "d", "case": case, "variant": "default",
                      "output": f"out {case}", "stages": list(stages)})


def label(case: str, passed: bool | None = None, score: float | None = None,
          annotator: str = "ann", stage: str = "faith", output: str | None = None) -> Label:
    digest = output_hash(output if output is not None else f"out {case}")
    return Label(case, "default", digest, stage, passed, score, annotator, source=f"f:{case}")


def confusion(tp: int, fn: int, fp: int, tn: int) -> tuple[list[CaseRecord], list[Label]]:
    """Records and labels with a given judge (rows) versus human (columns) table."""
    records, labels = [], []
    cells = [(True, True)] * tp + [(False, True)] * fn + [(True, False)] * fp + \
        [(False, False)] * tn
    for i, (judge_pass, human_pass) in enumerate(cells):
        records.append(record(f"c{i}", judge(5 if judge_pass else 2)))
        labels.append(label(f"c{i}", human_pass))
    return records, labels


def test_agreement_numbers_by_hand() -> None:
    records, labels = confusion(tp=4, fn=1, fp=2, tn=3)
    (cal,) = calibrate(records, labels)
    assert cal.labelled == 10
    assert cal.accuracy is not None and cal.accuracy.estimate == pytest.approx(0.7)
    # Wilson 95% for 7/10 (Newcombe 1998, table I): 0.3968 to 0.8922.
    assert (cal.accuracy.lo, cal.accuracy.hi) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    assert cal.true_pass_rate is not None and cal.true_pass_rate.estimate == pytest.approx(0.8)
    assert cal.true_fail_rate is not None and cal.true_fail_rate.estimate == pytest.approx(0.6)
    # p_o = 0.7; p_e = 0.6 * 0.5 + 0.4 * 0.5 = 0.5; kappa = 0.2 / 0.5.
    assert cal.kappa is not None and cal.kappa.estimate == pytest.approx(0.4)
    assert cal.kappa.lo < 0.4 < cal.kappa.hi
    assert cal.weighted_kappa is None  # humans gave pass/fail, not scores
    assert cal.warning is not None and "only 10 labelled" in cal.warning


def test_no_warning_with_enough_precise_labels() -> None:
    records, labels = confusion(tp=50, fn=3, fp=2, tn=45)
    (cal,) = calibrate(records, labels)
    assert cal.warning is None and cal.accuracy is not None
    assert cal.accuracy.estimate == pytest.approx(0.95) and cal.accuracy.half_width < 0.15


def test_weighted_kappa_on_scores_and_threshold_from_the_record() -> None:
    # Judge 1, 2, 3 vs human 1, 3, 3 on categories 1..3, quadratic weights:
    # observed 0.25, expected 3.75 / 3 = 1.25, kappa = 1 - 0.25 / 1.25 = 0.8.
    records = [record(f"c{s}", judge(s, threshold=3)) for s in (1, 2, 3)]
    labels = [label("c1", score=1), label("c2", score=3), label("c3", score=3)]
    (cal,) = calibrate(records, labels)
    assert cal.weighted_kappa is not None and cal.weighted_kappa.estimate == pytest.approx(0.8)
    # Pass at >= 3: judge F F P, human F P P.
    assert cal.accuracy is not None and cal.accuracy.estimate == pytest.approx(2 / 3)
    unknown = [record("c1", {**judge(1), "threshold": None})]  # the record does not say it
    with pytest.raises(ValueError, match="threshold is unknown; pass thresholds="):
        calibrate(unknown, [label("c1", score=1)])
    (cal,) = calibrate(unknown, [label("c1", score=1)], thresholds={"faith": 1})
    assert cal.accuracy is not None and cal.accuracy.estimate == 0.0  # judge fails, human 1 >= 1
    # Labels of outputs the judge did not decide (an error verdict) are not compared.
    errored = [record("c1", {**judge(1), "status": "error", "reason": "timeout"})]
    (cal,) = calibrate([*errored, *records[1:]], labels)
    assert cal.labelled == 2


def test_annotator_agreement_is_lights_kappa() -> None:
    a = [True, True, False, False]
    b = [True, False, False, False]  # with a: p_o 3/4, p_e 1/2, kappa 1/2
    c = [True, True, True, False]  # with a: p_o 3/4, p_e 1/2, kappa 1/2; with b: 0.2
    items = [[("a", x), ("b", y), ("c", z)] for x, y, z in zip(a, b, c, strict=True)]
    # b vs c: p_o 2/4; p_b = 1/4, p_c = 3/4; p_e = 3/16 + 3/16 = 3/8; (1/2 - 3/8) / (5/8) = 0.2.
    assert light_kappa(items) == pytest.approx((0.5 + 0.5 + 0.2) / 3)
    assert light_kappa([[("a", True)], [("b", False)]]) is None
    records = [record(f"c{i}", judge(5)) for i in range(4)]
    labels = [label(f"c{i}", x, annotator=n) for n, col in (("a", a), ("b", b))
              for i, x in enumerate(col)]
    (cal,) = calibrate(records, labels)
    assert cal.annotator_kappa is not None and cal.multi_annotated == 4
    assert cal.annotator_kappa.estimate == pytest.approx(0.5)
    # Majority of two annotators: c0 pass; c1 tie (left out); c2, c3 fail.
    assert cal.labelled == 3 and cal.ties == 1


def test_stale_labels_are_counted_not_used() -> None:
    records, labels = confusion(tp=3, fn=0, fp=0, tn=0)
    labels.append(label("c0", False, annotator="late", output="an older output"))
    (cal,) = calibrate(records, labels)
    assert cal.stale == 1 and cal.labelled == 3 and cal.kappa is None  # one category only
    assert any("1 stale label ignored" in line for line in calibration_lines([cal]))


def audit_slice(records: list[CaseRecord], audit: set[str]) -> ReviewSlice:
    items = tuple(ReviewItem(r, ("audit",), r.case in audit,
                             len(audit) / len(records) if r.case in audit else None)
                  for r in records if r.case in audit)
    return ReviewSlice(items, len(records), len(audit), 0)


def numpy_regression(y: np.ndarray, yh_lab: np.ndarray, yh_unl: np.ndarray
                     ) -> tuple[float, float]:
    """The survey-sampling regression estimator of a finite population's mean, in numpy.

    Cochran, Sampling Techniques (1977), section 7.1: slope by least squares on the
    sample, variance (1 - n/N) s_e^2 / n with n - 2 degrees of freedom, t quantile.
    """
    n, big_n = len(y), len(y) + len(yh_unl)
    lam = np.cov(y, yh_lab)[0, 1] / yh_lab.var(ddof=1)
    resid = y - lam * yh_lab
    total = y.sum() + lam * yh_unl.sum() + len(yh_unl) * resid.mean()
    s2 = ((resid - resid.mean()) ** 2).sum() / (n - 2)
    from scipy import stats as sps
    half = sps.t.ppf(0.975, n - 2) * math.sqrt((1 - n / big_n) * s2 / n)
    return float(total / big_n), float(half)


def simulated(n_cases: int, n_audit: int, rho: float, seed: int) -> tuple[
        list[CaseRecord], list[Label], ReviewSlice, set[str], float]:
    """Records, audit labels, the slice, its case ids, and the true pass rate of these cases."""
    rng = random.Random(seed)
    records, labels, audit = [], [], set(rng.sample(range(n_cases), n_audit))
    passes = 0
    for i in range(n_cases):
        human = rng.random() < 0.7
        passes += human
        judged = human if rng.random() < rho else rng.random() < 0.7
        records.append(record(f"c{i}", judge(5 if judged else 2)))
        if i in audit:
            labels.append(label(f"c{i}", human))
    names = {f"c{i}" for i in audit}
    return records, labels, audit_slice(records, names), names, passes / n_cases


def test_estimates_match_a_numpy_closed_form() -> None:
    records, labels, review, names, _ = simulated(400, 60, 0.8, seed=3)
    # Targeted labels (outside the audit sample) must change nothing.
    extra = [label(r.case, False) for r in records if r.case not in names][:20]
    (est,) = calibrated_estimates(records, labels + extra, review)
    assert est.cases == 400 and est.labelled == 60 and est.targeted_unused == 20
    yhat = {r.case: float(r.stages[0].status == "passed") for r in records}
    y = np.array([float(bool(x.passed)) for x in sorted(labels, key=lambda x: x.case)])
    lab = sorted(names)
    expected, half = numpy_regression(y, np.array([yhat[c] for c in lab]),
                                      np.array([v for c, v in yhat.items() if c not in names]))
    assert est.with_judge is not None and est.judge_helped and est.calibrated is est.with_judge
    assert est.with_judge.estimate == pytest.approx(expected, rel=1e-12)
    assert est.with_judge.half_width == pytest.approx(half, rel=1e-9)
    k = int(sum(yhat.values()))
    assert est.judge_only.estimate == pytest.approx(k / 400)
    assert est.humans_only is not None and est.humans_only.estimate == pytest.approx(y.mean())
    assert est.with_judge.half_width < est.humans_only.half_width
    assert est.warning is None


def test_the_reported_interval_covers_the_pass_rate_of_these_cases() -> None:
    # 300 cases, 60 labelled (20%), 95% intervals, 300 seeded runs: the target is the
    # pass rate of the 300 cases themselves, which the finite-population interval covers.
    covered = 0
    for seed in range(300):
        records, labels, review, _, truth = simulated(300, 60, 0.6, seed)
        (est,) = calibrated_estimates(records, labels, review)
        assert est.calibrated is not None
        covered += est.calibrated.lo <= truth <= est.calibrated.hi
    assert 0.92 <= covered / 300 <= 0.98


def test_ties_count_half_and_missing_audit_labels_warn() -> None:
    records = [record(f"c{i}", judge(5)) for i in range(40)]
    audit = {f"c{i}" for i in range(35)}
    labels = [label(f"c{i}", True) for i in range(33)]
    labels += [label("c33", True, annotator="a"), label("c33", False, annotator="b")]
    (est,) = calibrated_estimates(records, labels, audit_slice(records, audit))
    assert est.labelled == 34 and est.audit_unlabelled == 1
    assert est.humans_only is not None
    assert est.humans_only.estimate == pytest.approx(33.5 / 34)
    assert est.warning is not None and "1 audit-sample outputs have no label" in est.warning


def test_rendering_escapes_untrusted_text() -> None:
    records, labels = confusion(tp=2, fn=1, fp=1, tn=2)
    records += [record(f"x{i}", judge(5)) for i in range(3)]
    records = [replace(r, stages=(replace(r.stages[0], stage="evil|<b>\nname"),))
               for r in records]
    labels = [Label(x.case, x.variant, x.output_hash, "evil|<b>\nname", x.passed, None, "a")
              for x in labels]
    cals = calibrate(records, labels)
    ests = calibrated_estimates(records, labels, audit_slice(records, {x.case for x in labels}))
    lines = calibration_markdown(cals, ests)
    table = [line for line in lines if line.startswith("| evil")]
    headers = [line for line in lines if line.startswith("| stage")]
    cells = [len(re.split(r"(?<!\\)\|", line)) for line in table]
    assert cells == [len(re.split(r"(?<!\\)\|", h)) for h in headers]
    assert not any("<b>" in line for line in lines)
    terminal = calibration_lines(cals, ests)
    assert all("\n" not in line for line in terminal)
    text = "\n".join(terminal)
    assert "accuracy: 66.7% [" in text and "kappa: 0.33 [" in text
    assert "6 of 9 outputs labelled (67%); pass rate ±" in text
