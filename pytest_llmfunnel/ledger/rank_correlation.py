"""Spearman's rank correlation and its confidence interval, without scipy.

ρ is Pearson's correlation of the ranks, ties given their average rank (as
``scipy.stats.spearmanr`` does). The interval is Fisher's z-transform with
Bonett and Wright's standard error for Spearman's ρ,
``sqrt((1 + ρ²/2) / (n - 3))`` (Bonett & Wright 2000, Psychometrika 65:23-28),
which keeps close to its nominal coverage where the plain ``1/sqrt(n - 3)`` is
too narrow. It needs at least four pairs and is not defined for ρ = ±1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_llmfunnel.stats import norm_ppf


@dataclass(frozen=True)
class RankCorrelation:
    n: int
    rho: float | None  # None: fewer than two pairs, or a side with no spread
    low: float | None  # None: no interval (n < 4, or ρ = ±1)
    high: float | None


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    if n < 2:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def spearman(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95
) -> RankCorrelation:
    """Spearman's ρ of the pairs (x[i], y[i]) with its Fisher-z (Bonett–Wright) interval."""
    if len(x) != len(y):
        raise ValueError(f"spearman needs pairs, got {len(x)} and {len(y)} values")
    n = len(x)
    rho = pearson(average_ranks(x), average_ranks(y))
    if rho is None or n < 4 or abs(rho) >= 1.0:
        return RankCorrelation(n, rho, None, None)
    z = math.atanh(rho)
    se = math.sqrt((1 + rho * rho / 2) / (n - 3))
    q = norm_ppf(0.5 + confidence / 2)
    return RankCorrelation(n, rho, math.tanh(z - q * se), math.tanh(z + q * se))
