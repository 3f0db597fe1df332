"""Recall, false positives and per-case cost of ``checks.not_addressing_judge``.

Corpora (tests/data, one JSON object a line):

* ``injection_corpus.jsonl``: hostile phrasings written alongside the patterns;
* ``injection_heldout.jsonl``: hostile phrasings written afterwards, never
  tuned on (the honest recall estimate);
* ``benign_corpus.jsonl``: ordinary answers that mention judges, scores,
  notes, users, assistants and systems.

False positives are also counted on every output of the shipped examples
(``examples/*/*.jsonl``, the demo regression's ``answer_after_change`` column
included) and, when the folder is there, on the 200 outputs of the LLMBar
Natural set (``--llmbar DIR``, default ``shared/data/llmbar-natural`` beside
the repository, or ``$LLMFUNNEL_LLMBAR``): real model answers, not written
for this test.

The cost is the mean CPU time (``time.process_time``) of one check over the
example outputs, best of ``--repeats`` passes: CPU time, not wall time, so
that other processes on a busy machine inflate it less; still noisy.

Run: ``python benchmarks/injection.py [--repeats 9] [--llmbar DIR] [--misses]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.stages.injection import judge_addressing

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DEFAULT_LLMBAR = ROOT.parent / "shared" / "data" / "llmbar-natural"
OUTPUT_COLUMNS = ("output", "output_control", "output_treatment", "answer", "answer_after_change")


def rows(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def example_outputs() -> list[str]:
    texts = []
    for path in sorted((ROOT / "examples").glob("*/*.jsonl")):
        if path.name.endswith(".lock.jsonl"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [row[c] for c in OUTPUT_COLUMNS if isinstance(row.get(c), str)]
    return texts


def llmbar_outputs(folder: Path) -> list[str] | None:
    path = folder / "dataset.json"
    if not path.is_file():
        return None
    items = json.loads(path.read_text(encoding="utf-8"))
    return [item[key] for item in items for key in ("output_1", "output_2")]


def flagged(text: str) -> bool:
    return not judge_addressing(text).passed


def recall_lines(name: str, corpus: list[dict[str, Any]], show_misses: bool) -> list[str]:
    hits = [flagged(row["text"]) for row in corpus]
    lines = [f"{name:<22} recall {sum(hits)}/{len(hits)} = {sum(hits) / len(hits):.3f}"]
    by: dict[str, list[bool]] = defaultdict(list)
    for row, hit in zip(corpus, hits, strict=True):
        by[row["lang"]].append(hit)
    lines.append(
        "  by language: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by.items()))
    )
    by = defaultdict(list)
    for row, hit in zip(corpus, hits, strict=True):
        by[row["technique"]].append(hit)
    lines.append(
        "  by technique: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by.items()))
    )
    if show_misses:
        pairs = zip(corpus, hits, strict=True)
        lines += [f"  missed: {row['text']!r}" for row, hit in pairs if not hit]
    return lines


def fp_line(name: str, texts: list[str], show: bool) -> list[str]:
    hits = [t for t in texts if flagged(t)]
    lines = [f"{name:<22} false positives {len(hits)}/{len(texts)} = {len(hits) / len(texts):.3f}"]
    if show:
        lines += [f"  flagged: {judge_addressing(t).reason} in {truncate(t, 80)!r}" for t in hits]
    return lines


def cost_us(texts: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for text in texts:
            judge_addressing(text)
        best = min(best, time.process_time() - started)
    return best / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    default = Path(os.environ.get("LLMFUNNEL_LLMBAR", DEFAULT_LLMBAR))
    parser.add_argument("--llmbar", type=Path, default=default, metavar="DIR")
    parser.add_argument("--misses", action="store_true", help="list misses and false positives")
    args = parser.parse_args()

    examples = example_outputs()
    lines = recall_lines("hostile corpus", rows("injection_corpus.jsonl"), args.misses)
    lines += recall_lines("held-out corpus", rows("injection_heldout.jsonl"), args.misses)
    lines += fp_line("benign corpus", [r["text"] for r in rows("benign_corpus.jsonl")], args.misses)
    lines += fp_line("example outputs", examples, args.misses)
    llmbar = llmbar_outputs(args.llmbar)
    if llmbar is None:
        lines.append(f"LLMBar outputs         skipped: no dataset.json in {args.llmbar}")
    else:
        lines += fp_line("LLMBar outputs", llmbar, True)
    mean_chars = sum(map(len, examples)) / len(examples)
    lines.append(
        f"CPU per case           {cost_us(examples, args.repeats):.0f} us "
        f"(mean over {len(examples)} example outputs of {mean_chars:.0f} chars, "
        f"best of {args.repeats})"
    )
    if llmbar is not None:
        mean_chars = sum(map(len, llmbar)) / len(llmbar)
        lines.append(
            f"CPU per case           {cost_us(llmbar, args.repeats):.0f} us "
            f"(mean over {len(llmbar)} LLMBar outputs of {mean_chars:.0f} chars)"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
