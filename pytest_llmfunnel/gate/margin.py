"""Tests of a paired difference against a margin, their bounds, power and MDE.

The gate does not ask "did the metric change?" but "did it drop by more than
the tolerance?", so every test here has a margin δ0: H0 Δ >= δ0 against
H1 Δ < δ0 (the lower tail), or the mirror image. Δ is current − baseline.

* Pass/fail metrics: Tango's score test for the difference of two paired
  proportions (Tango 1998, Statistics in Medicine 17:891–908). With
  ``better`` fail→pass and ``worse`` pass→fail cases out of n, the observed
  difference is (better − worse)/n and

      Z(δ0) = (better − worse − n·δ0) / sqrt(n·(2·p̃ + δ0·(1 − δ0)))

  where p̃ is the maximum-likelihood estimate of P(pass→fail) under Δ = δ0
  (a closed-form root of a quadratic). At δ0 = 0 it is McNemar's score
  statistic. Unlike a Wald interval it does not collapse when there are no
  discordant pairs, and unlike a bound conditioned on the number of flips it
  keeps its coverage: the bound is the δ0 at which Z(δ0) meets the quantile.
* Scores: the paired t-test of mean(diff) − δ0.

Power uses the normal approximation of each statistic under the alternative
(the variance the alternative implies, not the one of "no change"), and the
MDE is the true drop that power reaches 80% at: the solution of that equation.
Only the standard library is used, like :mod:`pytest_llmfunnel.stats`.
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


def tango_p_below(better: int, worse: int, n: int, delta0: float) -> float:
    """One-sided p-value for H1 Δ < δ0. No discordant pairs at δ0 <= 0 give p = 1."""
    if better == worse == 0 and delta0 <= 0.0:
        return 1.0  # nothing changed: no drop can be shown, whatever the margin
    return norm_cdf(tango_z(better, worse, n, delta0))


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
    z = norm_ppf(1.0 - level)
    # -Z(δ0) grows with δ0; the bound is where it reaches z.
    return _root(lambda d: -tango_z(better, worse, n, d) - z, -1.0, 1.0)


def tango_lower(better: int, worse: int, n: int, level: float) -> float:
    """One-sided lower confidence bound on Δ at ``level``."""
    return -tango_upper(worse, better, n, level)


def tango_power(
    n: int, p_worse: float, p_better: float, delta0: float, level: float
) -> float:
    """Approximate power of the level-``level`` test of H1 Δ < δ0 when the true
    flip probabilities are ``p_worse`` (pass→fail) and ``p_better``.

    Normal approximation with the null SD at the expected counts and the
    alternative's own SD (the score-test power formula of Nam, 1997).
    """
    diff = p_better - p_worse
    var1 = n * (p_worse + p_better - diff * diff)
    if var1 <= 0.0:
        return 1.0 if tango_z(n * p_better, n * p_worse, n, delta0) < -norm_ppf(1 - level) else 0.0
    p0 = _tango_null_p(n * p_better, n * p_worse, n, delta0)
    sd0 = math.sqrt(max(n * (2.0 * p0 + delta0 * (1.0 - delta0)), 0.0))
    z = norm_ppf(1.0 - level)
    return norm_cdf((-z * sd0 + n * delta0 - n * diff) / math.sqrt(var1))


def binary_mde(
    n: int, discordance: float, tolerance: float, level: float, power: float = 0.8
) -> float:
    """The true drop the tolerance test catches with ``power`` (inf if none can).

    The alternative keeps the background discordance (half of it each way)
    and adds the drop as pass→fail flips: P(worse) = q/2 + d, P(better) = q/2.
    """
    q = min(max(discordance, 0.0), 1.0)
    hi = 1.0 - q / 2.0
    if tango_power(n, q / 2.0 + hi, q / 2.0, -tolerance, level) < power:
        return math.inf
    return _root(
        lambda d: tango_power(n, q / 2.0 + d, q / 2.0, -tolerance, level) - power,
        0.0, hi,
    )


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

    Closed form of :func:`tango_power` = ``power`` (the restricted MLE of a
    proportion does not depend on n); None when the alternative is not below δ0.
    """
    gap = delta0 - (p_better - p_worse)
    if gap <= 0.0:
        return None
    s0, s1 = _sds(p_worse, p_better, delta0)
    return max(2, math.ceil(((norm_ppf(1.0 - level) * s0 + norm_ppf(power) * s1) / gap) ** 2))


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
