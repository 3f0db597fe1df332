"""The gate's paired tests, one per metric kind, as p-values and bounds at any level.

:func:`binary_test` (Tango's score test on pass/fail flips) and
:func:`score_test` (the paired t-test) turn one metric's paired differences,
oriented so that positive is better, into a :class:`Tested`: the one-sided
p-values against the tolerance, the confidence bounds and the power figures
as functions of the level, so :mod:`pytest_llmfunnel.gate.decision` can ask
for them at the Holm level each comparison gets. Plain functions; the
statistics are in :mod:`pytest_llmfunnel.gate.margin` and
:mod:`pytest_llmfunnel.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate import margin as margin_mod

POWER = 0.8


@dataclass(frozen=True)
class Tested:
    """Per-sample statistics in *oriented* units (positive = better).

    Every p-value tests the change against a margin: ``p_worse`` H1 Δ < −tol,
    ``p_better`` H1 Δ > +tol, ``p_noninferior`` H1 Δ > −tol. ``upper`` is the
    dual of ``p_worse`` (upper(a) < −tol iff p_worse < a), ``lower`` of the other two.
    ``mde(level)`` is the drop caught with 80% power by the superiority test;
    ``margin_mde(level)`` the margin non-inferiority is shown at with 80% power
    when nothing changed; ``needed(level, drop, margin)`` the cases for that power.
    """

    n: int
    baseline_mean: float
    current_mean: float
    diff: float
    test: str
    flips: tuple[int, int] | None
    p_worse: float
    p_better: float
    p_noninferior: float
    upper: Callable[[float], float]
    lower: Callable[[float], float]
    mde: Callable[[float], float]
    margin_mde: Callable[[float], float]
    needed: Callable[[float, float, float], int | None]


def binary_test(diffs: list[float], n: int, tol: float, unchanged: int = 0) -> Tested:
    """``unchanged``: pairs whose output is the same on both sides (they cannot flip)."""
    worse, better = diffs.count(-1.0), diffs.count(1.0)
    # The background discordance and judge noise the power calculation keeps
    # under the alternative (a noisy judge sees a true drop only in part).
    q = (worse + better) / n
    noise = margin_mod.judge_noise(worse + better, n - min(max(unchanged, 0), n))

    def needed(level: float, drop: float, margin: float) -> int | None:
        p_worse, p_better = margin_mod.drop_flips(q, drop, noise)
        return margin_mod.binary_cases_needed(p_worse, p_better, -margin, level, POWER)

    return Tested(
        n=n,
        baseline_mean=math.nan,
        current_mean=math.nan,
        diff=(better - worse) / n,
        test="tango-score",
        flips=(worse, better),
        p_worse=margin_mod.tango_p_below(better, worse, n, -tol),
        p_better=margin_mod.tango_p_above(better, worse, n, tol),
        p_noninferior=margin_mod.tango_p_above(better, worse, n, -tol),
        upper=lambda level: margin_mod.tango_upper(better, worse, n, level),
        lower=lambda level: margin_mod.tango_lower(better, worse, n, level),
        mde=lambda level: margin_mod.binary_mde(n, q, tol, level, POWER, noise),
        margin_mde=lambda level: margin_mod.binary_margin_mde(n, q, level, POWER),
        needed=needed,
    )


def score_test(diffs: list[float], tol: float) -> Tested:
    n = len(diffs)
    df = n - 1
    mean, se = stats.mean_and_se(diffs)
    sd = se * math.sqrt(n)

    def needed(level: float, drop: float, margin: float) -> int | None:
        gap = drop - margin
        if gap <= 0.0:
            return None
        if sd == 0.0:
            return 2
        z_normal = stats.norm_ppf(1.0 - level) + stats.norm_ppf(POWER)
        k = max(2, math.ceil((z_normal * sd / gap) ** 2))
        for _ in range(20):  # fixed point: the t quantiles depend on the count
            z = stats.t_ppf(1.0 - level, k - 1) + stats.t_ppf(POWER, k - 1)
            new = max(2, math.ceil((z * sd / gap) ** 2))
            if new == k:
                break
            k = new
        return k

    return Tested(
        n=n,
        baseline_mean=math.nan,
        current_mean=math.nan,
        diff=mean,
        test="paired-t",
        flips=None,
        p_worse=margin_mod.t_p_below(mean, se, df, -tol),
        p_better=margin_mod.t_p_below(-mean, se, df, -tol),
        p_noninferior=margin_mod.t_p_below(-mean, se, df, tol),
        upper=lambda level: margin_mod.t_bound(mean, se, df, level),
        lower=lambda level: -margin_mod.t_bound(-mean, se, df, level),
        mde=lambda level: tol + margin_mod.t_mde(se, df, level, POWER),
        margin_mde=lambda level: margin_mod.t_mde(se, df, level, POWER),
        needed=needed,
    )
