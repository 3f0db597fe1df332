"""Agreement between raters (a judge and people), each figure with its interval.

* **Cohen's kappa** (:func:`pytest_llmfunnel.stats.cohen_kappa`): two raters,
  agreement beyond what their own label frequencies give by chance.
* **Krippendorff's alpha** (:func:`krippendorff_alpha`): any number of raters,
  missing labels allowed, nominal (a disagreement is a disagreement) or
  ordinal (fail < tie < pass, 1 < 2 < 3 … : a near miss costs less than a far
  one, by the ranks the data actually use). It is the coefficient content
  analysis uses, and it is computed here as Krippendorff (2011,
  "Computing Krippendorff's Alpha-Reliability") defines it, from the
  coincidence matrix; the worked example of that paper is a unit test.
* **Intervals** (:func:`bootstrap_interval`): the percentile bootstrap over
  the labelled items (seeded, so the same data give the same interval), as
  Krippendorff recommends for alpha. Accuracy keeps its Wilson interval.

A coefficient is ``None`` where it is undefined (no variation at all among the
values, or fewer than two pairable values): "perfect agreement" would be a
claim the data cannot make.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from pytest_llmfunnel import stats

Level = Literal["nominal", "ordinal"]
T = TypeVar("T")

RESAMPLES = 1000


def krippendorff_alpha(
    units: Sequence[Sequence[Hashable | None]],
    level: Level = "nominal",
    order: Sequence[Hashable] | None = None,
) -> float | None:
    """Krippendorff's alpha of ``units`` (each: the values its raters gave; None = missing).

    Args:
        level: ``nominal`` or ``ordinal``.
        order: the categories from lowest to highest, for ``ordinal``; by
            default the values sorted.
    """
    # Units with the same values contribute alike: count each kind once (a bootstrap
    # over thousands of judge-human pairs has a handful of kinds).
    kinds: Counter[tuple[Hashable, ...]] = Counter()
    for unit, times in Counter(map(tuple, units)).items():
        kinds[tuple(sorted((v for v in unit if v is not None), key=_sort_key))] += times
    coincidences: dict[tuple[Hashable, Hashable], float] = {}
    for values, times in kinds.items():
        if len(values) < 2:
            continue
        weight = times / (len(values) - 1)
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nk - (c == k))  # ordered pairs of different raters
                if pairs:
                    coincidences[(c, k)] = coincidences.get((c, k), 0.0) + pairs * weight
    margins: dict[Hashable, float] = {}
    for (c, _), o in coincidences.items():
        margins[c] = margins.get(c, 0.0) + o
    n = math.fsum(margins.values())
    if n < 2:
        return None
    categories = list(order) if order is not None else sorted(margins, key=_sort_key)
    missing = [c for c in margins if c not in categories]
    if missing:
        raise ValueError(f"value {missing[0]!r} is not one of the categories {categories}")
    delta = _nominal if level == "nominal" else _ordinal(categories, margins)
    observed = math.fsum(o * delta(c, k) for (c, k), o in coincidences.items())
    expected = math.fsum(
        margins[c] * margins[k] * delta(c, k) for c in margins for k in margins
    ) / (n - 1)
    if expected == 0:
        return None
    return 1.0 - observed / expected


def _sort_key(value: Hashable) -> tuple[int, float, str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, repr(value))


def _nominal(c: Hashable, k: Hashable) -> float:
    return 0.0 if c == k else 1.0


def _ordinal(
    categories: Sequence[Hashable], margins: Mapping[Hashable, float]
) -> Callable[[Hashable, Hashable], float]:
    """The ordinal metric: the squared count of values between two ranks, halves at the ends."""
    rank = {c: i for i, c in enumerate(categories)}
    sizes = [float(margins.get(c, 0.0)) for c in categories]

    def delta(c: Hashable, k: Hashable) -> float:
        lo, hi = sorted((rank[c], rank[k]))
        if lo == hi:
            return 0.0
        between = math.fsum(sizes[lo:hi + 1]) - (sizes[lo] + sizes[hi]) / 2.0
        return between * between

    return delta


def bootstrap_interval(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float | None],
    *,
    conf: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``statistic`` over ``items`` (resampled with replacement).

    Resamples where the statistic is undefined are skipped; ``None`` when
    fewer than half of them are defined or there are fewer than 2 items.
    """
    if len(items) < 2:
        return None
    rng = random.Random(seed)
    n = len(items)
    items = list(items)
    values = []
    for _ in range(resamples):
        value = statistic(rng.choices(items, k=n))
        if value is not None and math.isfinite(value):
            values.append(value)
    if len(values) < resamples / 2:
        return None
    values.sort()
    tail = (1.0 - conf) / 2.0
    return _quantile(values, tail), _quantile(values, 1.0 - tail)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    lo = math.floor(position)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (position - lo)


def kappa_of_pairs(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    """Cohen's kappa of (rater a, rater b) pairs; None when undefined (one category only)."""
    if len(pairs) < 2:
        return None
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    if len(set(a) | set(b)) < 2:
        return None
    return stats.cohen_kappa(a, b)


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided interval."""

    estimate: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


def proportion(k: int, n: int, conf: float = 0.95) -> Interval:
    """k of n with its Wilson interval."""
    lo, hi = stats.wilson_interval(k, n, conf)
    return Interval(k / n, lo, hi)


def with_interval(
    items: Sequence[T], statistic: Callable[[Sequence[T]], float | None], seed: int = 0
) -> Interval | None:
    """A coefficient over ``items`` and its bootstrap interval; None when it is undefined."""
    value = statistic(items)
    if value is None:
        return None
    bounds = bootstrap_interval(items, statistic, seed=seed)
    lo, hi = bounds if bounds is not None else (-1.0, 1.0)
    return Interval(value, min(lo, value), max(hi, value))


def distrust(kappa: Interval | None, accuracy: Interval | None, floor: float) -> str | None:
    """Why a judge should not be trusted by these labels, or None when it agrees well enough.

    Poor agreement is an accuracy below ``floor``, or a kappa whose interval
    reaches 0 (agreement no better than chance is not ruled out).
    """
    reasons = []
    if accuracy is not None and accuracy.estimate < floor:
        reasons.append(f"accuracy {accuracy.estimate:.1%} is below the floor {floor:.0%}")
    if kappa is None and accuracy is not None:
        reasons.append("kappa is undefined (the labels or verdicts use one value only)")
    elif kappa is not None and kappa.hi < 0.0:
        reasons.append(f"kappa {kappa.estimate:.2f} [{kappa.lo:.2f}, {kappa.hi:.2f}] is below "
                       "0: the judge agrees with people less often than chance would")
    elif kappa is not None and kappa.lo <= 0.0:
        reasons.append(f"kappa {kappa.estimate:.2f} [{kappa.lo:.2f}, {kappa.hi:.2f}] does not "
                       "rule out chance agreement")
    return "; ".join(reasons) or None
