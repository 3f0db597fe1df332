"""The regression gate's decision core: paired per-case values in, decisions out.

No file I/O and no pytest: the caller pairs the baseline's and the current
run's values case by case (errors already excluded) and gets one
:class:`GateDecision` per (dataset, metric).

How a decision is made (every gated pair of one call forms one family):

* Every test is one-sided and tests the tolerance τ itself, not "no change":
  pass/fail metrics with Tango's score test for paired proportions, scores
  with the paired t-test (at every sample size; see :mod:`pytest_llmfunnel.gate.margin`).
* **superiority** (default): *regressed* when the Holm-adjusted p-value of
  H0 Δ >= −τ (against H1 Δ < −τ) is below α, i.e. when the upper confidence
  bound of Δ at the comparison's Holm level lies below −τ. A true drop of
  exactly τ therefore fails at most α of the time. *improved* is the mirror
  image (H1 Δ > +τ) with its own Holm family. Anything else is *ok*.
* **non-inferiority**: a metric passes only when H0 Δ <= −τ is rejected (the
  lower bound clears −τ); otherwise *regressed*, or *not comparable* when the
  run is too small to show non-inferiority of an unchanged metric 80% of the
  time (the reason says how many cases would).

Units: ``tolerance`` is a fraction of the scale width for scores that declare
``scale`` (0.02 on a 1–5 scale = 0.08 points), so one tolerance reads the same
for pass rates and scores; ``diff``, ``bound`` and ``mde`` are reported in the
metric's own units, like the means they compare.

Bounds are taken at the Holm level of the comparison's rank, α/(m − rank),
the level its p-value is compared with, so the reported bound and adjusted
p-value agree; the one exception (Holm's step-down stopped at an earlier
comparison) is named in the reason.

``mde`` is the true drop the superiority test catches with 80% power at the
Bonferroni level α/m, computed under that alternative (the observed flips'
discordance kept, the drop seen through the judge's noise as measured on the
pairs whose output changed; for scores the observed SD). In non-inferiority
mode it is the smallest margin an unchanged metric is shown within 80% of the
time. A gated metric is *underpowered* when a drop of
twice its tolerance would be missed more than 20% of the time.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate.paired_tests import Tested, binary_test, score_test
from pytest_llmfunnel.wording import plural

Decision = Literal["ok", "improved", "regressed", "not comparable"]
Mode = Literal["superiority", "non-inferiority"]
UNDERPOWERED = 2.0  # a drop this many tolerances wide should be caught with POWER


@dataclass(frozen=True)
class MetricSpec:
    """A metric compared by the gate.

    ``tolerance`` is the smallest change that matters: a pass-rate fraction for
    binary metrics, a fraction of the scale width for scores with ``scale``,
    raw units for scores without one.
    """

    name: str
    kind: Literal["binary", "score"]
    tolerance: float = 0.02
    gated: bool = True
    higher_is_better: bool = True
    scale: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.tolerance >= 0:
            raise ValueError(f"metric {self.name!r}: tolerance must be >= 0, got {self.tolerance}")
        if self.scale is not None and not self.scale[1] > self.scale[0]:
            raise ValueError(f"metric {self.name!r}: scale must be (low, high), got {self.scale}")

    @property
    def tolerance_units(self) -> float:
        """The tolerance in the metric's own units."""
        if self.kind == "score" and self.scale is not None:
            return self.tolerance * (self.scale[1] - self.scale[0])
        return self.tolerance


@dataclass(frozen=True)
class PairedSample:
    """Baseline and current values of one metric on one dataset, aligned by case.

    ``unchanged`` counts the pairs whose output is the same on both sides: they
    keep their verdict and cannot flip, so the judge's noise is measured on
    the others (it only shapes the MDE, never the test).
    """

    metric: MetricSpec
    dataset: str
    baseline: tuple[float, ...]
    current: tuple[float, ...]
    unchanged: int = 0


