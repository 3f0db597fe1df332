"""Seeded simulation of human-calibrated pass rates, and a check on real judges (LLMBar).

1. Pass rates. Each run draws a dataset of N = 2,000 outputs: a human verdict
   Y (pass with probability 0.7) and a judge verdict Ŷ for each. The judge
   copies the human verdict (for ρ < 0: its opposite) with probability |ρ|
   and otherwise draws independently, so corr(Y, Ŷ) = ρ, for
   ρ ∈ {−0.5, 0, 0.3, 0.6, 0.9}. A uniform sample of 5%, 10%, 20% or 50% is
   labelled. The target is the pass rate of these N outputs (what the reports
   state), and the interval is the one the reports show
   (:func:`pytest_llmfunnel.review.calibrated_rate.calibrated_estimates`: the judge-aided
   regression estimator when it is narrower than humans only, else humans
   only). Printed: coverage, and the mean width over the humans-only width.
2. Position consistency. Pairwise comparisons with a true chance p that both
   orders agree, n comparisons each written to both variants' records as the
   funnel writes them; the interval from
   :func:`pytest_llmfunnel.review.calibration.calibrate`; its coverage of p.
3. LLMBar Natural (``--llmbar DIR``, default ``../shared/data/llmbar-natural``
   beside the checkout when present): 100 pairwise items with expert gold labels
   and three judges' recorded picks in both orders (the final verdict of each
   record, ``results[-1]``; the files' strategy is LLMBar's "Vanilla" prompt
   *with* rules). Each item becomes a comparison of two outputs, the gold label
   a human comparison label; :func:`calibrate` gives the pairwise judge's
   accuracy, kappa, Krippendorff's alpha and position consistency. Then the
   "output 1 wins" rate of the 100 items from 10% and 20% labelled slices,
   against its full-data value.

Run: ``python benchmarks/calibration.py [--runs 2000] [--seed 0] [--llmbar DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmfunnel.review.calibrated_rate import humans_only, with_judge
from pytest_llmfunnel.review.calibration import calibrate
from pytest_llmfunnel.review.slice import Label, comparisons

TRUTH = 0.7
RHOS = (-0.5, 0.0, 0.3, 0.6, 0.9)
SHARES = (0.05, 0.1, 0.2, 0.5)
JUDGES = ("GPT-4", "ChatGPT", "LLaMA2")
PUBLISHED_GPT4 = "published GPT-4 (Vanilla): accuracy 95.5%, both orders right 93%, consistency 95%"
DEFAULT_LLMBAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmbar-natural"


def reported(y: list[float], f_lab: list[float], f_rest: list[float], n_all: int) -> tuple[
        float, float, float]:
    """(lo, hi, humans-only half width) of the interval the reports show."""
    humans = humans_only(y, n_all)
    aided = with_judge(y, f_lab, f_rest)
    shown = aided if aided.half_width < humans.half_width else humans
    return shown.lo, shown.hi, humans.half_width


def simulate(rho: float, share: float, runs: int, n_cases: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n = round(share * n_cases)
    covered, ratio = 0, 0.0
    for _ in range(runs):
        y = (rng.random(n_cases) < TRUTH).astype(float)
        copy = rng.random(n_cases) < abs(rho)
        other = (rng.random(n_cases) < TRUTH).astype(float)
        f = np.where(copy, y if rho >= 0 else 1.0 - y, other)
        labelled = np.zeros(n_cases, dtype=bool)
        labelled[rng.choice(n_cases, n, replace=False)] = True
        lo, hi, humans_half = reported(y[labelled].tolist(), f[labelled].tolist(),
                                       f[~labelled].tolist(), n_cases)
        covered += lo <= y.mean() <= hi
        ratio += (hi - lo) / 2 / humans_half
    return {"coverage": covered / runs, "width_ratio": ratio / runs}


def comparison_records(views: list[tuple[float, float]], name: str = "versus") -> list[
        dict[str, Any]]:
    """Both variants' records of each comparison, as the funnel writes them."""
    records = []
    for i, (first, swapped) in enumerate(views):
        score = first if first == swapped else 0.0
        for variant, sign in (("a", 1.0), ("b", -1.0)):
            stage = {"stage": name, "kind": "judge", "status": "measured", "score": sign * score,
                     "samples": [sign * first, sign * swapped], "pair": ["a", "b"]}
            records.append({"dataset": "d", "case": str(i), "variant": variant,
                            "output": f"{variant}{i}", "stages": [stage]})
    return records


def position_consistency(runs: int, seed: int) -> list[tuple[float, int, float]]:
    rng = np.random.default_rng(seed)
    found = []
    for p in (0.8, 0.9, 0.95):
        for n in (60, 120, 300):
            covered = 0
            for _ in range(runs):
                agree = rng.random(n) < p
                views = [(1.0, 1.0) if a else (1.0, -1.0) for a in agree]
                cals = calibrate(comparison_records(views), [])
                pc = cals[0].position_consistency
                assert pc is not None and cals[0].comparisons == n
                covered += pc.lo <= p <= pc.hi
            found.append((p, n, covered / runs))
    return found


# LLMBar -----------------------------------------------------------------------


def load_llmbar(folder: Path) -> tuple[list[int], dict[str, list[tuple[int, int]]]]:
    """Gold labels and, per judge, (winner in the original order, winner when swapped)."""
    items = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    gold = [int(item["label"]) for item in items]
    verdicts = {}
    for judge in JUDGES:
        path = folder / "judges" / f"{judge}.vanilla.json"
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if [r["input"] for r in recorded] != [i["input"] for i in items]:
            raise SystemExit(f"{path.name}: items are not in the dataset's order")
        verdicts[judge] = [  # the final step of each record is the verdict
            (int(r["results"][-1]["swap = False"]["winner"]),
             int(r["results"][-1]["swap = True"]["winner"]))
            for r in recorded
        ]
    return gold, verdicts


