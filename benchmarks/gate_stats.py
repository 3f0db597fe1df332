"""Seeded simulation of the regression gate's decision rule, through the real decision function.

Every session is decided by :func:`pytest_llmfunnel.gate.decision.decide`, the function
the plugin uses, with its defaults (alpha 0.05, tolerance 2 points, Holm across
every gated metric of the session).

The world simulated, per gated pass-rate metric and case:

* each case has a true label (pass with the metric's base rate); a judge
  verdict is the true label flipped with probability ``e`` (judge noise);
* the baseline's verdicts are noisy; in the current run a share ``CHANGED``
  of the outputs changed and is judged afresh (noise on both sides), the rest
  is unchanged and *reuses the baseline's verdict*, as the plugin does;
* ``e`` is set so that the A/A discordance (the share of cases whose verdict
  flips by noise alone) is the ``disc`` of the setting: CHANGED·2e(1−e);
* a true drop of D points turns true passes into true fails among the changed
  outputs, so that the expected *verdict* pass rate drops by exactly D.

Only the four cells of each metric's paired 2x2 table matter to the gate, so
each sample is drawn as multinomial counts over them and handed to
``decide`` as per-case 0/1 columns.

Reported, per n in {50, 200, 1000, 5000}, discordance in {1%, 5%, 10%} and
3 or 12 gated metrics per session:

* A/A false-fail rate: share of sessions that fail with no true change
  (target <= alpha + 0.01), and the same with no output changed (exactly 0);
* false fails at the tolerance: one metric truly drops by exactly the
  tolerance, the others are A/A (target <= alpha + 0.01);
* bound coverage: single-metric sessions (level alpha) at a true drop of the
  tolerance; share whose reported upper bound is >= the true difference,
  simulated and computed exactly (the trinomial summed over the test's
  rejection region; target 0.94–0.96);
* power for a drop of tolerance + 5 points at n = 500 (target >= 0.80),
  simulated and exact, beside the ceiling no valid level-α/m test can pass
  (the smallest Neyman–Pearson power over the null's boundary);
* MDE ratio: the MDE the gate prints in A/A sessions against the true drop
  caught 80% of the time, computed exactly (the simulated one, on a grid of
  0.8–1.2 × the MDE, is printed beside it as a check; within 10%).

Run: ``python benchmarks/gate_stats.py [--sessions 200] [--seed 0] [--workers 2]``
(24,980 sessions with the defaults: about 15 minutes on 2 heavily shared cores).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from pytest_llmfunnel.gate import margin
from pytest_llmfunnel.gate.decision import GateDecision, MetricSpec, PairedSample, decide

ALPHA = 0.05
TOL = MetricSpec("m", "binary").tolerance
CHANGED = 0.5  # share of outputs the change touches (the rest reuse their verdicts)
RATES = (0.85, 0.70, 0.60, 0.80)  # base pass rates, cycled over the metrics of a session
NS = (50, 200, 1000, 5000)
DISCS = (0.01, 0.05, 0.10)
MS = (3, 12)


def noise_for(disc: float, changed: float = CHANGED) -> float:
    """Judge flip probability e with changed·2e(1−e) = disc."""
    return (1.0 - math.sqrt(1.0 - 2.0 * disc / changed)) / 2.0 if changed else 0.0


def changed_cells(rate: float, disc: float, drop: float, changed: float = CHANGED) -> list[float]:
    """P(both pass), P(pass→fail), P(fail→pass), P(both fail) among the changed outputs."""
    e = noise_for(disc, changed)
    f = drop / (changed * rate * (1.0 - 2.0 * e))  # true passes turned fails (changed ones)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"a drop of {drop} is impossible at rate {rate}, noise {e}")
    ok, bad = 1.0 - e, e

    def pair(lb: int, lc: int) -> tuple[float, float, float, float]:
        pb = ok if lb else bad
        pc = ok if lc else bad
        return pb * pc, pb * (1 - pc), (1 - pb) * pc, (1 - pb) * (1 - pc)

    return [
        rate * (1 - f) * a + rate * f * b + (1 - rate) * c
        for a, b, c in zip(pair(1, 1), pair(1, 0), pair(0, 0), strict=True)
    ]


def same_cells(rate: float, disc: float, changed: float = CHANGED) -> list[float]:
    """The cells among unchanged outputs: the baseline's verdict reused, nothing flips."""
    e = noise_for(disc, changed)
    v = rate * (1 - e) + (1 - rate) * e
    return [v, 0.0, 0.0, 1.0 - v]


