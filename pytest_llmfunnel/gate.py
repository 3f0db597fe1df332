"""The regression gate's decision core: paired per-case values in, decisions out.

No file I/O and no pytest: the caller pairs the baseline's and the current
run's values case by case (errors already excluded) and gets one
:class:`GateDecision` per (dataset, metric).

How a decision is made (every gated pair of one call forms one family):

* Tests are one-sided. Binary metrics use the exact McNemar test, scores a
  paired t-test (n >= ``bootstrap_below``) or a seeded paired bootstrap.
* **superiority** (default): *regressed* when the Holm-adjusted p-value of
  "current is worse" is below α **and** the observed drop exceeds the
  tolerance. *improved* is the mirror image, with its own Holm family of
  "current is better" p-values, so an improvement never spends the
  regression family's α. Anything else is *ok*.
* **non-inferiority**: a metric passes only when its one-sided lower bound
  of the difference clears −tolerance; otherwise *regressed*. When the
  minimum detectable effect already exceeds the tolerance the gate refuses
  (*not comparable*) instead of letting noise pass or fail the build.

Units: ``tolerance`` is a fraction of the scale width for scores that declare
``scale`` (0.02 on a 1–5 scale = 0.08 points), so one tolerance reads the same
for pass rates and scores; ``diff``, ``bound`` and ``mde`` are reported in the
metric's own units, like the means they compare.

Bounds are taken at the Holm level of the comparison's rank, α/(m − rank),
the level its p-value is compared with, so the reported bound and adjusted
p-value agree; the one exception (Holm's step-down stopped at an earlier
comparison) is named in the reason. A decision reports the test that decided
it: "better" for *improved*, the non-inferiority test (margin −tolerance) for
the rest in that mode, "worse" otherwise.

Binary non-inferiority uses a Wald bound with Agresti–Min's half case per
cell of the paired 2x2 table (the exact McNemar test has no margin), and that
SE also drives the MDE of binary metrics, so a run with few cases and no
flips is not mistaken for a precise one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pytest_llmfunnel import stats
from pytest_llmfunnel.wording import plural

Decision = Literal["ok", "improved", "regressed", "not comparable"]
Mode = Literal["superiority", "non-inferiority"]
POWER = 0.8


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
    """Baseline and current values of one metric on one dataset, aligned by case."""

    metric: MetricSpec
    dataset: str
    baseline: tuple[float, ...]
    current: tuple[float, ...]


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
            nxt = "Update the baseline to lock the improvement in."
        elif not self.gated:
            nxt = "Measured only, not gated."
        else:
            nxt = ""
        return f"{head}. {nxt}" if nxt else head


@dataclass(frozen=True)
class _Tested:
    """Per-sample statistics in *oriented* units (positive = better)."""

    n: int
    baseline_mean: float
    current_mean: float
    diff: float
    se: float
    test: str
    flips: tuple[int, int] | None
    p_worse: float
    p_better: float
    p_noninferior: float
    upper: Callable[[float], float]  # dual of p_worse: upper(a) < 0 iff p_worse < a
    lower: Callable[[float], float]  # dual of p_better: lower(a) > 0 iff p_better < a
    lower_ni: Callable[[float], float]  # dual of p_noninferior: > -tol iff p_noninferior < a


def _binary(diffs: list[float], n: int, tol: float, mode: Mode) -> _Tested:
    worse, better = diffs.count(-1.0), diffs.count(1.0)
    discordant = worse + better

    def upper(level: float) -> float:  # exact dual of the McNemar p-value
        if discordant == 0:
            return 0.0
        pi_low = 0.0 if worse == 0 else stats.beta_ppf(level, worse, better + 1)
        return discordant / n * (1.0 - 2.0 * pi_low)

    def lower(level: float) -> float:
        if discordant == 0:
            return 0.0
        pi_low = 0.0 if better == 0 else stats.beta_ppf(level, better, worse + 1)
        return discordant / n * (2.0 * pi_low - 1.0)

    # Agresti–Min: half a case in each cell keeps the SE honest at zero flips.
    n_am = n + 2
    diff_am = (better - worse) / n_am
    se_am = math.sqrt(max((discordant + 1) / n_am - diff_am**2, 0.0) / n_am)

    def lower_ni(level: float) -> float:
        return diff_am - stats.norm_ppf(1.0 - level) * se_am

    return _Tested(
        n=n,
        baseline_mean=math.nan,
        current_mean=math.nan,
        diff=(better - worse) / n,
        se=se_am,
        test="mcnemar-exact" if mode == "superiority" else "paired-wald-agresti-min",
        flips=(worse, better),
        p_worse=stats.mcnemar_exact_one_sided(worse, better),
        p_better=stats.mcnemar_exact_one_sided(better, worse),
        p_noninferior=stats.norm_cdf(-(diff_am + tol) / se_am),
        upper=upper,
        lower=lower,
        lower_ni=lower_ni,
    )


def _score(diffs: list[float], tol: float, bootstrap_below: int, seed: int) -> _Tested:
    n = len(diffs)
    mean, se = stats.mean_and_se(diffs)
    upper: Callable[[float], float]
    lower: Callable[[float], float]
    if n < bootstrap_below:
        dist = stats.bootstrap_means(diffs, seed=seed)
        test, upper, lower = "paired-bootstrap", dist.upper, dist.lower
        p_worse, p_better = dist.p_at_least(0.0), dist.p_at_most(0.0)
        p_ni = dist.p_at_most(-tol)
    else:
        test = "paired-t"
        df = n - 1
        if se == 0.0:  # every case changed by the same amount: the sign decides
            p_worse, p_better = float(mean >= 0), float(mean <= 0)
            p_ni = float(mean <= -tol)
        else:
            p_worse = stats.t_cdf(mean / se, df)
            p_better = stats.t_sf(mean / se, df)
            p_ni = stats.t_sf((mean + tol) / se, df)

        def upper(level: float) -> float:
            return mean + stats.t_ppf(1.0 - level, df) * se if se else mean

        def lower(level: float) -> float:
            return mean - stats.t_ppf(1.0 - level, df) * se if se else mean

    return _Tested(
        n, math.nan, math.nan, mean, se, test, None, p_worse, p_better, p_ni, upper, lower, lower
    )


def _test_sample(
    sample: PairedSample, mode: Mode, bootstrap_below: int, seed: int
) -> _Tested | str:
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
        tested = _binary(diffs, n, spec.tolerance_units, mode)
    else:
        if n < 2:
            return "a score needs at least 2 paired cases to estimate its noise"
        tested = _score(diffs, spec.tolerance_units, bootstrap_below, seed)
    return replace(
        tested,
        baseline_mean=math.fsum(sample.baseline) / n,
        current_mean=math.fsum(sample.current) / n,
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


def _n_needed(se: float, n: int, tol: float, alpha_m: float) -> str:
    if tol <= 0:
        return "no finite number: give the metric a tolerance > 0"
    z = stats.norm_ppf(1.0 - alpha_m) + stats.norm_ppf(POWER)
    return str(math.ceil((z * se * math.sqrt(n) / tol) ** 2))


def decide(
    samples: Sequence[PairedSample],
    *,
    alpha: float = 0.05,
    mode: Mode = "superiority",
    bootstrap_below: int = 30,
    seed: int = 0,
) -> list[GateDecision]:
    """Decide every (dataset, metric) pair; Holm runs across all gated pairs passed in."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if mode not in ("superiority", "non-inferiority"):
        raise ValueError(f"mode must be 'superiority' or 'non-inferiority', got {mode!r}")
    tested = [_test_sample(s, mode, bootstrap_below, seed) for s in samples]
    gated = [i for i, t in enumerate(tested) if isinstance(t, _Tested) and samples[i].metric.gated]
    m = max(len(gated), 1)
    alpha_m = alpha / m
    primary: dict[int, float] = {}
    improve: dict[int, float] = {}
    for i in gated:
        t = tested[i]
        assert isinstance(t, _Tested)
        primary[i] = t.p_worse if mode == "superiority" else t.p_noninferior
        improve[i] = t.p_better
    holm_primary = _holm_family(primary, alpha)
    holm_improve = _holm_family(improve, alpha)
    names = [f"{s.dataset}/{s.metric.name}" for s in samples]
    return [
        _decide_one(
            samples[i],
            tested[i],
            mode,
            alpha,
            alpha_m,
            holm_primary.get(i),
            holm_improve.get(i),
            names,
        )
        for i in range(len(samples))
    ]


