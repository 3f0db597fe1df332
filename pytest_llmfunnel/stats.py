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
from collections.abc import Hashable, Sequence
from typing import Literal

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_EPS = 1e-15
_TINY = 1e-300

# --------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------


def norm_cdf(x: float) -> float:
    """Standard normal CDF (via ``erfc`` so the lower tail keeps its precision)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_ppf(p: float) -> float:
    """Standard normal quantile: Acklam's rational approximation plus one Halley step.

    The refinement brings the relative error to about 1e-15 over (0, 1).
    """
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"norm_ppf needs 0 <= p <= 1, got {p}")
    a = (
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    )
    b = (
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    )
    c = (
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    )
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    p_low = 0.02425
    if p < p_low or p > 1.0 - p_low:
        q = math.sqrt(-2.0 * math.log(p if p < p_low else 1.0 - p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
        )
        if p > 1.0 - p_low:
            x = -x
    else:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
        )
    # Halley refinement on the tail nearer to p, so tiny tail probabilities stay exact.
    e = norm_cdf(x) - p if p < 0.5 else (1.0 - p) - norm_cdf(-x)
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


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


def beta_ppf(q: float, a: float, b: float) -> float:
    """Quantile of the Beta(a, b) distribution: bisection on :func:`betainc`.

    Newton steps are taken whenever they stay inside the bisection bracket,
    which cuts the usual 50 evaluations to about 6 without giving up the
    guarantee of bisection.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"beta_ppf needs 0 <= q <= 1, got {q}")
    if q in (0.0, 1.0):
        return q
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    lo, hi = 0.0, 1.0
    x = a / (a + b)
    for _ in range(300):
        f = betainc(a, b, x) - q
        if f < 0:
            lo = x
        else:
            hi = x
        density = math.exp(log_norm + (a - 1) * math.log(x) + (b - 1) * math.log1p(-x))
        step = f / density if density > 0 else math.nan
        if abs(step) <= 1e-14 * x:
            return x - step
        new = x - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
            if new in (lo, hi):
                return new
        x = new
    return x


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


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Sample mean and its standard error (sample SD with n - 1; ``inf`` for n < 2)."""
    n = len(values)
    if n == 0:
        return math.nan, math.inf
    mean = _mean(values)
    if n < 2:
        return mean, math.inf
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


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


# --------------------------------------------------------------------------
# Estimates from a labelled slice plus judge predictions
# --------------------------------------------------------------------------