def cells(rate: float, disc: float, drop: float, changed: float = CHANGED) -> list[float]:
    """The four cells over all cases, changed and unchanged outputs together."""
    if not changed:
        return same_cells(rate, disc, changed)
    return [(1 - changed) * s + changed * c for s, c in zip(
        same_cells(rate, disc, changed), changed_cells(rate, disc, drop, changed), strict=True)]


def sample(spec: MetricSpec, dataset: str, counts: np.ndarray, unchanged: int) -> PairedSample:
    both, worse, better, neither = (int(x) for x in counts)
    base = (1.0,) * (both + worse) + (0.0,) * (better + neither)
    cur = (1.0,) * both + (0.0,) * worse + (1.0,) * better + (0.0,) * neither
    return PairedSample(spec, dataset, base, cur, unchanged)


SPECS = tuple(MetricSpec(f"metric{i}", "binary") for i in range(12))


def session(
    rng: np.random.Generator, n: int, disc: float, m: int, drop: float = 0.0,
    changed: float = CHANGED,
) -> list[GateDecision]:
    """One session of m gated metrics; metric 0 truly drops by ``drop``."""
    samples = []
    for i in range(m):
        rate = RATES[i % len(RATES)]
        # The unchanged outputs (verdicts reused) and the changed ones (judged afresh).
        unchanged = int(rng.binomial(n, 1.0 - changed))
        counts = rng.multinomial(unchanged, same_cells(rate, disc, changed))
        if changed:
            counts = counts + rng.multinomial(
                n - unchanged, changed_cells(rate, disc, drop if i == 0 else 0.0, changed))
        samples.append(sample(SPECS[i], f"ds{i // 4}", counts, unchanged))
    return decide(samples, alpha=ALPHA)


@dataclass(frozen=True)
class Job:
    kind: str  # "aa", "aa-unchanged", "tol", "cover", "power", "grid"
    n: int
    disc: float
    m: int
    drop: float
    sessions: int
    seed: int


def run(job: Job) -> tuple[Job, float, float]:
    """(job, share of hits, mean MDE of metric 0)."""
    rng = np.random.default_rng(job.seed)
    hits = 0
    mde = 0.0
    changed = 0.0 if job.kind == "aa-unchanged" else CHANGED
    truth = -job.drop
    for _ in range(job.sessions):
        decisions = session(rng, job.n, job.disc, job.m, job.drop, changed)
        first = decisions[0]
        if job.kind == "cover":
            hits += first.bound >= truth
        elif job.kind in ("power", "grid"):
            hits += first.decision == "regressed"
        else:
            hits += any(d.fails for d in decisions)
        mde += first.mde
    return job, hits / job.sessions, mde / job.sessions


