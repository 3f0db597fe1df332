"""Tests of a paired difference against a margin, their bounds, power and MDE.

The gate does not ask "did the metric change?" but "did it drop by more than
the tolerance?", so every test here has a margin δ0: H0 Δ >= δ0 against
H1 Δ < δ0 (the lower tail), or the mirror image. Δ is current − baseline.

* Pass/fail metrics: Tango's score statistic for the difference of two
  paired proportions (Tango 1998, Statistics in Medicine 17:891–908). With
  ``better`` fail→pass and ``worse`` pass→fail cases out of n, the observed
  difference is (better − worse)/n and

      Z(δ0) = (better − worse − n·δ0) / sqrt(n·(2·p̃ + δ0·(1 − δ0)))

  where p̃ is the maximum-likelihood estimate of P(pass→fail) under Δ = δ0
  (a closed-form root of a quadratic). At δ0 = 0 it is McNemar's score
  statistic. Unlike a Wald interval it does not collapse when there are no
  discordant pairs, and unlike a bound conditioned on the number of flips it
  does not lose its coverage when few pairs flip.
  The plain score test is still only approximate with few flips: better − worse
  is a skewed lattice variable, and computed exactly its lower tail holds up to
  1.8 times the nominal level (n = 1,000, α/12, no background flips). The gate
  therefore tests with two corrections (:func:`tango_p_below`): a continuity
  correction of ½ on the count, and a Cornish–Fisher correction of the
  critical value for the skewness of better − worse under the null fit.
  Computed exactly over the null's boundary (n from 30 to 5,000, levels
  α/12 to α, few to many background flips, both directions), the corrected
  test never exceeds its level (see ``tests/unit/test_margin.py``); the bound
  is the δ0 where its p-value meets the level.
* Scores: the paired t-test of mean(diff) − δ0.

Power uses the normal approximation of each statistic under the alternative
(the variance the alternative implies, not the one of "no change", and the
same corrections as the test), and the MDE is the true drop that power reaches
80% at. For pass rates the alternative keeps the judge's noise: see
:func:`drop_flips`. Only the standard library is used, like
:mod:`pytest_llmfunnel.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pytest_llmfunnel.stats import norm_cdf, norm_ppf, t_cdf, t_ppf

_PRECISION = 1e-12  # bisection stops here: far below any printed digit


def _tango_null_p(better: float, worse: float, n: float, delta0: float) -> float:
    """Restricted MLE of P(pass→fail) under Δ = δ0 (Tango's closed form)."""
    a = 2.0 * n
    b = -better - worse + (2.0 * n - better + worse) * delta0
    c = -worse * delta0 * (1.0 - delta0)
    root = math.sqrt(max(b * b - 4.0 * a * c, 0.0))
    return max((root - b) / (2.0 * a), 0.0)


def tango_z(better: float, worse: float, n: float, delta0: float) -> float:
    """Tango's score statistic for H0 Δ = δ0 (Δ = (better − worse)/n); ±inf when exact.

    A zero null variance happens only where the data sit on the null's single
    outcome (no flips at δ0 = 0, say): Z is then 0, no evidence either way.
    """
    if n <= 0:
        raise ValueError(f"tango_z needs n > 0, got {n}")
    if not -1.0 <= delta0 <= 1.0:
        raise ValueError(f"a difference of proportions lies in [-1, 1], got {delta0}")
    p_worse = _tango_null_p(better, worse, n, delta0)
    var = n * (2.0 * p_worse + delta0 * (1.0 - delta0))
    num = better - worse - n * delta0
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _null_skew(better: float, worse: float, n: float, delta0: float) -> float:
    """Skewness of better − worse (n cases) under the null fit at Δ = δ0.

    Negative when the null's pass→fail flips outnumber its fail→pass ones: a
    long tail towards drops, where the normal approximation rejects too often.
    """
    p_worse = _tango_null_p(better, worse, n, delta0)
    p_better = p_worse + delta0
    var = p_worse + p_better - delta0 * delta0
    if var <= 0.0:
        return 0.0
    third = (
        p_better * (1.0 - delta0) ** 3
        + p_worse * (-1.0 - delta0) ** 3
        + (1.0 - p_worse - p_better) * (-delta0) ** 3
    )
    return float(third / (var**1.5 * math.sqrt(n)))


def _corrected_quantile(s: float, skew: float) -> float:
    """The z whose Cornish–Fisher skewed quantile z + γ(z² − 1)/6 equals ``s``.

    The branch of the quadratic through z = s at γ = 0; past its turning point
    (far from any decision) the turning point itself, so p stays monotone in s.
    """
    g = skew / 6.0
    if g == 0.0:
        return s
    disc = 1.0 + 4.0 * g * (g + s)
    if disc <= 0.0:
        return -1.0 / (2.0 * g)  # the turning point of the quadratic
    return 2.0 * (s + g) / (1.0 + math.sqrt(disc))


def tango_p_below(better: int, worse: int, n: int, delta0: float) -> float:
    """One-sided p-value for H1 Δ < δ0. No discordant pairs at δ0 <= 0 give p = 1.

    Tango's statistic with a continuity correction of ½ on better − worse and a
    Cornish–Fisher correction for its skewness under the null fit (see the module).
    """
    if better == worse == 0 and delta0 <= 0.0:
        return 1.0  # nothing changed: no drop can be shown, whatever the margin
    if n <= 0:
        raise ValueError(f"tango_p_below needs n > 0, got {n}")
    if not -1.0 <= delta0 <= 1.0:
        raise ValueError(f"a difference of proportions lies in [-1, 1], got {delta0}")
    p_worse = _tango_null_p(better, worse, n, delta0)
    var = n * (2.0 * p_worse + delta0 * (1.0 - delta0))
    num = better - worse - n * delta0 + 0.5
    if var <= 0.0:
        return 1.0 if num >= 0 else 0.0
    s = num / math.sqrt(var)
    return norm_cdf(_corrected_quantile(s, _null_skew(better, worse, n, delta0)))


def tango_p_above(better: int, worse: int, n: int, delta0: float) -> float:
    """One-sided p-value for H1 Δ > δ0 (the mirror of :func:`tango_p_below`)."""
    return tango_p_below(worse, better, n, -delta0)


def _root(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The point where increasing ``f`` crosses 0 in [lo, hi] (bisection)."""
    if f(lo) >= 0.0:
        return lo
    if f(hi) <= 0.0:
        return hi
    while hi - lo > _PRECISION:
        mid = 0.5 * (lo + hi)
        if f(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def tango_upper(better: int, worse: int, n: int, level: float) -> float:
    """One-sided upper confidence bound on Δ at ``level`` (0.05 → 95%).

    The dual of :func:`tango_p_below`: ``tango_upper(...) < δ0`` exactly when
    ``tango_p_below(..., δ0) < level`` (up to bisection precision).
    """
    # The p-value of H1 Δ < δ0 falls as δ0 grows; the bound is where it meets the level.
    return _root(lambda d: level - tango_p_below(better, worse, n, d), -1.0, 1.0)


def tango_lower(better: int, worse: int, n: int, level: float) -> float:
    """One-sided lower confidence bound on Δ at ``level``."""
    return -tango_upper(worse, better, n, level)


def tango_power(
    n: int, p_worse: float, p_better: float, delta0: float, level: float
) -> float:
    """Approximate power of the level-``level`` test of H1 Δ < δ0 when the true
    flip probabilities are ``p_worse`` (pass→fail) and ``p_better``.

    Normal approximation with the null SD at the expected counts and the
    alternative's own SD (the score-test power formula of Nam, 1997), with the
    test's continuity and skewness corrections in its critical value.
    """
    diff = p_better - p_worse
    var1 = n * (p_worse + p_better - diff * diff)
    better, worse = n * p_better, n * p_worse
    if var1 <= 0.0:
        return 1.0 if tango_p_below(round(better), round(worse), n, delta0) < level else 0.0
    p0 = _tango_null_p(better, worse, n, delta0)
    sd0 = math.sqrt(max(n * (2.0 * p0 + delta0 * (1.0 - delta0)), 0.0))
    z = norm_ppf(level)
    crit = z + _null_skew(better, worse, n, delta0) * (z * z - 1.0) / 6.0
    return norm_cdf((crit * sd0 - 0.5 + n * delta0 - n * diff) / math.sqrt(var1))


def judge_noise(flips: int, fresh: int) -> float:
    """The judge's flip probability e implied by ``flips`` among ``fresh`` pairs.

    ``fresh`` counts the pairs whose output changed (an unchanged output keeps
    its verdict and cannot flip). Noise alone makes a fresh pair discordant
    with probability 2e(1 − e); solved for e (at most ½).
    """
    if fresh <= 0 or flips <= 0:
        return 0.0
    q = min(flips / fresh, 0.5)
    return (1.0 - math.sqrt(1.0 - 2.0 * q)) / 2.0


def drop_flips(discordance: float, drop: float, noise: float) -> tuple[float, float]:
    """P(pass→fail), P(fail→pass) under a true drop ``drop`` with background discordance.

    A judge that flips each verdict with probability e sees a true pass→fail
    as a verdict pass→fail only with probability (1 − e)² and as a fail→pass
    with e²: a drop of d in the verdict pass rate takes d/(1 − 2e) true flips
    and adds d(1 − e) pass→fail and removes d·e fail→pass verdict flips
    (e = 0: every true flip is seen, the alternative the gate used before).
    """
    q = min(max(discordance, 0.0), 1.0)
    e = min(max(noise, 0.0), 0.5)
    return q / 2.0 + drop * (1.0 - e), max(q / 2.0 - drop * e, 0.0)


def binary_mde(
    n: int, discordance: float, tolerance: float, level: float, power: float = 0.8,
    noise: float = 0.0,
) -> float:
    """The true drop the tolerance test catches with ``power`` (inf if none can).

    The alternative keeps the background discordance and the judge's noise
    (:func:`drop_flips`).
    """
    q = min(max(discordance, 0.0), 1.0)
    e = min(max(noise, 0.0), 0.5)
    hi = min(1.0, (1.0 - q) / (1.0 - 2.0 * e)) if e < 0.5 else 1.0

    def reach(d: float) -> float:
        p_worse, p_better = drop_flips(q, d, e)
        return tango_power(n, p_worse, p_better, -tolerance, level) - power

    if reach(hi) < 0.0:
        return math.inf
    return _root(reach, 0.0, hi)


def _sds(p_worse: float, p_better: float, delta0: float) -> tuple[float, float]:
    """Per-case SDs of better − worse under the null (δ0) and the alternative."""
    p0 = _tango_null_p(p_better, p_worse, 1.0, delta0)
    diff = p_better - p_worse
    s0 = math.sqrt(max(2.0 * p0 + delta0 * (1.0 - delta0), 0.0))
    return s0, math.sqrt(max(p_worse + p_better - diff * diff, 0.0))


def binary_cases_needed(
    p_worse: float, p_better: float, delta0: float, level: float, power: float = 0.8
) -> int | None:
    """Cases the test of H1 Δ < δ0 needs for ``power`` at these flip probabilities.

    The smallest n where :func:`tango_power` reaches ``power``: the
    uncorrected closed form as a start, then a search (the corrections shrink
    with n); None when the alternative is not below δ0.
    """
    gap = delta0 - (p_better - p_worse)
    if gap <= 0.0:
        return None
    s0, s1 = _sds(p_worse, p_better, delta0)
    start = max(2, math.ceil(((norm_ppf(1.0 - level) * s0 + norm_ppf(power) * s1) / gap) ** 2))

    def enough(k: int) -> bool:
        return tango_power(k, p_worse, p_better, delta0, level) >= power

    lo, hi = start - 1, start
    while not enough(hi):
        lo, hi = hi, hi * 2
    while lo > 1 and enough(lo):
        hi, lo = lo, max(1, lo // 2)
    while hi - lo > 1:  # enough(hi), not enough(lo)
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return max(2, hi)


def binary_margin_mde(n: int, discordance: float, level: float, power: float = 0.8) -> float:
    """The smallest margin non-inferiority is shown at with ``power`` when nothing changed."""
    q = min(max(discordance, 0.0), 1.0)

    def shown(margin: float) -> float:  # power of H1 Δ > −margin, mirrored to the lower tail
        return tango_power(n, q / 2.0, q / 2.0, margin, level) - power

    return _root(shown, 0.0, 1.0)


def t_p_below(mean: float, se: float, df: int, delta0: float) -> float:
    """Paired t p-value for H1 mean < δ0; with se = 0 the sign of mean − δ0 decides."""
    if se == 0.0:
        return 0.0 if mean < delta0 else 1.0
    return t_cdf((mean - delta0) / se, df)


def t_bound(mean: float, se: float, df: int, level: float) -> float:
    """One-sided upper t bound on the mean difference (subtract for the lower one)."""
    return mean + t_ppf(1.0 - level, df) * se if se else mean


def t_mde(se: float, df: int, level: float, power: float = 0.8) -> float:
    """How far past the margin a true mean must lie to be caught with ``power``.

    (t_{1−level} + t_{power}) · se, with the t quantiles of ``df`` degrees of
    freedom (the usual approximation of the noncentral t power).
    """
    return (t_ppf(1.0 - level, df) + t_ppf(power, df)) * se
