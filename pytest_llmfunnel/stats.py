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
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
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


def binom_sf(k: int, n: int, p: float) -> float:
    """Upper tail P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return betainc(float(k), float(n - k + 1), p)


# --------------------------------------------------------------------------
# Paired tests
# --------------------------------------------------------------------------


def mcnemar_exact_one_sided(b: int, c: int) -> float:
    """Exact one-sided McNemar p-value for "more regressions than improvements".

    ``b`` counts pass→fail cases, ``c`` fail→pass. Under H0 each discordant
    case is a fair coin, so p = P(X >= b | X ~ Bin(b + c, 1/2)); 1.0 when
    there are no discordant cases.
    """
    if b < 0 or c < 0:
        raise ValueError(f"McNemar needs non-negative counts, got b={b}, c={c}")
    n = b + c
    if n == 0 or b == 0:
        return 1.0
    if n <= 1000:  # exact integer arithmetic; int / int rounds correctly
        return sum(math.comb(n, i) for i in range(b, n + 1)) / (1 << n)
    return binom_sf(b, n, 0.5)


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


def paired_t_one_sided(diffs: Sequence[float]) -> tuple[float, float, float]:
    """Paired t-test of H1: mean difference < 0 (a drop). Returns (mean, se, p).

    Degenerate cases are decided explicitly rather than by a division by zero:
    n < 2 gives p = 1 (no evidence); all differences equal (se = 0) gives
    p = 0 when they are negative and 1 otherwise (the limit of t → ∓∞).
    """
    mean, se = mean_and_se(diffs)
    if len(diffs) < 2:
        return mean, se, 1.0
    if se == 0.0:
        return mean, se, 0.0 if mean < 0 else 1.0
    return mean, se, t_cdf(mean / se, len(diffs) - 1)


@dataclass(frozen=True)
class BootstrapDistribution:
    """Sorted means of the paired-bootstrap resamples, with percentile bounds and p-values.

    Bounds and p-values are exact duals: ``upper(a) < t`` exactly when
    ``p_at_least(t) < a``, and ``lower(a) > t`` exactly when ``p_at_most(t) < a``,
    so a reported bound always agrees with the reported p-value.
    """

    means: tuple[float, ...]

    def p_at_least(self, threshold: float) -> float:
        """Share of resampled means >= threshold: the p-value for H1 "mean < threshold"."""
        return sum(1 for m in self.means if m >= threshold) / len(self.means)

    def p_at_most(self, threshold: float) -> float:
        """Share of resampled means <= threshold: the p-value for H1 "mean > threshold"."""
        return sum(1 for m in self.means if m <= threshold) / len(self.means)

    def upper(self, level: float) -> float:
        """One-sided upper percentile bound at ``level`` (e.g. 0.05 → 95% bound)."""
        count = len(self.means)
        k = min(max(math.ceil(level * count), 1), count)
        return self.means[count - k]

    def lower(self, level: float) -> float:
        """One-sided lower percentile bound at ``level``."""
        count = len(self.means)
        k = min(max(math.ceil(level * count), 1), count)
        return self.means[k - 1]


def bootstrap_means(
    diffs: Sequence[float], *, resamples: int = 10_000, seed: int = 0
) -> BootstrapDistribution:
    """Seeded paired bootstrap: resample the per-case differences with replacement."""
    if not diffs:
        raise ValueError("bootstrap needs at least one difference")
    rng = random.Random(seed)
    n = len(diffs)
    values = list(diffs)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return BootstrapDistribution(tuple(means))


def paired_bootstrap_one_sided(
    diffs: Sequence[float], *, resamples: int = 10_000, seed: int = 0
) -> tuple[Callable[[float], float], float]:
    """Percentile bootstrap for H1: mean difference < 0. Returns (upper bound fn, p).

    ``p`` is the share of resampled means that are >= 0 (the percentile-interval
    inversion: the largest level at which the upper bound is still >= 0). The
    function maps a one-sided level to the upper bound at that level; the same
    seed gives the same answer every time.
    """
    dist = bootstrap_means(diffs, resamples=resamples, seed=seed)
    return dist.upper, dist.p_at_least(0.0)


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


def clopper_pearson(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Two-sided exact (Clopper–Pearson) interval for k successes out of n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"clopper_pearson needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    half_alpha = (1.0 - conf) / 2.0
    lo = 0.0 if k == 0 else beta_ppf(half_alpha, k, n - k + 1)
    hi = 1.0 if k == n else beta_ppf(1.0 - half_alpha, k + 1, n - k)
    return lo, hi


def mde(se: float, alpha_adjusted: float, power: float = 0.8, *, tolerance: float = 0.0) -> float:
    """Minimum detectable effect: max(tolerance, (z_{1-α} + z_{power}) · se).

    ``alpha_adjusted`` is already divided by the number of comparisons.
    """
    return max(tolerance, (norm_ppf(1.0 - alpha_adjusted) + norm_ppf(power)) * se)


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


def _var(values: Sequence[float]) -> float:
    mean = _mean(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _cov(x: Sequence[float], y: Sequence[float]) -> float:
    mx, my = _mean(x), _mean(y)
    return math.fsum((u - mx) * (v - my) for u, v in zip(x, y, strict=True)) / (len(x) - 1)


def ppi_mean_ci(
    y_labelled: Sequence[float],
    yhat_labelled: Sequence[float],
    yhat_unlabelled: Sequence[float],
    alpha: float = 0.05,
    lam: float | None = None,
    *,
    cross_fit: bool = True,
) -> tuple[float, float, float, float]:
    """Prediction-powered (PPI++) estimate of a mean with a two-sided CI.

    Returns (estimate, lo, hi, lambda). With n labelled and N unlabelled cases,
    the estimate is mean(Y − λŶ) + λ·mean(Ŷ_unlabelled), its variance
    λ²·Var(Ŷ_unlabelled)/N + Var(Y − λŶ)/n (sample variances, n − 1), and the
    CI the normal approximation around it. ``lam=None`` uses the power-tuned
    λ = Cov(Y, Ŷ) / ((1 + n/N)·Var(Ŷ)), clipped to [0, 1]; λ = 0 is the
    labelled mean alone, λ = 1 classic PPI. With ``cross_fit`` (the default when
    λ is tuned) the labelled cases are split by position parity into two folds
    and each fold's λ is tuned on the other fold, so no label both tunes λ and
    is corrected by it; the returned λ is the folds' mean. Tuning λ on the same
    labels costs coverage (about 94% instead of 95% with 200 binary labels and
    a biased judge, in the seeded simulation of ``benchmarks/calibration.py``).
    """
    n, big_n = len(y_labelled), len(yhat_unlabelled)
    if n != len(yhat_labelled):
        raise ValueError("each labelled case needs both a label and a prediction")
    if n < 2 or big_n < 2:
        raise ValueError(f"PPI needs at least 2 labelled and 2 unlabelled cases, got {n}, {big_n}")
    if lam is not None:
        lams = [lam] * n
    elif cross_fit and n >= 4:
        folds = (range(0, n, 2), range(1, n, 2))
        tuned = [
            _ppi_lambda([y_labelled[i] for i in other], [yhat_labelled[i] for i in other],
                        yhat_unlabelled, n)
            for other in (folds[1], folds[0])
        ]
        lams = [tuned[i % 2] for i in range(n)]
    else:
        lams = [_ppi_lambda(y_labelled, yhat_labelled, yhat_unlabelled, n)] * n
    lam_bar = _mean(lams)
    rectifier = [y - lm * yh for y, yh, lm in zip(y_labelled, yhat_labelled, lams, strict=True)]
    estimate = _mean(rectifier) + lam_bar * _mean(yhat_unlabelled)
    variance = lam_bar * lam_bar * _var(yhat_unlabelled) / big_n + _var(rectifier) / n
    half = norm_ppf(1.0 - alpha / 2.0) * math.sqrt(variance)
    return estimate, estimate - half, estimate + half, lam_bar


def _ppi_lambda(
    y: Sequence[float], yhat: Sequence[float], yhat_unlabelled: Sequence[float], n: int
) -> float:
    """The power-tuned λ of PPI++, clipped to [0, 1] (n: all labelled cases)."""
    var_hat = _var([*yhat, *yhat_unlabelled])
    if var_hat == 0 or len(y) < 2:
        return 0.0
    lam = _cov(y, yhat) / ((1 + n / len(yhat_unlabelled)) * var_hat)
    return min(1.0, max(0.0, lam))


def ipw_mean(
    values: Sequence[float],
    inclusion_probs: Sequence[float],
    population_size: int | None = None,
) -> float:
    """Inverse-probability-weighted mean of a sample drawn with known inclusion probabilities.

    With ``population_size`` the Horvitz–Thompson estimator Σ(y/π)/N (unbiased);
    without it the Hájek ratio Σ(y/π)/Σ(1/π) (slightly biased, usually less
    variable, and needs no population count).
    """
    if len(values) != len(inclusion_probs) or not values:
        raise ValueError("ipw_mean needs one inclusion probability per value, and values")
    if any(not 0.0 < p <= 1.0 for p in inclusion_probs):
        raise ValueError("inclusion probabilities must lie in (0, 1]")
    total = math.fsum(y / p for y, p in zip(values, inclusion_probs, strict=True))
    if population_size is not None:
        return total / population_size
    return total / math.fsum(1.0 / p for p in inclusion_probs)
