"""Seeded simulation of the regression gate: false alarms, power, and a naive gate beside it.

A session gates every default metric together: per dataset the promotion rate
plus three judge pass rates (4 binary metrics), on 3 datasets, so 12 gated
comparisons share one Holm family. A session *fails* when any decision fails.

* A/A: both runs have the same pass rates; a share ``discordance`` of cases
  changes pass/fail by noise alone, half in each direction.
* Power: n = 500; one metric truly drops 5 points (7.5% of cases flip
  pass→fail, 2.5% fail→pass); the other 11 are noise only at 1% discordance.
* Naive gate: fail when any metric's mean dropped at all.

Metrics are simulated independently (in a real funnel a dropped case fails
every judge metric at once; independence is the harder case for Holm, which
is conservative under positive dependence). Only the four cell counts of each
paired 2x2 table matter to the exact McNemar test, so each sample is built
from multinomial counts rather than case by case; the gate itself
(:func:`pytest_llmfunnel.gate.decide`) is run unchanged on every session.

Run: ``python benchmarks/gate_stats.py [--sessions 2000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from pytest_llmfunnel.gate import MetricSpec, PairedSample, decide

ALPHA = 0.05
DATASETS = ("support", "search", "summaries")
# Baseline pass rates: promotion rate first, then three judge criteria.
METRICS = (
    (MetricSpec("promotion_rate", "binary"), 0.85),
    (MetricSpec("faithfulness", "binary"), 0.70),
    (MetricSpec("relevance", "binary"), 0.60),
    (MetricSpec("helpfulness", "binary"), 0.80),
)
DROP_AT = (0, 1)  # (dataset, metric) that truly drops in the power setting


@dataclass(frozen=True)
class Outcome:
    gate_fail: float
    naive_fail: float
    detected: float  # share of sessions where the dropped metric was decided "regressed"
    significant: float  # ... where its Holm-adjusted p < alpha, tolerance aside
    mean_mde: float  # of the dropped metric in the power setting, of all metrics otherwise


def paired(spec: MetricSpec, dataset: str, cells: np.ndarray) -> PairedSample:
    """Baseline/current columns from 2x2 counts: both pass, pass→fail, fail→pass, both fail."""
    both, worse, better, neither = (int(x) for x in cells)
    base = (1.0,) * (both + worse) + (0.0,) * (better + neither)
    cur = (1.0,) * both + (0.0,) * worse + (1.0,) * better + (0.0,) * neither
    return PairedSample(metric=spec, dataset=dataset, baseline=base, current=cur)


def cell_probs(rate: float, worse: float, better: float) -> list[float]:
    return [rate - worse, worse, better, 1.0 - rate - better]


def run_setting(
    n: int, discordance: float, sessions: int, rng: np.random.Generator, *, drop: bool = False
) -> Outcome:
    gate_fail = naive_fail = detected = significant = 0
    mde_total = 0.0
    for _ in range(sessions):
        samples = []
        for d, dataset in enumerate(DATASETS):
            for m, (spec, rate) in enumerate(METRICS):
                if drop and (d, m) == DROP_AT:
                    probs = cell_probs(rate, 0.075, 0.025)
                else:
                    probs = cell_probs(rate, discordance / 2, discordance / 2)
                samples.append(paired(spec, dataset, rng.multinomial(n, probs)))
        decisions = decide(samples, alpha=ALPHA)
        gate_fail += any(dec.fails for dec in decisions)
        naive_fail += any(s.current.count(1.0) < s.baseline.count(1.0) for s in samples)
        if drop:
            dropped = decisions[DROP_AT[0] * len(METRICS) + DROP_AT[1]]
            detected += dropped.decision == "regressed"
            significant += dropped.p_adjusted < ALPHA
            mde_total += dropped.mde
        else:
            mde_total += sum(dec.mde for dec in decisions) / len(decisions)
    return Outcome(
        gate_fail / sessions,
        naive_fail / sessions,
        detected / sessions,
        significant / sessions,
        mde_total / sessions,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    m = len(DATASETS) * len(METRICS)
    tolerance = METRICS[0][0].tolerance
    print(
        f"{m} gated binary comparisons per session (Holm), alpha={ALPHA}, "
        f"tolerance={tolerance}, {args.sessions} sessions per setting, seed={args.seed}"
    )
    header = ("setting", "n", "disc", "gate fails", "naive fails", "detected", "signif.", "MDE")
    row = "{:<26} {:>5} {:>5} {:>10} {:>11} {:>8} {:>8} {:>6}"
    print(row.format(*header))
    worst_gate = worst_naive = 0.0
    for n in (50, 200, 1000):
        for disc in (0.01, 0.10):
            out = run_setting(n, disc, args.sessions, rng)
            worst_gate = max(worst_gate, out.gate_fail)
            worst_naive = max(worst_naive, out.naive_fail)
            print(
                row.format(
                    "A/A (false alarm)",
                    n,
                    f"{disc:.0%}",
                    f"{out.gate_fail:.3f}",
                    f"{out.naive_fail:.3f}",
                    "-",
                    "-",
                    f"{out.mean_mde:.3f}",
                )
            )
    power = None
    for n in (500, 750, 1000):
        out = run_setting(n, 0.01, args.sessions, rng, drop=True)
        power = power or out
        print(
            row.format(
                "5-point drop in 1 metric",
                n,
                "1%",
                f"{out.gate_fail:.3f}",
                f"{out.naive_fail:.3f}",
                f"{out.detected:.3f}",
                f"{out.significant:.3f}",
                f"{out.mean_mde:.3f}",
            )
        )
    assert power is not None
    print(
        f"false alarms <= alpha + 0.01 = {ALPHA + 0.01:.3f} in every setting: "
        f"{'yes' if worst_gate <= ALPHA + 0.01 else 'NO'}; power >= 0.80 at n=500: "
        f"{'yes' if power.detected >= 0.80 else 'NO'} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    print(
        f"gate_stats false_alarm={worst_gate:.3f} power={power.detected:.3f} "
        f"naive_false_alarm={worst_naive:.3f}"
    )


if __name__ == "__main__":
    main()
