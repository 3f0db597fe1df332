"""A judge change is said out loud: old → new judge, and the baseline's figures under each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmfunnel.testing import Action, JudgeServer, verdict
from tests.support.runs import cases, judge_args, write_jsonl

N = 20


def strict_rubric_scores_odd_items_low(server: JudgeServer) -> None:
    """Every answer scores 5, except odd items under the strict rubric (2)."""

    def answer(body: dict[str, Any]) -> Action:
        text = json.dumps(body)
        odd = any(f"item {i}?" in text for i in range(1, N, 2))
        return verdict(2 if "Be strict." in text and odd else 5)

    server.default = answer


def project(pytester: pytest.Pytester, judge: str) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(N))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(
        test_eval=f"""
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel({judge}))
        def test_eval(case, llm_result):
            pass
        """
    )


def test_a_changed_judge_is_named_with_the_baselines_figures_under_both(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    strict_rubric_scores_odd_items_low(judge_server)
    project(pytester, "judges.rubric('quality', 'Is it right?')")
    assert pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline")).ret == 0
    project(pytester, "judges.rubric('quality', 'Is it right? Be strict.')")
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-report=report.md"))
    out = " ".join(result.stdout.str().split())
    assert (
        "test_eval.py::test_eval: judge of quality changed: gpt-4o-mini · prompt "
    ) in out
    assert (
        f"the baseline's {N} outputs re-judged: pass rate 100.0% → 50.0%; "
        "mean score 5 → 3.5 (old judge → new judge)"
    ) in out
    report = (pytester.path / "report.md").read_text()
    assert "### Judge changed" in report
    row = next(line for line in report.splitlines() if line.startswith("| test&#95;eval"))
    assert f"| {N} | 100.0% → 50.0% | 5 → 3.5 |" in row
    assert row.count("gpt-4o-mini · prompt ") == 2


def test_an_unchanged_judge_says_nothing(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    strict_rubric_scores_odd_items_low(judge_server)
    project(pytester, "judges.rubric('quality', 'Is it right?')")
    assert pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline")).ret == 0
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-report=report.md"))
    assert result.ret == 0
    assert "judge of quality changed" not in result.stdout.str()
    assert "Judge changed" not in (pytester.path / "report.md").read_text()
