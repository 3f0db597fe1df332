"""Judge calibration against human labels: every number against a known answer."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import numpy as np
import pytest

from pytest_llmfunnel.calibration import (
    calibrate,
    calibrated_estimates,
    calibration_lines,
    calibration_markdown,
    light_kappa,
)
from pytest_llmfunnel.review import Label, ReviewItem, ReviewSlice, output_hash


def judge(score: float, threshold: float = 4.0, name: str = "faith") -> dict[str, Any]:
    passed = score >= threshold
    return {"stage": name, "kind": "judge", "status": "passed" if passed else "failed",
            "gating": False, "must": False, "score": score, "samples": [score],
            "reason": f"score {score:g} {'>=' if passed else '<'} threshold {threshold:g}: ok"}


def record(case: str, *stages: dict[str, Any]) -> dict[str, Any]:
    return {"dataset": "d", "case": case, "variant": "default", "output": f"out {case}",
            "promoted": True, "dropped_at": None, "error": None, "stages": list(stages)}


def label(case: str, passed: bool | None = None, score: float | None = None,
          annotator: str = "ann", stage: str = "faith", output: str | None = None) -> Label:
    digest = output_hash(output if output is not None else f"out {case}")
    return Label(case, "default", digest, stage, passed, score, annotator, source=f"f:{case}")


def confusion(tp: int, fn: int, fp: int, tn: int) -> tuple[list[dict[str, Any]], list[Label]]:
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
    assert cal.kappa == pytest.approx(0.4)
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
    assert cal.weighted_kappa == pytest.approx(0.8)
    # Pass at >= 3: judge F F P, human F P P.
    assert cal.accuracy is not None and cal.accuracy.estimate == pytest.approx(2 / 3)
    unknown = [dict(records[0], stages=[{**judge(1), "reason": "unparsed"}])]
    with pytest.raises(ValueError, match="threshold is unknown; pass thresholds="):
        calibrate(unknown, [label("c1", score=1)])
    (cal,) = calibrate(unknown, [label("c1", score=1)], thresholds={"faith": 1})
    assert cal.accuracy is not None and cal.accuracy.estimate == 0.0  # judge fails, human 1 >= 1
    # Labels of outputs the judge did not decide (an error verdict) are not compared.
    errored = [dict(records[0], stages=[{**judge(1), "status": "error", "reason": "timeout"}])]
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
    assert cal.annotator_kappa == pytest.approx(0.5) and cal.multi_annotated == 4
    # Majority of two annotators: c0 pass; c1 tie (left out); c2, c3 fail.
    assert cal.labelled == 3 and cal.ties == 1


def test_stale_labels_are_counted_not_used() -> None:
    records, labels = confusion(tp=3, fn=0, fp=0, tn=0)
    labels.append(label("c0", False, annotator="late", output="an older output"))
    (cal,) = calibrate(records, labels)
    assert cal.stale == 1 and cal.labelled == 3 and cal.kappa == 1.0
    assert any("1 stale labels ignored" in line for line in calibration_lines([cal]))


def test_position_consistency_of_a_pairwise_judge() -> None:
    def versus(samples: list[float]) -> dict[str, Any]:
        return {"stage": "versus", "kind": "judge", "status": "measured", "score": 0.0,
                "samples": samples, "reason": ""}
    records = [record(f"c{i}", versus(s)) for i, s in
               enumerate([[1.0, 1.0], [-1.0, -1.0], [0.0, 0.0], [1.0, -1.0]])]
    (cal,) = calibrate(records, [])
    assert cal.pairwise and cal.position_consistency is not None
    assert cal.position_consistency.estimate == pytest.approx(0.75)


def audit_slice(records: list[dict[str, Any]], audit: set[str]) -> ReviewSlice:
    items = tuple(ReviewItem(r, ("audit",), r["case"] in audit,
                             len(audit) / len(records) if r["case"] in audit else None)
                  for r in records if r["case"] in audit)
    return ReviewSlice(items, len(records), len(audit), 0)


def numpy_ppi(y: np.ndarray, yh_lab: np.ndarray, yh_unl: np.ndarray) -> tuple[float, float]:
    """Cross-fitted PPI++ with power-tuned lambda, written out in numpy.

    Angelopoulos et al. 2023; each parity fold's lambda is tuned on the other fold.
    """
    n, big_n = len(y), len(yh_unl)

    def tuned(idx: np.ndarray) -> float:
        everything = np.concatenate([yh_lab[idx], yh_unl])
        lam = np.cov(y[idx], yh_lab[idx])[0, 1] / ((1 + n / big_n) * everything.var(ddof=1))
        return float(np.clip(lam, 0, 1))

    even, odd = np.arange(0, n, 2), np.arange(1, n, 2)
    lams = np.where(np.arange(n) % 2 == 0, tuned(odd), tuned(even))
    lam = float(lams.mean())
    rect = y - lams * yh_lab
    estimate = rect.mean() + lam * yh_unl.mean()
    var = lam**2 * yh_unl.var(ddof=1) / big_n + rect.var(ddof=1) / n
    return float(estimate), 1.959963984540054 * math.sqrt(var)


def simulated(n_cases: int, n_audit: int, rho: float, seed: int) -> tuple[
        list[dict[str, Any]], list[Label], ReviewSlice, set[str]]:
    rng = random.Random(seed)
    records, labels, audit = [], [], set(rng.sample(range(n_cases), n_audit))
    for i in range(n_cases):
        human = rng.random() < 0.7
        judged = human if rng.random() < rho else rng.random() < 0.7
        records.append(record(f"c{i}", judge(5 if judged else 2)))
        if i in audit:
            labels.append(label(f"c{i}", human))
    names = {f"c{i}" for i in audit}
    return records, labels, audit_slice(records, names), names


def test_estimates_match_a_numpy_closed_form() -> None:
    records, labels, review, names = simulated(400, 60, 0.8, seed=3)
    # Targeted labels (outside the audit sample) must change nothing.
    extra = [label(r["case"], False) for r in records if r["case"] not in names][:20]
    (est,) = calibrated_estimates(records, labels + extra, review)
    assert est.cases == 400 and est.labelled == 60 and est.targeted_unused == 20
    yhat = {r["case"]: float(r["stages"][0]["status"] == "passed") for r in records}
    y = np.array([float(bool(x.passed)) for x in sorted(labels, key=lambda x: x.case)])
    lab = sorted(names)
    expected, half = numpy_ppi(y, np.array([yhat[c] for c in lab]),
                               np.array([v for c, v in yhat.items() if c not in names]))
    assert est.ppi is not None and est.ppi.estimate == pytest.approx(expected, rel=1e-12)
    assert est.ppi.half_width == pytest.approx(half, rel=1e-9)
    k = int(sum(yhat.values()))
    assert est.judge_only.estimate == pytest.approx(k / 400)
    assert est.humans_only is not None and est.humans_only.estimate == pytest.approx(y.mean())
    assert est.ppi.half_width < est.humans_only.half_width
    assert est.warning is None


def test_ppi_covers_the_truth_in_a_small_simulation() -> None:
    # P(human pass) = 0.7 in every case, so the truth is 0.7; 200 runs, 95% intervals.
    covered = sum(
        est.ppi.lo <= 0.7 <= est.ppi.hi  # type: ignore[union-attr]
        for seed in range(200)
        for est in calibrated_estimates(*simulated(300, 60, 0.6, seed)[:3])
    )
    assert 0.90 <= covered / 200 <= 0.99


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
    for r in records:
        r["stages"][0]["stage"] = "evil|<b>\nname"
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
    assert "accuracy: 66.7% [" in text and "kappa: 0.33" in text
    assert "6 of 9 cases labelled; with humans only the interval would have been ±" in text
