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

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OFFLINE_JUDGE = "offline reference judge (rule-based, not an LLM)"


def run_example(
    name: str, tmp_path: Path, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Copy example ``name`` into ``tmp_path`` and run pytest in it (or in ``cwd``)."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "LLM_FUNNEL", "LLMFUNNEL_", "PYTEST_"))
    }
    environment.update(env, COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--llm-funnel", "-p", "no:cacheprovider", *args],
        cwd=cwd or folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "summary"),
    [
        ("support", "51 passed, 9 llm-failed"),
        ("summarization", "50 passed, 14 llm-failed"),
        ("extraction", "47 passed, 17 llm-failed"),
        ("ab_variants", "72 passed, 48 llm-failed"),
    ],
)
def test_example_passes_offline(name: str, summary: str, tmp_path: Path) -> None:
    result = run_example(name, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert f" {summary} in " in last, last
    assert OFFLINE_JUDGE in result.stdout
    assert (tmp_path / name / ".llmfunnel" / "cache").is_dir()


def test_support_regression_switch_evaluates_the_changed_answers(tmp_path: Path) -> None:
    result = run_example("support", tmp_path, LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "evaluating the 'answer_after_change' column" in result.stdout
    assert " 20 passed, 40 llm-failed in " in result.stdout.strip().splitlines()[-1]


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
