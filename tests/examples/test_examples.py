"""Each shipped example runs offline and passes with the counts its README promises.

Every example is copied to a temporary folder first, so the run writes its
verdict cache there and never into the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.examples import IGNORED, run_example
from tests.support.paths import EXAMPLES

OFFLINE_JUDGE = "offline reference judge (rule-based, not an LLM)"
CLI = "import sys; from pytest_llmfunnel.cli import main; sys.exit(main())"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "summary"),
    [
        ("support", "51 passed, 9 llm-failed"),
        ("summarization", "50 passed, 14 llm-failed"),
        ("extraction", "47 passed, 17 llm-failed"),
        ("ab_variants", "172 passed, 68 llm-failed"),
        ("agent", "18 passed, 2 llm-failed"),
        ("rag", "26 passed, 3 llm-failed"),
        ("support_chat", "19 passed, 1 llm-failed"),
    ],
)
def test_example_passes_offline(name: str, summary: str, tmp_path: Path) -> None:
    # As a CI job runs it: there an eval test without a baseline fails the run.
    result = run_example(name, tmp_path, CI="true")
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert f" {summary} in " in last, last
    assert OFFLINE_JUDGE in result.stdout
    assert not (EXAMPLES / name / ".llmfunnel").exists()
    reused = {"support": 112, "agent": 19, "rag": 116, "summarization": 55, "extraction": 53}
    if name in reused:
        # Its shipped baseline answers for every unchanged output: no judge asked.
        assert f"reused {reused[name]} baseline verdicts of unchanged" in result.stdout
    else:
        assert (tmp_path / name / ".llmfunnel" / "cache").is_dir()


def test_support_passes_its_regression_gate_against_the_shipped_baseline(
    tmp_path: Path,
) -> None:
    result = run_example("support", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "llm-funnel gate passed: No regression in 3 gated metrics" in result.stdout


def test_support_regression_switch_fails_the_gate(tmp_path: Path) -> None:
    result = run_example("support", tmp_path, LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "evaluating the 'answer_after_change' column" in result.stdout
    assert " 20 passed, 40 llm-failed in " in result.stdout.strip().splitlines()[-1]
    assert "llm-funnel gate FAILED: Regression in 2 of 3 gated metrics" in result.stdout
    # Wrapped to the terminal's width: where a line breaks depends on COLUMNS.
    assert "accept it with --llm-funnel-update-baseline" in " ".join(result.stdout.split())
    # The baseline file is only read: a failing gate never rewrites it.
    shipped = EXAMPLES / "support" / "baselines" / "test_support__test_support_answer.jsonl"
    copied = tmp_path / "support" / "baselines" / shipped.name
    assert copied.read_bytes() == shipped.read_bytes()


@pytest.mark.slow
def test_support_replays_its_lockfile_with_no_judge_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "support"
    shutil.copytree(EXAMPLES / "support", folder, ignore=IGNORED)
    imported = subprocess.run(
        [sys.executable, "-c", CLI, "cache", "import", "verdicts.lock.jsonl"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "184 verdicts" in imported.stdout
    for switch in ("", "1"):
        result = run_example(
            "support", tmp_path, "--llm-funnel-cache=replay-only", cwd=folder,
            LLMFUNNEL_DEMO_REGRESSION=switch,
        )
        assert result.returncode == (1 if switch else 0), result.stdout + result.stderr
        assert "0 errors" in result.stdout  # every verdict replayed, none missing


def test_ab_variants_reports_the_pairwise_tally(tmp_path: Path) -> None:
    result = run_example("ab_variants", tmp_path)
    assert (
        "pairwise helpfulness over 60 cases: treatment wins 37, control wins 6, ties 17"
        in result.stdout
    )


def test_an_example_runs_from_outside_its_folder(tmp_path: Path) -> None:
    # The example's own pytest.ini makes it the rootdir wherever pytest starts.
    result = run_example("extraction", tmp_path, "extraction", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"rootdir: {tmp_path / 'extraction'}" in result.stdout
    assert " 47 passed, 17 llm-failed in " in result.stdout.strip().splitlines()[-1]


def test_docs_sample_report_is_the_support_examples_regression_report(tmp_path: Path) -> None:
    """docs/sample-report.md is what CI would post for the demo regression, kept current.

    After an intended change, regenerate it with LLMFUNNEL_UPDATE_GOLDEN=1 and read the diff.
    """
    result = run_example(
        "support", tmp_path, "--llm-funnel-report=report.md", LLMFUNNEL_DEMO_REGRESSION="1"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = (tmp_path / "support" / "report.md").read_text(encoding="utf-8")
    sample = EXAMPLES.parent / "docs" / "sample-report.md"
    if os.environ.get("LLMFUNNEL_UPDATE_GOLDEN"):
        sample.write_text(report, encoding="utf-8")
    assert report == sample.read_text(encoding="utf-8"), "docs/sample-report.md is stale"
    assert report.startswith("<!-- pytest-llmfunnel report -->")
    assert "Regression in 2 of 3 gated metrics" in report


def test_agent_regression_switch_fails_the_gate_and_names_the_cases(tmp_path: Path) -> None:
    normal = run_example("agent", tmp_path / "normal")
    assert normal.returncode == 0, normal.stdout + normal.stderr
    assert "llm-funnel gate passed" in normal.stdout
    result = run_example("agent", tmp_path / "regressed", LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert " 7 passed, 13 llm-failed in " in result.stdout.strip().splitlines()[-1]
    out = " ".join(result.stdout.split())
    assert "llm-funnel gate FAILED" in out
    assert "look-rome booking as asked: failed: book_flight was called, but the case expects" in out
    assert "book-oslo-2 booking as asked: failed: no call of book_flight matches" in out
