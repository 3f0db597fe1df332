"""A project for the regression gate's integration tests: cases, scoring server, baseline.

The server scores an output 2 when it contains ``WORSE`` and 5 otherwise, so a
test makes a real regression by changing outputs in the dataset, the way a
prompt change would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer, verdict
from pytest_llmfunnel.testing.actions import last_user_message
from tests.support.runs import cases, judge_args, write_jsonl

N = 60
"""Cases in the project's dataset."""


def worse_scores_low(server: JudgeServer) -> None:
    """Score 2 for outputs that contain WORSE, 5 for the rest; garbage for GARBAGE."""

    def answer(body: dict[str, Any]) -> object:
        text = last_user_message(body)
        if "GARBAGE" in text:
            return verdict(99)  # outside the scale: an error verdict after retries
        return verdict(2 if "WORSE" in text else 5, reasoning="graded")

    server.default = answer  # type: ignore[assignment]


def project(
    pytester: pytest.Pytester, rows: list[dict[str, Any]], *, judge: str = "judges.relevance()",
    checks: str = "", ini: str = "llm_funnel_baseline_dir = baselines",
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makeini(f"[pytest]\n{ini}\n")
    stages = ", ".join(s for s in (checks, judge) if s)
    pytester.makepyfile(
        test_eval=f"""
        import pytest
        from pytest_llmfunnel import Funnel, checks, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel({stages}))
        def test_eval(case, llm_result):
            pass
        """
    )


def rows_with(worse: Sequence[int] = (), **changes: Any) -> list[dict[str, Any]]:
    """The N base cases; the outputs of ``worse`` get WORSE in them."""
    rows = cases(N)
    for i in worse:
        rows[i]["output"] += " WORSE"
    return rows


def run(pytester: pytest.Pytester, server: JudgeServer, *extra: str) -> pytest.RunResult:
    return pytester.runpytest(*judge_args(server, *extra))


def accept_baseline(
    pytester: pytest.Pytester, server: JudgeServer, rows: list[dict[str, Any]], **kw: Any
) -> None:
    """The usual start: the scoring server, a project, and its baseline written."""
    worse_scores_low(server)
    project(pytester, rows, **kw)
    assert run(pytester, server, "--llm-funnel-update-baseline").ret == 0
