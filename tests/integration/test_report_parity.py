"""``llmfunnel report --format text`` prints what the session printed, for what a file holds.

A real session against the loopback judge server regresses (a quarter of the
outputs get worse), writes its JSON results, and the command line renders
them at the same width: the verdict, the quality table, the tag table and the
cases behind the failing metric must be the same lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import accept_baseline, project, run
from tests.support.runs import cases

pytestmark = pytest.mark.usefixtures("openai_env")

N = 60
WORSE = range(0, N, 4)


def rows(worse: range | tuple[int, ...] = ()) -> list[dict[str, object]]:
    out = cases(N, tags=("billing", "account", "a-tag-name-long-enough-to-need-room"))
    for i in worse:
        out[i]["output"] = str(out[i]["output"]) + " WORSE"
    return out


def block(lines: list[str], starts: Callable[[str], bool]) -> list[str]:
    """The lines from the first that ``starts`` to the next blank line."""
    for i, line in enumerate(lines):
        if starts(line):
            end = lines.index("", i) if "" in lines[i:] else len(lines)
            return lines[i:end]
    return []


def session_lines(stdout: list[str]) -> list[str]:
    """The funnel summary of pytest's output, from its rule on."""
    start = next(i for i, line in enumerate(stdout) if " llm-funnel " in line and "===" in line)
    return stdout[start + 1:]


def llmfunnel() -> str:
    """The installed console script, beside this interpreter or on the PATH."""
    script = Path(sys.executable).with_name("llmfunnel")
    found = str(script) if script.exists() else shutil.which("llmfunnel")
    assert found, "the llmfunnel console script is not installed"
    return found


BLOCKS: dict[str, Callable[[str], bool]] = {
    "quality": lambda line: line.startswith("quality per metric"),
    "tags": lambda line: line.startswith("by case tag"),
    "failing cases": lambda line: line.startswith("why "),
    "verdict": lambda line: line.startswith("llm-funnel gate"),
    "problems": lambda line: line.startswith("cases that failed or errored"),
}


@pytest.mark.parametrize("columns", [80, 120])
def test_the_report_command_prints_the_sessions_gate_lines(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    columns: int,
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    accept_baseline(pytester, judge_server, rows())
    project(pytester, rows(WORSE))
    result = run(pytester, judge_server, "--llm-funnel-json=r.json", "-p", "no:cacheprovider")
    assert result.ret == 1, result.stdout.str()
    session = session_lines(result.stdout.lines)
    printed = subprocess.run(
        [llmfunnel(), "report", str(pytester.path / "r.json"), "--format", "text"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": str(columns)},
    ).stdout.splitlines()
    for name, starts in BLOCKS.items():
        mine = block(session, starts)
        assert mine, f"the session printed no {name} block"
        assert block(printed, starts) == mine, name
    assert max(len(line) for line in printed) <= columns