@dataclass(frozen=True)
class GateDecision:
    """The verdict on one (dataset, metric) pair, with the numbers that decided it.

    ``diff`` is current − baseline; ``bound`` the one-sided confidence bound of
    that difference at ``level`` (upper bound for "worse", lower bound for
    "better" and for non-inferiority, mirrored for lower-is-better metrics);
    ``p_value``/``p_adjusted`` belong to the same test. ``flips`` is
    (worse, better) case counts for binary metrics, i.e. (pass→fail, fail→pass).
    Numbers are NaN when the pair is not comparable.
    """

    dataset: str
    metric: str
    n: int
    baseline_mean: float
    current_mean: float
    diff: float
    bound: float
    p_value: float
    p_adjusted: float
    mde: float
    decision: Decision
    reason: str
    test: str
    flips: tuple[int, int] | None
    gated: bool
    level: float
    tolerance: float
    mode: Mode = "superiority"

    @property
    def underpowered(self) -> bool:
        """True when this gated metric cannot resolve its tolerance (see :func:`underpowered`)."""
        return self.gated and underpowered(self.mde, self.tolerance, self.mode)

    @property
    def fails(self) -> bool:
        """True when this decision should fail the build."""
        return self.gated and self.decision in ("regressed", "not comparable")

    def message(self) -> str:
        """One line for a report: what happened and what to do next."""
        name = f"{self.dataset}/{self.metric}"
        if self.decision == "not comparable":
            return f"{name}: not comparable: {self.reason}"
        head = (
            f"{name}: {self.decision}: {self.baseline_mean:.4g} → {self.current_mean:.4g} "
            f"(diff {self.diff:+.4g}, bound {self.bound:+.4g} at level {self.level:.3g}, "
            f"p={self.p_value:.3g}, adjusted p={self.p_adjusted:.3g}, {self.test}): {self.reason}"
        )
        if self.decision == "regressed":
            worse = " the cases"
            if self.flips:
                worse = f" the {plural(self.flips[0], 'case')} that got worse"
            nxt = f"Look at{worse}; if the change is intended, update the baseline."
        elif self.decision == "improved":
            nxt = "To gate later changes against this run, update the baseline."
        elif not self.gated:
            nxt = "Measured only, not gated."
        else:
            nxt = ""
        return f"{head}. {nxt}" if nxt else head


def _test_sample(sample: PairedSample) -> Tested | str:
    """Per-sample statistics, or the reason the pair cannot be compared."""
    spec = sample.metric
    n = len(sample.baseline)
    if n != len(sample.current):
        return (
            f"baseline has {plural(n, 'case')} but current has {len(sample.current)}; "
            "pair the values by case id before gating"
        )
    if n == 0:
        return "no cases in common with the baseline"
    values = (*sample.baseline, *sample.current)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"{sample.dataset}/{spec.name}: values must be finite; "
            "exclude errored cases before gating"
        )
    sign = 1.0 if spec.higher_is_better else -1.0
    diffs = [sign * (c - b) for b, c in zip(sample.baseline, sample.current, strict=True)]
    if spec.kind == "binary":
        if any(v not in (0.0, 1.0) for v in values):
            raise ValueError(
                f"{sample.dataset}/{spec.name} is binary but has values "
                "other than 0 and 1; declare it kind='score'"
            )
        tested = binary_test(diffs, n, spec.tolerance_units, sample.unchanged)
    else:
        if n < 2:
            return "a score needs at least 2 paired cases to estimate its noise"
        tested = score_test(diffs, spec.tolerance_units)
    return replace(
        tested,
        baseline_mean=statistics.fmean(sample.baseline),
        current_mean=statistics.fmean(sample.current),
    )


@dataclass(frozen=True)
class _Holm:
    p_adjusted: float
    level: float
    stopped_at: int | None  # the earlier comparison where the step-down stopped


def _holm_family(pvalues: dict[int, float], alpha: float) -> dict[int, _Holm]:
    adjusted = dict(zip(pvalues, stats.holm(list(pvalues.values())), strict=True))
    order = sorted(pvalues, key=lambda i: pvalues[i])
    m = len(order)
    out: dict[int, _Holm] = {}
    stop: int | None = None
    for rank, i in enumerate(order):
        level = alpha / (m - rank)
        out[i] = _Holm(adjusted[i], level, stop)
        if stop is None and pvalues[i] >= level:
            stop = i
    return out


def decide(
    samples: Sequence[PairedSample],
    *,
    alpha: float = 0.05,
    mode: Mode = "superiority",
    seed: int = 0,
) -> list[GateDecision]:
    """Decide every (dataset, metric) pair; Holm runs across all gated pairs passed in.

    ``seed`` is accepted for callers of the seeded bootstrap this replaced; every
    test is now deterministic, so it changes nothing.
    """
    del seed
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if mode not in ("superiority", "non-inferiority"):
        raise ValueError(f"mode must be 'superiority' or 'non-inferiority', got {mode!r}")
    tested = [_test_sample(s) for s in samples]
    gated = [i for i, t in enumerate(tested) if isinstance(t, Tested) and samples[i].metric.gated]
    alpha_m = alpha / max(len(gated), 1)
    primary: dict[int, float] = {}
    improve: dict[int, float] = {}
    for i in gated:
        t = tested[i]
        assert isinstance(t, Tested)
        primary[i] = t.p_worse if mode == "superiority" else t.p_noninferior
        improve[i] = t.p_better
    holm_primary = _holm_family(primary, alpha)
    holm_improve = _holm_family(improve, alpha)
    names = [f"{s.dataset}/{s.metric.name}" for s in samples]
    return [
        _decide_one(
            samples[i], tested[i], mode, alpha, alpha_m,
            holm_primary.get(i), holm_improve.get(i), names,
        )
        for i in range(len(samples))
    ]


