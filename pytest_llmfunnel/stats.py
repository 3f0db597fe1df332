"""Pure statistical functions for the regression gate and judge calibration.

Only the standard library is used, so the plugin does not drag numpy/scipy
into every project that runs it. Each function is tested against a known
answer (scipy/statsmodels as oracles, textbook examples, closed forms).

Conventions: one-sided p-values name their alternative in the docstring;
``level`` always means the one-sided error rate of a bound (a bound at level
0.05 is a one-sided 95% confidence bound).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Sequence
from statistics import NormalDist
from typing import Literal

_SQRT2 = math.sqrt(2.0)
_STANDARD_NORMAL = NormalDist()
_EPS = 1e-15
_TINY = 1e-300

# --------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------


def norm_cdf(x: float) -> float:
    """Standard normal CDF via ``erfc``, so the lower tail keeps its precision.

    Not :meth:`statistics.NormalDist.cdf`: it goes through ``1 + erf``, which
    rounds every value below about -8.3 to 0 (the gate's tail p-values).
    """
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_ppf(p: float) -> float:
    """Standard normal quantile (:meth:`statistics.NormalDist.inv_cdf`, exact to ~1e-16).

    Unlike ``inv_cdf`` it accepts the closed interval: ``p`` of 0 or 1 gives -inf or inf.
    """
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"norm_ppf needs 0 <= p <= 1, got {p}")
    return _STANDARD_NORMAL.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if a <= 0.0 or b <= 0.0:
        raise ValueError(f"betainc needs a, b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The continued fraction converges fast only below the mean; use symmetry above it.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """Survival function P(T > t) of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"t_sf needs df > 0, got {df}")
    if math.isinf(df):
        return norm_cdf(-t)
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(0.5 * df, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_cdf(t: float, df: float) -> float:
    """CDF P(T <= t) of Student's t."""
    return t_sf(-t, df)


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t: Newton steps on :func:`t_cdf`, safeguarded by bisection."""
    if not 0.0 < p < 1.0:
        if p in (0.0, 1.0):
            return -math.inf if p == 0.0 else math.inf
        raise ValueError(f"t_ppf needs 0 <= p <= 1, got {p}")
    if math.isinf(df):
        return norm_ppf(p)
    if p > 0.5:
        return -t_ppf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    # Now p < 0.5 and the quantile is negative; bracket it, then Newton inside the bracket.
    lo, hi = -1.0, 0.0
    while t_cdf(lo, df) > p:
        hi, lo = lo, lo * 2.0
    log_norm = math.lgamma(0.5 * (df + 1)) - math.lgamma(0.5 * df) - 0.5 * math.log(df * math.pi)
    x = max(min(norm_ppf(p), hi), lo)
    for _ in range(200):
        f = t_cdf(x, df) - p
        if f > 0:
            hi = x
        else:
            lo = x
        density = math.exp(log_norm - 0.5 * (df + 1) * math.log1p(x * x / df))
        step = f / density if density > 0 else math.inf
        new = x - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - x) <= 1e-13 * max(1.0, abs(x)):
            return new
        x = new
    return x


# --------------------------------------------------------------------------
# Paired tests
# --------------------------------------------------------------------------


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Sample mean and its standard error (sample SD with n - 1; ``inf`` for n < 2)."""
    n = len(values)
    if n == 0:
        return math.nan, math.inf
    mean = statistics.fmean(values)
    if n < 2:
        return mean, math.inf
    return mean, math.sqrt(statistics.variance(values, mean) / n)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone in the sorted order, capped at 1)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


# --------------------------------------------------------------------------
# Intervals for a proportion, effect sizes, agreement
# --------------------------------------------------------------------------


def wilson_interval(k: float, n: float, conf: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for k successes out of n.

    ``n`` may be an effective sample size (not whole), with k = p·n.
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = norm_ppf(1.0 - (1.0 - conf) / 2.0)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa between two raters' labels of the same items."""
    categories = sorted(set(a) | set(b), key=repr)
    return weighted_kappa(a, b, categories, weights="none")


def weighted_kappa(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    categories: Sequence[Hashable],
    weights: Literal["quadratic", "linear", "none"] = "quadratic",
) -> float:
    """Weighted kappa for ordered ``categories`` (disagreement weight by index distance).

    Returns 1.0 when both raters use a single identical category (no chance
    disagreement to measure against).
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"kappa needs two equally long, non-empty lists, got {len(a)}, {len(b)}")
    index = {cat: i for i, cat in enumerate(categories)}
    unknown = [x for x in (*a, *b) if x not in index]
    if unknown:
        raise ValueError(f"label {unknown[0]!r} is not one of the categories {list(categories)}")
    k, n = len(categories), len(a)

    def weight(i: int, j: int) -> float:
        if weights == "quadratic":
            return ((i - j) / max(k - 1, 1)) ** 2
        if weights == "linear":
            return abs(i - j) / max(k - 1, 1)
        return 0.0 if i == j else 1.0

    row = [0] * k
    col = [0] * k
    observed = 0.0
    for x, y in zip(a, b, strict=True):
        i, j = index[x], index[y]
        row[i] += 1
        col[j] += 1
        observed += weight(i, j)
    expected = sum(weight(i, j) * row[i] * col[j] for i in range(k) for j in range(k)) / n
    if expected == 0.0:
        return 1.0
    return 1.0 - observed / expected
