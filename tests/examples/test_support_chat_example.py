"""examples/support_chat runs offline, passes its gate, and its demo regression fails it by turn."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.examples import IGNORED, run_example
from tests.support.paths import EXAMPLES

CLI = "import sys; from pytest_llmfunnel.cli import main; sys.exit(main())"
NAME = "support_chat"


def _words(text: str) -> str:
    return " ".join(text.split())


def test_support_chat_passes_offline_against_its_baseline(tmp_path: Path) -> None:
    result = run_example(NAME, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 19 passed, 1 llm-failed in " in result.stdout.strip().splitlines()[-1]
    assert "offline reference judge (rule-based, not an LLM)" in result.stdout
    assert "llm-funnel gate passed" in result.stdout
    assert not (EXAMPLES / NAME / ".llmfunnel").exists()


def test_support_chat_regression_fails_the_gate_naming_cases_and_turns(tmp_path: Path) -> None:
    result = run_example(NAME, tmp_path, columns=400, LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert " 7 passed, 13 llm-failed in " in result.stdout.strip().splitlines()[-1]
    out = _words(result.stdout)
    assert "llm-funnel gate FAILED: Regression in" in out
    assert "promotion rate -60.0 pts" in out
    # The failing case, the turn (1-based, with the user's message) and why.
    assert ("test_support_chat[track-order] - turn as expected: failed: 1 of 2 turns failed: "
            "turn 2 (user: 'Where is my order now?')") in out
    assert "test_support_chat[refund-long] - turn as expected: failed: 1 of 4 turns failed: " \
        "turn 4 (user: 'It never came. Refund please.')" in out
    shipped = EXAMPLES / NAME / "baselines" / "test_support_chat__test_support_chat.jsonl"
    assert (tmp_path / NAME / "baselines" / shipped.name).read_bytes() == shipped.read_bytes()


def test_support_chat_replays_its_lockfile_with_no_judge_at_all(tmp_path: Path) -> None:
    folder = tmp_path / NAME
    shutil.copytree(EXAMPLES / NAME, folder, ignore=IGNORED)
    (folder / "baselines").rename(folder / "no-baselines")  # no verdict reused: all replayed
    imported = subprocess.run(
        [sys.executable, "-c", CLI, "cache", "import", "verdicts.lock.jsonl"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    for switch in ("", "1"):
        result = run_example(
            NAME, tmp_path, "--llm-funnel-cache=replay-only", cwd=folder,
            LLMFUNNEL_DEMO_REGRESSION=switch,
        )
        assert "0 errors" in result.stdout, result.stdout
        expected = " 7 passed, 13 llm-failed in " if switch else " 19 passed, 1 llm-failed in "
        assert expected in result.stdout.strip().splitlines()[-1]