def llmbar_report(folder: Path, slices: int, seed: int) -> tuple[list[str], float]:
    gold, verdicts = load_llmbar(folder)
    n = len(gold)
    truth = sum(g == 1 for g in gold) / n
    lines = [f"LLMBar Natural: {n} items; gold 'output 1 wins' rate {truth:.2f}",
             f"{'judge':8} {'pairwise accuracy':>20} {'kappa':>18} {'alpha (nominal)':>18} "
             f"{'position consistency':>20}"]
    gpt4 = float("nan")
    for judge, picks in verdicts.items():
        views = [(1.0 if a == 1 else -1.0, 1.0 if b == 1 else -1.0) for a, b in picks]
        records = comparison_records(views, "llmbar")
        labels = [Label(c.case, c.variant, c.output_hash, "llmbar", None,
                        1.0 if gold[int(c.case)] == 1 else -1.0, "gold", comparison=True)
                  for c in comparisons(records)]
        (cal,) = calibrate(records, labels)
        acc, kappa, alpha, pc = (cal.accuracy, cal.kappa, cal.alpha_nominal,
                                 cal.position_consistency)
        assert acc is not None and kappa is not None and alpha is not None and pc is not None
        if judge == "GPT-4":
            gpt4 = acc.estimate
        lines.append(f"{judge:8} {acc.estimate:6.1%} [{acc.lo:.1%}, {acc.hi:.1%}] "
                     f"{kappa.estimate:5.2f} [{kappa.lo:.2f}, {kappa.hi:.2f}] "
                     f"{alpha.estimate:5.2f} [{alpha.lo:.2f}, {alpha.hi:.2f}] "
                     f"{pc.estimate:6.0%} [{pc.lo:.0%}, {pc.hi:.0%}]")
    lines.append(PUBLISHED_GPT4 + " (pairwise accuracy here = both orders right: a split "
                 "counts as a tie, which gold never is)")
    lines.append(f"'output 1 wins' rate of the {n} items from labelled slices ({slices} "
                 "seeded slices each; target = the full-data rate of these items)")
    lines.append(f"{'judge':8} {'labelled':>8} {'cover':>6} {'±':>6} {'humans ±':>8}")
    y = [float(g == 1) for g in gold]
    rng = np.random.default_rng(seed)
    for judge, picks in verdicts.items():
        yhat = [float(a == 1 and b == 1) for a, b in picks]
        for share in (0.1, 0.2):
            k = round(share * n)
            covered, half, humans_half = 0, 0.0, 0.0
            for _ in range(slices):
                chosen = set(rng.choice(n, k, replace=False).tolist())
                lab = sorted(chosen)
                lo, hi, h = reported([y[i] for i in lab], [yhat[i] for i in lab],
                                     [yhat[i] for i in range(n) if i not in chosen], n)
                covered += lo <= truth <= hi
                half += (hi - lo) / 2
                humans_half += h
            lines.append(f"{judge:8} {k:8d} {covered / slices:6.3f} {half / slices:6.3f} "
                         f"{humans_half / slices:8.3f}")
    return lines, gpt4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--pc-runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--llmbar", type=Path, default=DEFAULT_LLMBAR, metavar="DIR")
    parser.add_argument("--slices", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"pass rate of N={args.cases} outputs, human pass rate {TRUTH}; {args.runs} runs per "
          f"setting; 95% intervals; seed={args.seed}")
    print(f"{'rho':>5} {'labelled':>8} {'coverage':>8} {'width ratio':>11}")
    coverage, ratios, rho06 = [], [], []
    for i, rho in enumerate(RHOS):
        for j, share in enumerate(SHARES):
            r = simulate(rho, share, args.runs, args.cases, args.seed + 10 * i + j)
            coverage.append(r["coverage"])
            ratios.append(r["width_ratio"])
            if rho == 0.6:
                rho06.append(r["width_ratio"])
            print(f"{rho:5.1f} {share:8.0%} {r['coverage']:8.3f} {r['width_ratio']:11.3f}")
    print(f"coverage {min(coverage):.3f}-{max(coverage):.3f} (target 0.94-0.96); width ratio "
          f"at most {max(ratios):.3f} (target <= 1.0), at rho=0.6 at most {max(rho06):.3f} "
          f"(target < 0.9) ({time.perf_counter() - start:.0f} s)")
    print(f"position consistency: {args.pc_runs} runs per setting; coverage of the true p")
    pcs = position_consistency(args.pc_runs, args.seed)
    for p, n, cover in pcs:
        print(f"  p={p:.2f} comparisons={n:4d} coverage={cover:.3f}")
    pc_cover = sum(c for _, _, c in pcs) / len(pcs)
    print(f"  mean coverage {pc_cover:.3f} (target 0.94-0.96)")
    pairwise = float("nan")
    if args.llmbar.is_dir():
        lines, pairwise = llmbar_report(args.llmbar, args.slices, args.seed)
        print("\n".join(lines))
    else:
        print(f"LLMBar Natural not found at {args.llmbar}: pass --llmbar DIR")
    print(f"({time.perf_counter() - start:.0f} s in all)")
    print(f"calibration ppi_coverage_min={min(coverage):.3f} "
          f"ppi_coverage_max={max(coverage):.3f} width_ratio_max={max(ratios):.3f} "
          f"width_ratio_rho06={max(rho06):.3f} pc_coverage={pc_cover:.3f} "
          f"pairwise_accuracy_gpt4={pairwise:.3f}")


if __name__ == "__main__":
    main()
