"""Seeded simulation of human-calibrated estimates, and a check on real judges (LLMBar).

Simulation: the quantity estimated is E[Y], the chance that a human passes an
output (0.7). Each run draws a fresh iid dataset of N = 2,000 cases, the
judge's verdict Ŷ for every case and the human label Y for a uniform sample
of n = 200, then computes

* the humans-only estimate (mean of the 200 labels, Wilson interval),
* the judge-only estimate (judge pass rate over all cases, Wilson interval),
* the PPI++ estimate (:func:`pytest_llmfunnel.stats.ppi_mean_ci`, power-tuned
  λ; the 1,800 unlabelled cases' judge verdicts plus the 200 labelled pairs).

Judges: Ŷ = Y with probability ρ, otherwise an independent draw with the
same pass rate, so corr(Y, Ŷ) = ρ exactly, for ρ ∈ {0, 0.3, 0.6, 0.9}; and a
judge biased towards passing (Ŷ = Y with probability 0.6, otherwise a pass
with probability 0.95: it passes 80% of outputs where humans pass 70%).

With ``--llmbar DIR`` (the LLMBar Natural set: 100 pairwise items with expert
gold labels and recorded verdicts of three judges in both orders) it reports
per judge: accuracy, Cohen's kappa and position consistency (through
:func:`pytest_llmfunnel.calibration.calibrate` on pairwise records), and the
PPI++ estimate of the gold "output 1 wins" rate from 10% and 20% labelled
slices (many seeded slices) against its full-data value.

Run: ``python benchmarks/calibration.py [--runs 2000] [--seed 0] [--llmbar DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmfunnel import stats
from pytest_llmfunnel.calibration import calibrate

TRUTH = 0.7
JUDGES = ("GPT-4", "ChatGPT", "LLaMA2")
PUBLISHED_GPT4 = "published GPT-4 (Vanilla): accuracy 95.5%, both orders right 93%, consistency 95%"


@dataclass(frozen=True)
class Setting:
    name: str
    agree: float  # chance the judge copies the human label
    other_pass: float  # pass rate of the judge's independent draw otherwise


SETTINGS = (
    Setting("rho=0", 0.0, TRUTH),
    Setting("rho=0.3", 0.3, TRUTH),
    Setting("rho=0.6", 0.6, TRUTH),
    Setting("rho=0.9", 0.9, TRUTH),
    Setting("biased judge", 0.6, 0.95),
)


def simulate(
    setting: Setting, runs: int, n_cases: int, n_labels: int, seed: int
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    covered = {"ppi": 0, "humans": 0, "judge": 0}
    widths = {"ppi": 0.0, "humans": 0.0, "judge": 0.0}
    corr = 0.0
    for _ in range(runs):
        y = (rng.random(n_cases) < TRUTH).astype(float)
        copy = rng.random(n_cases) < setting.agree
        yhat = np.where(copy, y, (rng.random(n_cases) < setting.other_pass).astype(float))
        labelled = np.zeros(n_cases, dtype=bool)
        labelled[rng.choice(n_cases, n_labels, replace=False)] = True
        _, lo, hi, _ = stats.ppi_mean_ci(
            y[labelled].tolist(), yhat[labelled].tolist(), yhat[~labelled].tolist()
        )
        h_lo, h_hi = stats.wilson_interval(int(y[labelled].sum()), n_labels)
        j_lo, j_hi = stats.wilson_interval(int(yhat.sum()), n_cases)
        for key, (a, b) in {"ppi": (lo, hi), "humans": (h_lo, h_hi), "judge": (j_lo, j_hi)}.items():
            covered[key] += a <= TRUTH <= b
            widths[key] += b - a
        corr += float(np.corrcoef(y, yhat)[0, 1]) if yhat.std() > 0 else 0.0
    result = {f"{k}_coverage": v / runs for k, v in covered.items()}
    result.update({f"{k}_width": v / runs for k, v in widths.items()})
    result["corr"] = corr / runs
    return result


# LLMBar -----------------------------------------------------------------------


def load_llmbar(folder: Path) -> tuple[list[int], dict[str, list[tuple[int, int]]]]:
    """Gold labels and, per judge, (winner shown in original order, winner when swapped)."""
    items = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    gold = [int(item["label"]) for item in items]
    verdicts = {}
    for judge in JUDGES:
        path = folder / "judges" / f"{judge}.vanilla.json"
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if [r["input"] for r in recorded] != [i["input"] for i in items]:
            raise SystemExit(f"{path.name}: items are not in the dataset's order")
        verdicts[judge] = [
            (int(r["results"][0]["swap = False"]["winner"]),
             int(r["results"][0]["swap = True"]["winner"]))
            for r in recorded
        ]
    return gold, verdicts


def pairwise_records(picks: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """One record per item with a pairwise stage; samples are output 1's view per order."""
    return [
        {"dataset": "llmbar", "case": str(i), "variant": "output_1", "output": str(i),
         "stages": [{"stage": "llmbar", "kind": "judge", "status": "measured", "score": 0.0,
                     "samples": [1.0 if a == 1 else -1.0, 1.0 if b == 1 else -1.0]}]}
        for i, (a, b) in enumerate(picks)
    ]


