"""The RAG example: its gate passes as shipped, and its demo regression fails it by name.

The example's target returns the retrieved chunks with each answer, so the
baseline, the gate and the lockfile carry structured outputs end to end.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.examples import IGNORED, run_example
from tests.support.paths import EXAMPLES

CLI = "import sys; from pytest_llmfunnel.cli import main; sys.exit(main())"
BASELINE = EXAMPLES / "rag" / "baselines" / "test_rag__test_ferry_answer.jsonl"


def test_rag_example_passes_its_gate_against_the_shipped_baseline(tmp_path: Path) -> None:
    result = run_example("rag", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llm-funnel gate passed: No regression in 5 gated metrics" in result.stdout
    for metric in ("context_precision pass rate", "context_recall mean score",
                   "rag_faithfulness pass rate", "answer_relevance pass rate"):
        assert metric in result.stdout, metric


def test_rag_regression_switch_fails_the_gate_and_names_the_cases(tmp_path: Path) -> None:
    result = run_example("rag", tmp_path, LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "chunk_chars=80" in result.stdout  # the header says which retriever runs
    assert " 13 passed, 16 llm-failed in " in result.stdout.strip().splitlines()[-1]
    flat = " ".join(result.stdout.split())
    assert "llm-funnel gate FAILED: Regression in 1 of 5 gated metrics (rag: " \
        "context_recall pass rate -41.4 pts" in flat
    why = "why rag: context_recall pass rate regressed (−41.4 pts): 12 cases pass → fail"
    assert why in flat
    for case in ("boarding-help", "buy-cash", "crossing-time"):
        assert f"rag/{case} context_recall: pass → fail (score 1 → 0)" in flat
    # A failing gate never rewrites the baseline.
    copied = tmp_path / "rag" / "baselines" / BASELINE.name
    assert copied.read_bytes() == BASELINE.read_bytes()


@pytest.mark.slow
def test_rag_replays_its_lockfile_with_no_judge_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "rag"
    shutil.copytree(EXAMPLES / "rag", folder, ignore=IGNORED)
    imported = subprocess.run(
        [sys.executable, "-c", CLI, "cache", "import", "verdicts.lock.jsonl"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "232 verdicts" in imported.stdout
    lock = (folder / "verdicts.lock.jsonl").read_text(encoding="utf-8").splitlines()[1:]
    assert all('"model":"offline-reference-v2"' in line for line in lock)
    for switch in ("", "1"):
        # The regressed run's outputs are new to the baseline: their verdicts
        # come from the imported lockfile, or replay-only would make them errors.
        result = run_example(
            "rag", tmp_path, "--llm-funnel-cache=replay-only", cwd=folder,
            LLMFUNNEL_DEMO_REGRESSION=switch,
        )
        assert result.returncode == (1 if switch else 0), result.stdout + result.stderr
        assert "29 cases, 29 promoted (100%), 0 errors" in result.stdout