def _power_note(t: Tested, mode: Mode, tol: float, alpha_m: float, mde: float) -> str | None:
    """Why the metric cannot resolve its tolerance, with the cases it would need; or None."""
    if not underpowered(mde, tol, mode):
        return None
    shown = "inf" if math.isinf(mde) else f"{mde:.3g}"
    if mode == "non-inferiority":
        need = t.needed(alpha_m, 0.0, -tol)
        what = (
            f"with {plural(t.n, 'case')} non-inferiority is shown 80% of the time only "
            f"at a margin of {shown}"
        )
    else:
        need = t.needed(alpha_m, UNDERPOWERED * tol, tol)
        what = (f"with {plural(t.n, 'case')} a drop is caught 80% of the time only from "
            f"about {shown}")
    more = (f"; about {plural(need, 'case')} would resolve it"
            if need is not None and need > t.n else "")
    return f"{what} (tolerance {tol:.3g}){more}"


def underpowered(mde: float, tolerance: float, mode: Mode) -> bool:
    """True when a metric cannot resolve its tolerance at 80% power.

    Superiority: a drop of twice the tolerance would go unseen more than 20% of
    the time. Non-inferiority: an unchanged metric would not be shown within the
    tolerance 80% of the time. NaN (not comparable) is never underpowered.
    """
    if mode == "non-inferiority":
        return mde > tolerance
    return tolerance > 0 and mde > UNDERPOWERED * tolerance


def _decide_one(
    sample: PairedSample,
    t: Tested | str,
    mode: Mode,
    alpha: float,
    alpha_m: float,
    h_primary: _Holm | None,
    h_improve: _Holm | None,
    names: list[str],
) -> GateDecision:
    spec = sample.metric
    tol = spec.tolerance_units
    sign = 1.0 if spec.higher_is_better else -1.0
    if isinstance(t, str):
        nan = math.nan
        return GateDecision(
            sample.dataset, spec.name, min(len(sample.baseline), len(sample.current)),
            nan, nan, nan, nan, nan, nan, nan, "not comparable", t, "none", None,
            spec.gated, nan, tol, mode,
        )
    primary_p = t.p_worse if mode == "superiority" else t.p_noninferior
    # A measured-only metric is its own family: unadjusted, at level α.
    hp = h_primary or _Holm(primary_p, alpha, None)
    hi = h_improve or _Holm(t.p_better, alpha, None)
    level_m = alpha_m if spec.gated else alpha
    mde = t.mde(level_m) if mode == "superiority" else t.margin_mde(level_m)
    word = "higher" if spec.higher_is_better else "lower"
    note = _power_note(t, mode, tol, level_m, mde)
    notes = [note] if note else []

    def build(decision: Decision, bound: float, p: float, h: _Holm, why: str) -> GateDecision:
        if h.stopped_at is not None and p < h.level and h.p_adjusted >= alpha:
            why += f"; its bound clears, but Holm's step-down stopped at {names[h.stopped_at]}"
        return GateDecision(
            sample.dataset, spec.name, t.n, t.baseline_mean, t.current_mean,
            t.current_mean - t.baseline_mean, sign * bound, p, h.p_adjusted, mde, decision,
            "; ".join([why, *notes]), t.test, t.flips, spec.gated, h.level, tol, mode,
        )

    improved = hi.p_adjusted < alpha

    def gain() -> GateDecision:
        bound = t.lower(hi.level)
        why = (f"better by more than the tolerance ({word} is better): lower bound of the gain "
               f"{bound:+.3g} > {tol:.3g}")
        return build("improved", bound, t.p_better, hi, why)

    if mode == "non-inferiority":
        bound = t.lower(hp.level)
        side = "lower" if spec.higher_is_better else "upper"
        margin = f"{side} bound of the change {sign * bound:+.3g} vs margin {-sign * tol:+.3g}"
        if hp.p_adjusted < alpha:
            if improved:
                return gain()
            return build("ok", bound, t.p_noninferior, hp, f"non-inferior: {margin}")
        if note is not None:
            notes.clear()
            why = f"too few cases for non-inferiority: {margin} ({word} is better); {note}"
            return build("not comparable", bound, t.p_noninferior, hp, why)
        why = f"not shown non-inferior: {margin} ({word} is better)"
        return build("regressed", bound, t.p_noninferior, hp, why)

    bound = t.upper(hp.level)
    side = "upper" if spec.higher_is_better else "lower"
    vs = f"{side} bound of the change {sign * bound:+.3g} vs tolerance {-sign * tol:+.3g}"
    if hp.p_adjusted < alpha:
        why = f"worse by more than the tolerance ({word} is better): {vs}"
        return build("regressed", bound, t.p_worse, hp, why)
    if improved:
        return gain()
    return build("ok", bound, t.p_worse, hp, f"no drop beyond the tolerance shown: {vs}")
