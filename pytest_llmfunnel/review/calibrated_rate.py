"""The pass rate of the judged outputs, from human labels, with and without the judge's help.

The target is the pass rate of **these N outputs** (the dataset at hand), as
people would label them. A uniform random sample of n of them is labelled;
the judge has a verdict on all N. Because the population is finite and the
labelled outputs are known exactly, only the unlabelled N − n need estimating,
which is what makes the intervals honest when a large share is labelled (with
every output labelled the rate is known, and the interval has width 0).

* :func:`humans_only`: the labelled mean. Its variance carries the
  finite-population correction (1 − n/N); for 0/1 labels the interval is
  Wilson's with the effective sample size n / (1 − n/N).
* :func:`with_judge`: the regression (difference) estimator of survey
  sampling, which is what prediction-powered inference (PPI++) reduces to for
  a finite population::

      θ̂ = ( Σ_labelled y + Σ_unlabelled λ·ŷ + (N − n)·mean_labelled(y − λ·ŷ) ) / N
      Var(θ̂) = (1 − n/N) · S²_e / n,     e = y − λ·ŷ

  with λ the least-squares slope Cov(y, ŷ) / Var(ŷ) on the labelled outputs,
  not clipped: a judge that is reliably wrong (anti-correlated) helps as much
  as one that is reliably right, and a useless one gets λ ≈ 0. S²_e uses
  n − 2 degrees of freedom (one for the mean, one for λ) and the interval the
  t quantile with as many.

The caller (:mod:`pytest_llmfunnel.review.calibration`) never shows a judge-aided
interval wider than the humans-only one: when the judge does not narrow it,
the humans-only interval is the answer and the report says so.

For the population the outputs are a sample of (future outputs of the same
system) the interval is wider: the judged outputs themselves vary. The reports
use this module's target and say so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmfunnel import stats
from pytest_llmfunnel.review.agreement import Interval, proportion
from pytest_llmfunnel.review.calibration import (
    MIN_LABELLED,
    decided_stage,
    grouped_labels,
    index_outputs,
)
from pytest_llmfunnel.review.slice import Label, Record, ReviewSlice, match_labels, rubric_stages


@dataclass(frozen=True)
class RateInterval:
    """An estimated pass rate of N outputs with its two-sided interval.

    ``lam`` is the judge's weight (None for humans only).
    """

    estimate: float
    lo: float
    hi: float
    labelled: int
    population: int
    lam: float | None = None

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


def _check(n: int, big_n: int) -> None:
    if n < 1:
        raise ValueError("a pass-rate estimate needs at least one labelled output")
    if big_n < n:
        raise ValueError(f"{n} labelled outputs out of only {big_n}: the population is too small")


def humans_only(labels: Sequence[float], population: int, alpha: float = 0.05) -> RateInterval:
    """The labelled outputs' mean with a finite-population interval.

    Args:
        labels: one value per labelled output in [0, 1] (a share of
            annotators, so ties count 0.5).
        population: N, every output the judge decided.
    """
    n, big_n = len(labels), population
    _check(n, big_n)
    mean = statistics.fmean(labels)
    fpc = 1.0 - n / big_n
    if fpc <= 0.0:
        return RateInterval(mean, mean, mean, n, big_n)
    if all(v in (0.0, 1.0) for v in labels):
        effective = n / fpc
        lo, hi = stats.wilson_interval(mean * effective, effective, 1.0 - alpha)
        return RateInterval(mean, lo, hi, n, big_n)
    if n < 2:
        return RateInterval(mean, 0.0, 1.0, n, big_n)
    variance = statistics.variance(labels) * fpc / n
    half = stats.t_ppf(1.0 - alpha / 2.0, n - 1) * math.sqrt(variance)
    return RateInterval(mean, max(0.0, mean - half), min(1.0, mean + half), n, big_n)


def with_judge(
    labels: Sequence[float],
    judged_labelled: Sequence[float],
    judged_unlabelled: Sequence[float],
    alpha: float = 0.05,
) -> RateInterval:
    """The regression estimator of the N outputs' pass rate (see the module docstring).

    Args:
        labels: human values of the n labelled outputs.
        judged_labelled: the judge's 0/1 verdict on the same outputs, in order.
        judged_unlabelled: the judge's verdicts on the other N − n outputs.
    """
    n = len(labels)
    if n != len(judged_labelled):
        raise ValueError("each labelled output needs both a label and a judge verdict")
    big_n = n + len(judged_unlabelled)
    _check(n, big_n)
    if n < 3:
        raise ValueError(f"the judge-aided estimate needs at least 3 labelled outputs, got {n}")
    var_f = statistics.variance(judged_labelled)
    lam = statistics.covariance(labels, judged_labelled) / var_f if var_f > 0 else 0.0
    residuals = [y - lam * f for y, f in zip(labels, judged_labelled, strict=True)]
    correction = statistics.fmean(residuals)
    unlabelled = len(judged_unlabelled)
    estimate = (math.fsum(labels) + lam * math.fsum(judged_unlabelled)
                + unlabelled * correction) / big_n
    if unlabelled == 0:
        return RateInterval(estimate, estimate, estimate, n, big_n, lam)
    mean_e = correction
    s2 = math.fsum((e - mean_e) ** 2 for e in residuals) / (n - 2)
    if s2 == 0.0:
        # The labels leave no residual to measure the judge's error by (people and judge
        # agreed, or disagreed, on every labelled output): the data cannot say how wrong
        # the judge is elsewhere, so this interval claims nothing.
        return RateInterval(estimate, 0.0, 1.0, n, big_n, lam)
    variance = (1.0 - n / big_n) * s2 / n
    half = stats.t_ppf(1.0 - alpha / 2.0, n - 2) * math.sqrt(variance)
    return RateInterval(estimate, max(0.0, estimate - half), min(1.0, estimate + half),
                        n, big_n, lam)


def labels_needed(humans: RateInterval, target_half_width: float) -> int | None:
    """About how many labels humans alone would need for ``target_half_width`` on N outputs.

    From the humans-only interval's width at its n (the width scales with
    sqrt((1 − n/N)/n)); None when it cannot be said (no width to scale).
    """
    n, big_n = humans.labelled, humans.population
    if humans.half_width <= 0.0 or target_half_width <= 0.0:
        return None
    # half = c * sqrt(1/n - 1/N): solve for the n that gives the target half width.
    per = humans.half_width ** 2 / (1.0 / n - 1.0 / big_n)
    needed = 1.0 / (target_half_width ** 2 / per + 1.0 / big_n)
    return min(big_n, max(n, math.ceil(needed)))


@dataclass(frozen=True)
class Estimate:
    """A judge stage's pass rate over its judged outputs, and the human effort behind it.

    ``calibrated`` is the interval to report: ``with_judge`` when the judge
    narrowed the humans-only interval, else ``humans_only`` (``judge_helped``
    says which). Intervals are for the pass rate of these ``cases`` outputs.
    """

    stage: str
    cases: int
    labelled: int
    judge_only: Interval
    humans_only: RateInterval | None
    with_judge: RateInterval | None
    calibrated: RateInterval | None
    judge_helped: bool = False
    targeted_unused: int = 0
    audit_unlabelled: int = 0
    warning: str | None = None

    @property
    def lam(self) -> float | None:
        return self.with_judge.lam if self.with_judge is not None else None

    @property
    def labels_for_same_width(self) -> int | None:
        """About how many labels humans alone would need for the reported width."""
        if self.humans_only is None or self.calibrated is None or not self.judge_helped:
            return None
        return labels_needed(self.humans_only, self.calibrated.half_width)


def calibrated_estimates(
    records: Sequence[Record],
    labels: Iterable[Label],
    review: ReviewSlice | None,
    *,
    thresholds: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> list[Estimate]:
    """Each rubric judge stage's pass rate: judge only, humans only, humans with the judge.

    The population is the outputs the judge decided (errors and cases that
    never reached the judge are out). Human labels count only for outputs in
    the slice's uniform audit sample, which stays a uniform sample of that
    population; the judge's verdicts on every other output are the
    unlabelled part (:func:`pytest_llmfunnel.review.calibrated_rate.with_judge`).
    Without ``review`` the labels' own ``audit`` flags (the file's column) say
    which outputs were in the audit sample; unlabelled audit outputs then
    cannot be counted.
    """
    labels = list(labels)
    match = match_labels(labels, records)
    index = index_outputs(records)
    if review is not None:
        audit = review.audit_keys()
    else:
        audit = {(x.case, x.variant, x.output_hash) for x in labels if x.audit}
    result = []
    for name in rubric_stages(records):
        decided = {key: decided_stage(r, name) for key, r in index.items()}
        yhat = {key: float(s.status == "passed") for key, s in decided.items() if s}
        big_n = len(yhat)
        if big_n == 0:
            continue
        grouped = grouped_labels(match.current, index, name, thresholds or {})
        human = {key: sum(v for _, v in votes) / len(votes)
                 for key, (votes, _) in grouped.items() if key in yhat}
        labelled = sorted(key for key in human if key in audit)
        n = len(labelled)
        judge_only = proportion(int(sum(yhat.values())), big_n, 1.0 - alpha)
        y = [human[key] for key in labelled]
        humans = humans_only(y, big_n, alpha) if y else None
        aided = None
        if n >= 3:
            chosen = set(labelled)
            rest = [v for key, v in yhat.items() if key not in chosen]
            aided = with_judge(y, [yhat[k] for k in labelled], rest, alpha)
        helped = aided is not None and humans is not None and aided.half_width < humans.half_width
        missing = sum(key in audit and key not in human for key in yhat)
        warning = None
        if n < MIN_LABELLED:
            warning = (f"only {n} audit-sample outputs labelled; label at least "
                       f"{MIN_LABELLED} of the audit sample")
        elif missing:
            warning = (f"{missing} audit-sample outputs have no label; unlabelled audit "
                       "cases can bias the estimate if they are harder than the rest")
        result.append(Estimate(
            name, big_n, n, judge_only, humans, aided, aided if helped else humans,
            judge_helped=helped, targeted_unused=len(human) - n, audit_unlabelled=missing,
            warning=warning,
        ))
    return result