def _decide_one(
    sample: PairedSample,
    t: _Tested | str,
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
            sample.dataset,
            spec.name,
            min(len(sample.baseline), len(sample.current)),
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            "not comparable",
            t,
            "none",
            None,
            spec.gated,
            nan,
            tol,
        )
    primary_p = t.p_worse if mode == "superiority" else t.p_noninferior
    # A measured-only metric is its own family: unadjusted, at level α.
    hp = h_primary or _Holm(primary_p, alpha, None)
    hi = h_improve or _Holm(t.p_better, alpha, None)
    mde = stats.mde(t.se, alpha_m, POWER, tolerance=tol)
    word = "higher" if spec.higher_is_better else "lower"
    notes: list[str] = []
    if mde > tol:
        notes.append(
            f"with {plural(t.n, 'case')} only changes of about {mde:.3g} or more are detectable "
            f"(tolerance {tol:.3g}); add cases to detect smaller ones"
        )

    def build(decision: Decision, bound: float, p: float, h: _Holm, why: str) -> GateDecision:
        if h.stopped_at is not None and p < h.level and h.p_adjusted >= alpha:
            why += f"; its bound clears, but Holm's step-down stopped at {names[h.stopped_at]}"
        reason = "; ".join([why, *notes])
        return GateDecision(
            sample.dataset,
            spec.name,
            t.n,
            t.baseline_mean,
            t.current_mean,
            t.current_mean - t.baseline_mean,
            sign * bound,
            p,
            h.p_adjusted,
            mde,
            decision,
            reason,
            t.test,
            t.flips,
            spec.gated,
            h.level,
            tol,
        )

    improved = hi.p_adjusted < alpha and t.diff > tol
    gain = f"significantly better ({word} is better) by {t.diff:.3g} > tolerance {tol:.3g}"
    if mode == "non-inferiority":
        if mde > tol:
            notes.clear()
            need = _n_needed(t.se, t.n, tol, alpha_m)
            why = (
                f"too few cases for non-inferiority at tolerance {tol:.3g} "
                f"(need about {need}; have {t.n}, MDE {mde:.3g})"
            )
            return build("not comparable", t.lower_ni(hp.level), t.p_noninferior, hp, why)
        bound = t.lower_ni(hp.level)
        side = "lower" if spec.higher_is_better else "upper"
        margin = f"{side} bound of the change {sign * bound:+.3g} vs margin {-sign * tol:+.3g}"
        if hp.p_adjusted >= alpha:
            why = f"not shown non-inferior: {margin} ({word} is better)"
            return build("regressed", bound, t.p_noninferior, hp, why)
        if improved:
            return build("improved", t.lower(hi.level), t.p_better, hi, gain)
        return build("ok", bound, t.p_noninferior, hp, f"non-inferior: {margin}")

    drop = -t.diff
    if hp.p_adjusted < alpha and drop > tol:
        why = f"significantly worse ({word} is better) by {drop:.3g} > tolerance {tol:.3g}"
        return build("regressed", t.upper(hp.level), t.p_worse, hp, why)
    if improved:
        return build("improved", t.lower(hi.level), t.p_better, hi, gain)
    if hp.p_adjusted < alpha:
        why = f"significant drop of {drop:.3g} but within tolerance {tol:.3g}"
    elif hi.p_adjusted < alpha:
        why = f"significant gain of {t.diff:.3g} but within tolerance {tol:.3g}"
    else:
        why = "no significant drop"
    return build("ok", t.upper(hp.level), t.p_worse, hp, why)