def llmbar_report(folder: Path, slices: int, seed: int) -> list[str]:
    gold, verdicts = load_llmbar(folder)
    n = len(gold)
    truth = sum(g == 1 for g in gold) / n
    lines = [f"LLMBar Natural: {n} items; gold 'output 1 wins' rate {truth:.2f}",
             f"{'judge':8} {'accuracy':>20} {'both right':>10} {'kappa':>6} "
             f"{'consistency':>20}"]
    estimates = []
    for judge, picks in verdicts.items():
        flat_judge = [p for pair in picks for p in pair]
        flat_gold = [g for g in gold for _ in (0, 1)]
        right = sum(j == g for j, g in zip(flat_judge, flat_gold, strict=True))
        lo, hi = stats.wilson_interval(right, 2 * n)
        both = sum(a == g and b == g for (a, b), g in zip(picks, gold, strict=True)) / n
        kappa = stats.cohen_kappa(flat_judge, flat_gold)
        (cal,) = calibrate(pairwise_records(picks), [])
        pc = cal.position_consistency
        assert pc is not None
        lines.append(f"{judge:8} {right / (2 * n):6.1%} [{lo:.1%}, {hi:.1%}] {both:10.0%} "
                     f"{kappa:6.2f} {pc.estimate:6.0%} [{pc.lo:.0%}, {pc.hi:.0%}]")
        yhat = [((a == 1) + (b == 1)) / 2 for a, b in picks]
        for share in (0.1, 0.2):
            estimates.append(ppi_slices(judge, share, gold, yhat, truth, slices, seed))
    lines.append(PUBLISHED_GPT4)
    lines.append(f"PPI++ of the 'output 1 wins' rate from labelled slices ({slices} seeded "
                 "slices each; truth = full-data value)")
    lines.append(f"{'judge':8} {'labelled':>8} {'PPI cover':>9} {'PPI ±':>6} "
                 f"{'humans cover':>12} {'humans ±':>8} {'lambda':>6}")
    return lines + estimates


def ppi_slices(judge: str, share: float, gold: list[int], yhat: list[float], truth: float,
               slices: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    n = len(gold)
    k = round(share * n)
    y = [float(g == 1) for g in gold]
    covered = humans_covered = 0
    width = humans_width = lam_sum = 0.0
    for _ in range(slices):
        chosen = set(rng.choice(n, k, replace=False).tolist())
        lab = sorted(chosen)
        rest = [yhat[i] for i in range(n) if i not in chosen]
        _, lo, hi, lam = stats.ppi_mean_ci([y[i] for i in lab], [yhat[i] for i in lab], rest)
        h_lo, h_hi = stats.wilson_interval(int(sum(y[i] for i in lab)), k)
        covered += lo <= truth <= hi
        humans_covered += h_lo <= truth <= h_hi
        width += (hi - lo) / 2
        humans_width += (h_hi - h_lo) / 2
        lam_sum += lam
    return (f"{judge:8} {k:8d} {covered / slices:9.3f} {width / slices:6.3f} "
            f"{humans_covered / slices:12.3f} {humans_width / slices:8.3f} "
            f"{lam_sum / slices:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--llmbar", type=Path, default=None, metavar="DIR")
    parser.add_argument("--slices", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"N={args.cases} cases, n={args.labels} labelled uniformly, truth E[Y]={TRUTH}, "
          f"{args.runs} runs per setting, 95% intervals, seed={args.seed}")
    print(f"{'setting':14} {'corr':>5} {'PPI cover':>9} {'PPI ±':>6} {'humans cover':>12} "
          f"{'humans ±':>8} {'judge cover':>11} {'width ratio':>11}")
    results = {}
    for i, setting in enumerate(SETTINGS):
        r = simulate(setting, args.runs, args.cases, args.labels, args.seed + i)
        results[setting.name] = r
        print(f"{setting.name:14} {r['corr']:5.2f} {r['ppi_coverage']:9.3f} "
              f"{r['ppi_width'] / 2:6.3f} {r['humans_coverage']:12.3f} "
              f"{r['humans_width'] / 2:8.3f} {r['judge_coverage']:11.3f} "
              f"{r['ppi_width'] / r['humans_width']:11.3f}")
    coverage = [r["ppi_coverage"] for r in results.values()]
    narrower = all(results[s]["ppi_width"] < results[s]["humans_width"]
                   for s in ("rho=0.6", "rho=0.9"))
    ok = all(0.94 <= c <= 0.96 for c in coverage)
    print(f"PPI coverage within 94-96% in every setting: {'yes' if ok else 'NO'}; "
          f"PPI narrower than humans-only for rho >= 0.6: {'yes' if narrower else 'NO'} "
          f"({time.perf_counter() - start:.0f} s)")
    if args.llmbar is not None:
        for line in llmbar_report(args.llmbar, args.slices, args.seed):
            print(line)
    ratio = results["rho=0.6"]["ppi_width"] / results["rho=0.6"]["humans_width"]
    print(f"calibration ppi_coverage_min={min(coverage):.3f} "
          f"ppi_coverage_max={max(coverage):.3f} width_ratio_rho06={ratio:.3f}")


if __name__ == "__main__":
    main()
