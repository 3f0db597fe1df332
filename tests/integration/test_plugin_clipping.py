"""Nothing a user needs is clipped: whole reasons at -v, whole metric names at any width.

Each test runs pytest in a temporary project against the loopback judge
server, at the widths a terminal or a CI log has (``COLUMNS``).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer, verdict
from pytest_llmfunnel.testing.actions import last_user_message
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

REASON = (
    "the answer names a blue box while the context describes a red crate that ships "
    "from the northern warehouse, so the claim is unsupported and the last sentence "
    "invents a delivery date"
)
LONG_A = "correctness_pass_rate_for_support"
LONG_B = "correctness_mean_score_for_support"


def failing_judge(server: JudgeServer) -> None:
    """Score 2 with a long reason for outputs that contain WORSE, 5 for the rest."""

    def answer(body: dict[str, Any]) -> object:
        text = last_user_message(body)
        if "WORSE" in text:
            return verdict(2, reasoning=REASON)
        return verdict(5, reasoning="fine")

    server.default = answer  # type: ignore[assignment]


def project(pytester: pytest.Pytester, worse: range) -> None:
    rows = cases(40)
    for i in worse:
        rows[i]["output"] += " WORSE"
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(
        test_eval=f"""
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(
            judges.relevance(name={LONG_A!r}), judges.coherence(name={LONG_B!r})))
        def test_eval(case, llm_result):
            pass
        """
    )


def problem_block(result: pytest.RunResult) -> list[str]:
    """The funnel's list of failed cases: from its heading to the next blank line."""
    start = result.outlines.index("cases that failed or errored in the funnel (2):")
    end = next(i for i in range(start, len(result.outlines))
               if not result.outlines[i].strip() or result.outlines[i].startswith("="))
    return result.outlines[start:end]


@pytest.mark.parametrize("columns", ["80", "200"])
@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_verbose_problem_list_shows_the_whole_reason(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    columns: str, verbosity: str,
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    failing_judge(judge_server)
    project(pytester, range(2))
    result = pytester.runpytest(*judge_args(judge_server, verbosity))
    assert result.ret != 0
    block = problem_block(result)
    listed = " ".join(" ".join(block).split())
    assert f"c00 {LONG_A}: failed (score 2): score 2 < threshold 4: {REASON}" in listed
    assert f"{LONG_B}: failed (score 2): score 2 < threshold 4: {REASON}" in listed
    assert "…" not in listed
    assert all(len(line) <= int(columns) for line in block)


def test_default_problem_list_says_how_to_see_a_cut_reason(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    failing_judge(judge_server)
    project(pytester, range(2))
    result = pytester.runpytest(*judge_args(judge_server))
    block = problem_block(result)
    assert any(line.endswith("…") for line in block)
    assert any("-v" in line and "whole" in line for line in block)


def test_default_problem_list_cuts_at_the_terminal_width_not_80(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    failing_judge(judge_server)
    project(pytester, range(2))
    result = pytester.runpytest(*judge_args(judge_server))
    first = problem_block(result)[1]
    # The cut falls at the terminal's width, not at 80 columns.
    assert first.startswith(f"  c00  {LONG_A}: failed (score 2): score 2 < threshold 4: ")
    assert len(first) == 200
    assert first.endswith("…")


@pytest.mark.parametrize("columns", ["80", "200"])
def test_quality_table_never_cuts_a_metric_name(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    columns: str,
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    failing_judge(judge_server)
    project(pytester, range(0))
    assert pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline")).ret == 0
    project(pytester, range(20))
    result = pytester.runpytest(*judge_args(judge_server, "-vv"))
    start = next(i for i, line in enumerate(result.outlines)
                 if line.startswith("quality per metric"))
    table = result.outlines[start:start + 12]
    names = [line.split()[0] for line in table if line.split()]
    assert LONG_A in names
    assert LONG_B in names
    assert not any("…" in line for line in table)


def test_judged_by_in_the_markdown_report_names_each_judge_stage_and_model(
    pytester: pytest.Pytester, judge_server: JudgeServer,
) -> None:
    failing_judge(judge_server)
    project(pytester, range(2))
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-report=report.md"))
    assert result.ret != 0
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    judged = next(line for line in report.splitlines() if line.startswith("Judged by:"))
    for stage in (LONG_A, LONG_B):
        shown = stage.replace("_", "&#95;")
        assert f"{shown}: gpt-4o-mini, prompt version " in judged, judged


@pytest.mark.slow
def test_whole_reasons_at_the_terminal_width_under_xdist(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    failing_judge(judge_server)
    project(pytester, range(2))
    result = pytester.runpytest_subprocess(*judge_args(judge_server, "-v", "-n", "2"))
    assert result.ret != 0
    block = problem_block(result)
    listed = " ".join(" ".join(block).split())
    assert f"c00 {LONG_A}: failed (score 2): score 2 < threshold 4: {REASON}" in listed
    assert all(len(line) <= 120 for line in block)
    assert any(len(line) > 80 for line in block)
