"""``-q`` on a failing gate: each failing metric said once, and no pointer to cases it hides."""

from __future__ import annotations

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import accept_baseline, project, rows_with, run

pytestmark = pytest.mark.usefixtures("openai_env")


@pytest.mark.parametrize("quiet", [True, False])
def test_a_failing_gate_says_each_metric_once_and_points_only_at_what_it_shows(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    quiet: bool,
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    accept_baseline(pytester, judge_server, rows_with())
    project(pytester, rows_with(range(0, 60, 3)))
    result = run(pytester, judge_server, "-p", "no:xdist", *(["-q"] if quiet else []))
    assert result.ret == 1, result.stdout.str()
    text = result.stdout.str()
    assert text.count("test_eval.py::test_eval/relevance pass rate: regressed:") == 1
    listed = "why eval: relevance pass rate regressed" in text
    assert listed is not quiet
    # The next step points at the cases only where they are listed.
    assert ("Inspect the flipped cases" in text) is listed
    if quiet:
        assert "Run without -q to see the cases behind each failing metric; if the change" in text
