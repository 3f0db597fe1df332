"""Reports name an eval test by its funnel's ``name=`` when it has one.

Two eval tests regress in one session against the loopback judge: one whose
funnel is named ``support``, one without a name. Every output says which is
which: the terminal's funnel blocks, quality table, failing cases and verdict;
the pull-request report; the JSON results; and ``llmfunnel report`` on them.
Without a name, the test's name labels it, as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmfunnel.report.markdown import render_markdown
from pytest_llmfunnel.report.results_json import load_results
from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import N, worse_scores_low
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

TESTS = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance(), name="support"))
def test_named(case):
    pass

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_plain(case):
    pass
"""


def write_rows(pytester: pytest.Pytester, worse: range = range(0)) -> None:
    rows = cases(N)
    for i in worse:
        rows[i]["output"] = str(rows[i]["output"]) + " WORSE"
    write_jsonl(pytester.path / "cases.jsonl", rows)


@pytest.fixture
def regressed(pytester: pytest.Pytester, judge_server: JudgeServer,
              monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.setenv("COLUMNS", "120")
    worse_scores_low(judge_server)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=TESTS)
    write_rows(pytester)
    assert pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline")).ret == 0
    write_rows(pytester, range(0, N, 3))
    result = pytester.runpytest(*judge_args(
        judge_server, "--llm-funnel-report=r.md", "--llm-funnel-json=r.json",
        "-p", "no:cacheprovider", "-p", "no:xdist",
    ))
    assert result.ret == 1, result.stdout.str()
    return result


def test_the_terminal_labels_each_eval_test_by_its_funnels_name(
    regressed: pytest.RunResult,
) -> None:
    text = regressed.stdout.str()
    lines = regressed.stdout.lines
    # The funnel blocks: the name first, the test after it; no name, the test alone.
    assert any(x.startswith("support (test_eval.py::test_named): 60 cases") for x in lines)
    assert any(x.startswith("test_eval.py::test_plain: 60 cases") for x in lines)
    # The quality table's groups, the cases behind each failing metric, the verdict.
    assert "support:" in lines and "plain:" in lines
    assert "named:" not in lines
    assert any(x.startswith("why support: relevance pass rate regressed") for x in lines)
    assert any(x.startswith("why plain: relevance pass rate regressed") for x in lines)
    assert any(x.startswith("  1. support/") for x in lines)
    verdict = next(x for x in lines if x.startswith("llm-funnel gate FAILED"))
    assert "support: relevance pass rate" in verdict + text.split(verdict, 1)[1][:200]
    # The cases that failed say which eval test they belong to.
    start = lines.index("cases that failed or errored in the funnel (40):")
    listed = lines[start + 1:start + 11]
    assert listed[0].startswith("  support/c00  relevance: failed")
    assert all(x.startswith(("  support/c", "  plain/c")) for x in listed), listed
    # Only the gate's own failure lines and pytest's ids name the test itself.
    assert not [x for x in lines if "named/" in x and "test_eval.py::test_named/" not in x]
    assert "named:" not in text


def test_the_pr_report_json_and_report_command_use_the_name(
    regressed: pytest.RunResult, pytester: pytest.Pytester,
) -> None:
    markdown = (pytester.path / "r.md").read_text(encoding="utf-8")
    assert "| **support** |" in markdown and "| **plain** |" in markdown
    assert "support: relevance pass rate" in markdown
    assert "named" not in markdown.replace("test_named", "")
    data = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in data["datasets"]}
    assert by_name["test_eval.py::test_named"]["funnel"] == "support"
    assert "funnel" not in by_name["test_eval.py::test_plain"]
    named = [c for c in data["cases"] if c["dataset"] == "test_eval.py::test_named"]
    assert named and all(c["funnel"] == "support" for c in named)
    assert "support: relevance pass rate" in data["headline"]
    # The offline report of the file says the same as the live one.
    offline = render_markdown(load_results(pytester.path / "r.json"))
    assert "| **support** |" in offline and "support: relevance pass rate" in offline
    printed = subprocess.run(
        [str(Path(sys.executable).with_name("llmfunnel")), "report", "r.json", "--format", "text",
         "--width", "120"],
        cwd=pytester.path, capture_output=True, text=True, check=False,
    )
    assert printed.returncode == 0, printed.stderr
    out = printed.stdout.splitlines()
    assert any(x.startswith("support (test_eval.py::test_named): 60 cases") for x in out)
    assert "support:" in out and any(x.startswith("why support: ") for x in out)