def jobs(sessions: int, seed: int) -> Iterator[Job]:
    k = seed * 100_000
    for n in NS:
        for disc in DISCS:
            for m in MS:
                yield Job("aa", n, disc, m, 0.0, sessions, k := k + 1)
                yield Job("tol", n, disc, m, TOL, sessions, k := k + 1)
            yield Job("cover", n, disc, 1, TOL, 4 * sessions, k := k + 1)
        yield Job("aa-unchanged", n, 0.05, 12, 0.0, max(sessions // 10, 20), k := k + 1)
    for disc in DISCS:
        for m in MS:
            yield Job("power", 500, disc, m, TOL + 0.05, sessions, k := k + 1)


def exact_rejection(n: int, p_worse: float, p_better: float, level: float) -> float:
    """P(the gate's test of H0 Δ >= −τ rejects at ``level``), computed exactly.

    Sums the trinomial of (fail→pass, pass→fail) counts over the rejection
    region of :func:`margin.tango_p_below`, the p-value ``decide`` uses: for each
    fail→pass count, the smallest pass→fail count that rejects, then its tail.
    """
    total = 0.0
    b_max = min(n, int(n * p_better + 12 * math.sqrt(n * p_better + 1) + 20))
    for better in range(b_max + 1):
        weight = float(binom.pmf(better, n, p_better))
        if weight < 1e-15 or margin.tango_p_below(better, n - better, n, -TOL) >= level:
            continue
        lo, hi = -1, n - better
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if margin.tango_p_below(better, mid, n, -TOL) < level:
                hi = mid
            else:
                lo = mid
        total += weight * float(binom.sf(hi - 1, n - better, p_worse / (1 - p_better)))
    return total


def exact_80_drop(n: int, disc: float, level: float) -> float:
    """The true drop of metric 0 that the test at ``level`` catches exactly 80% of the time."""
    rate = RATES[0]
    lo, hi = TOL, 0.5
    for _ in range(30):
        mid = (lo + hi) / 2
        c = cells(rate, disc, mid)
        if exact_rejection(n, c[1], c[2], level) < 0.8:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def power_ceiling(n: int, p_worse: float, p_better: float, level: float) -> float:
    """An upper bound on the power of ANY level-``level`` test of H0 Δ >= −τ here.

    A valid test keeps its level at every point of the null's boundary
    (P(fail→pass) − P(pass→fail) = −τ), so its power is at most the
    Neyman–Pearson power (randomized, the most powerful test there is) of that
    point against the alternative; the bound is the smallest over the points.
    """
    # The least favourable point lies near the alternative's own discordance.
    points = np.linspace(max(1e-4, p_better - 0.04), p_better + 0.04, 41)
    w_max = min(n, int(n * (p_worse + 0.04) + 12 * math.sqrt(n) + 20))
    b_max = min(n, int(n * (p_better + 0.04) + 12 * math.sqrt(n) + 20))
    w, b = np.meshgrid(np.arange(w_max + 1), np.arange(b_max + 1), indexing="ij")
    ok = (w + b) <= n

    def pmf(pw: float, pb: float) -> np.ndarray:
        out = binom.pmf(w, n, pw) * binom.pmf(b, n - w, pb / (1 - pw))
        return np.where(ok, out, 0.0)

    alt = pmf(p_worse, p_better)
    best = 1.0
    for pb0 in points:
        null = pmf(pb0 + TOL, pb0)
        ratio = np.where(null > 0, alt / np.where(null > 0, null, 1.0), np.inf).ravel()
        order = np.argsort(-ratio, kind="stable")
        cum_null = np.cumsum(null.ravel()[order])
        cut = int(np.searchsorted(cum_null, level, side="right"))
        power = float(alt.ravel()[order][:cut].sum())
        if cut < order.size:  # randomize on the outcome that would overshoot the level
            spare = level - (cum_null[cut - 1] if cut else 0.0)
            power += float(alt.ravel()[order[cut]]) * spare / float(null.ravel()[order[cut]])
        best = min(best, power)
    return best


MDE_NS = (200, 1000, 5000)
MDE_GRID = (0.8, 0.9, 1.0, 1.1, 1.2)


def power_at_80(points: list[tuple[float, float]]) -> float:
    """Linear interpolation of the drop with power 0.8 on (drop, power) points."""
    points.sort()
    for (d0, p0), (d1, p1) in itertools.pairwise(points):
        if p0 <= 0.8 <= p1 and p1 > p0:
            return d0 + (0.8 - p0) * (d1 - d0) / (p1 - p0)
    return math.nan  # 80% power lies outside the grid


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[tuple[str, int, float, int], tuple[float, float]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for job, share, mde in pool.map(run, list(jobs(args.sessions, args.seed))):
            results[(job.kind, job.n, job.disc, job.m)] = (share, mde)
        # The MDE check: the MDE printed in A/A sessions, against a grid of true drops.
        grid = []
        k = args.seed * 100_000 + 50_000
        for n in MDE_NS:
            for disc in DISCS:
                printed = results[("aa", n, disc, 12)][1]
                for factor in MDE_GRID:
                    drop = printed * factor
                    grid.append(Job("grid", n, disc, 12, drop, args.sessions // 2, k := k + 1))
        mde_points: dict[tuple[int, float], list[tuple[float, float]]] = {}
        for job, share, _ in pool.map(run, grid):
            mde_points.setdefault((job.n, job.disc), []).append((job.drop, share))
    total = sum(j.sessions for j in jobs(args.sessions, args.seed)) + sum(
        j.sessions for j in grid)
    print(f"gate decision rule: alpha={ALPHA}, tolerance={TOL}, Holm across the session's "
          f"gated metrics, {CHANGED:.0%} of outputs changed (the rest reuse their verdicts); "
          f"{args.sessions} sessions per setting ({4 * args.sessions} for coverage), "
          f"{total} sessions in all, seed={args.seed}")
    row = "{:>5} {:>5} {:>3}  {:>9} {:>10} {:>8} {:>8} {:>7} {:>9} {:>9}"
    print(row.format("n", "disc", "m", "A/A fail", "fail at τ", "coverage", "exact",
                     "MDE", "80%-drop", "exact-80%"))
    worst_aa = worst_tol = 0.0
    exact_cover: list[float] = []
    ratios: list[float] = []
    for n in NS:
        for disc in DISCS:
            c = cells(RATES[0], disc, TOL)
            exact = 1.0 - exact_rejection(n, c[1], c[2], ALPHA)
            exact_cover.append(exact)
            for m in MS:
                aa, mde = results[("aa", n, disc, m)]
                tol, _ = results[("tol", n, disc, m)]
                cover = results[("cover", n, disc, 1)][0]
                worst_aa, worst_tol = max(worst_aa, aa), max(worst_tol, tol)
                sim = (power_at_80(mde_points[(n, disc)]) if m == 12 and n in MDE_NS
                       else math.nan)
                drop80 = exact_80_drop(n, disc, ALPHA / m) if m == 12 and n in MDE_NS \
                    else math.nan
                if math.isfinite(drop80):
                    ratios.append(mde / drop80)
                first = m == MS[0]
                print(row.format(n, f"{disc:.0%}", m, f"{aa:.3f}", f"{tol:.3f}",
                                 f"{cover:.3f}" if first else "", f"{exact:.4f}" if first else "",
                                 f"{mde:.4f}", "-" if math.isnan(sim) else f"{sim:.4f}",
                                 "-" if math.isnan(drop80) else f"{drop80:.4f}"))
    unchanged = max(results[("aa-unchanged", n, 0.05, 12)][0] for n in NS)
    print(f"A/A with no output changed (verdicts reused), 12 metrics: false-fail rate "
          f"{unchanged:.3f} at every n")
    powers = {(disc, m): results[("power", 500, disc, m)][0] for disc in DISCS for m in MS}
    ceilings, exact_powers = {}, {}
    for disc in DISCS:
        c = cells(RATES[0], disc, TOL + 0.05)
        for m in MS:
            ceilings[(disc, m)] = power_ceiling(500, c[1], c[2], ALPHA / m)
            exact_powers[(disc, m)] = exact_rejection(500, c[1], c[2], ALPHA / m)
    print("power for a drop of tolerance + 5 pts at n=500 (simulated / exact at level α/m / "
          "ceiling of any valid level-α/m test): " + ", ".join(
              f"disc {disc:.0%} m={m}: {p:.3f} / {exact_powers[(disc, m)]:.3f} / "
              f"{ceilings[(disc, m)]:.3f}" for (disc, m), p in powers.items()))
    # The exact powers decide the targets: the simulated ones carry noise of about 0.03.
    weakest = min(exact_powers, key=lambda k: exact_powers[k])
    power, ceiling = exact_powers[weakest], ceilings[weakest]
    ratio_far = max(ratios, key=lambda r: abs(r - 1.0)) if ratios else math.nan
    feasible = [k for k in powers if ceilings[k] >= 0.8]
    print(f"targets: A/A <= {ALPHA + 0.01:.2f}: {'yes' if worst_aa <= ALPHA + 0.01 else 'NO'}; "
          f"at τ <= {ALPHA + 0.01:.2f}: {'yes' if worst_tol <= ALPHA + 0.01 else 'NO'}; "
          f"exact coverage in [0.94, 0.96]: "
          f"{sum(0.94 <= c <= 0.96 for c in exact_cover)} of {len(exact_cover)} settings "
          f"(min {min(exact_cover):.4f}, max {max(exact_cover):.4f}; never below 0.95: "
          f"{'yes' if min(exact_cover) >= 0.95 else 'NO'}); MDE within 10% of the exact "
          f"80%-power drop: {'yes' if abs(ratio_far - 1) <= 0.1 else 'NO'}; exact power >= 0.80 "
          f"in {sum(exact_powers[k] >= 0.8 for k in powers)} of {len(powers)} settings, feasible "
          f"(ceiling >= 0.80) in {len(feasible)}; ({time.perf_counter() - started:.0f} s)")
    print(f"gate_stats false_alarm={worst_aa:.3f} false_fail_at_tolerance={worst_tol:.3f} "
          f"power={power:.3f} power_ceiling={ceiling:.3f} bound_coverage={min(exact_cover):.3f} "
          f"mde_ratio={ratio_far:.3f}")


if __name__ == "__main__":
    main()
