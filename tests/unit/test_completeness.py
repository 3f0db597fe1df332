"""How much of its evaluation a session ran: the plain rules, without a pytest session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmfunnel.completeness import Completeness, DatasetCount, assess
from pytest_llmfunnel.report.completeness import Extent
from pytest_llmfunnel.report.summary import summarize

OK, FAILED, INTERRUPTED, INTERNAL = 0, 1, 2, 3


def one(evaluated: int, selected: int | None = 12, total: int | None = 12,
        started: int | None = None) -> list[DatasetCount]:
    begun = selected if started is None else started
    return [DatasetCount("t.py::test_eval", evaluated, selected, total, begun)]


def test_a_whole_run_is_complete_and_says_nothing() -> None:
    scope = assess(one(12), exit_code=OK)
    assert scope.status == "complete" and scope.phrase() == ""
    assert summarize([], (), scope).lead() == "No gate: no baseline to compare with"


@pytest.mark.parametrize("exit_code", [OK, FAILED])
def test_a_selection_that_ran_to_its_end_is_partial(exit_code: int) -> None:
    scope = assess(one(14, selected=14, total=400), exit_code=exit_code)
    assert scope.status == "partial" and scope.stopped is None
    assert scope.phrase() == "partial: 14 of 400 cases"


def test_skipped_items_make_a_run_partial_not_incomplete() -> None:
    # 12 selected and begun, 2 skipped in their setup: 10 evaluated.
    scope = assess(one(10), exit_code=OK)
    assert scope.status == "partial" and scope.phrase() == "partial: 10 of 12 cases"


def test_ctrl_c_is_incomplete_even_when_every_case_had_reported() -> None:
    scope = assess(one(12), exit_code=INTERRUPTED)
    assert scope.status == "incomplete"
    assert scope.phrase() == (
        "incomplete run, partial: 12 of 12 cases evaluated; no gate decision "
        "(the run was interrupted)"
    )


def test_x_stops_with_cases_that_never_ran() -> None:
    scope = assess(one(3, started=3), exit_code=FAILED, stop_reason="stopping after 1 failures")
    assert scope.status == "incomplete"
    assert scope.stopped == "stopped early: stopping after 1 failures; 9 selected cases never ran"
    assert scope.counts() == "partial: 3 of 12 cases evaluated"


def test_x_on_the_last_item_leaves_a_complete_run() -> None:
    scope = assess(one(12), exit_code=FAILED, stop_reason="stopping after 1 failures")
    assert scope.status == "complete"


def test_an_early_exit_with_status_0_is_caught_by_the_items_that_never_ran() -> None:
    scope = assess(one(4, started=4), exit_code=OK, stop_reason="stopped by the test")
    assert scope.status == "incomplete" and "8 selected cases never ran" in (scope.stopped or "")


def test_a_lost_worker_or_an_internal_error_is_incomplete() -> None:
    lost = assess(one(12), exit_code=FAILED, workers_lost=1)
    assert lost.stopped == "1 xdist worker went down before handing over"
    internal = assess(one(5), exit_code=INTERNAL)
    assert internal.stopped == "the run did not finish (exit status 3)"


def test_unknown_counts_are_said_to_be_unknown() -> None:
    # Every xdist worker went down: nobody handed over the selection's size.
    scope = assess(one(5, selected=None, total=None, started=5), exit_code=FAILED,
                   workers_lost=2)
    assert scope.counts() == "5 cases evaluated (how many were selected is unknown)"
    assert scope.stopped == "2 xdist workers went down before handing over"


def test_a_selection_narrower_than_the_dataset_shows_both_counts() -> None:
    scope = assess(one(3, selected=14, total=400, started=3), exit_code=INTERRUPTED)
    assert scope.counts() == "partial: 3 of 400 cases evaluated (14 selected)"


def test_sessions_without_eval_items_are_complete_however_they_end() -> None:
    scope = assess([DatasetCount("t.py::test_eval", 0, 0, 12, 0)], exit_code=INTERRUPTED)
    assert scope.datasets == () and scope.status == "complete"


def test_several_datasets_add_up() -> None:
    scope = assess(
        [DatasetCount("a", 10, 10, 10, 10), DatasetCount("b", 2, 5, 5, 2)],
        exit_code=FAILED, stop_reason="stopping after 2 failures",
    )
    assert scope.counts() == "partial: 12 of 15 cases evaluated"
    assert "3 selected cases never ran" in (scope.stopped or "")


def test_the_verdict_of_an_incomplete_run_decides_nothing() -> None:
    scope = assess(one(3, started=3), exit_code=FAILED, stop_reason="stopping after 1 failures")
    verdict = summarize([], ("t.py::test_eval",), scope)
    assert verdict.status == "incomplete"
    assert verdict.headline() == (
        "Incomplete run, partial: 3 of 12 cases evaluated; no gate decision (stopped early: "
        "stopping after 1 failures; 9 selected cases never ran)"
    )


def test_the_json_extent_round_trips() -> None:
    for scope in (
        assess(one(3, started=3), exit_code=INTERRUPTED),
        assess(one(4, selected=4), exit_code=OK),
        Completeness(),
    ):
        back = Extent.from_completeness(scope).to_completeness()
        assert (back.status, back.counts(), back.stopped) == (
            scope.status, scope.counts(), scope.stopped
        )


def test_a_saved_incomplete_run_renders_as_incomplete(tmp_path: Path) -> None:
    """``llmfunnel report results.json`` redraws what the session said, not a pass."""
    from pytest_llmfunnel.report.markdown import render_markdown
    from pytest_llmfunnel.report.results_json import (
        SettingsSummary,
        build_document,
        load_results,
        write_results,
    )
    from pytest_llmfunnel.report.terminal_text import render_text

    scope = assess(one(3, started=3), exit_code=INTERRUPTED)
    settings = SettingsSummary(
        judge="offline", judge_label="offline reference judge", model=None, cache="read-write",
        alpha=0.05, tolerance=0.02, gate_mode="superiority", seed=0,
    )
    document = build_document(
        [], [], [], settings=settings, tool_version="0.1.0", completeness=scope,
    )
    write_results(document, tmp_path / "results.json")
    loaded = load_results(tmp_path / "results.json")
    assert loaded.status == "incomplete" and loaded.completeness is not None
    markdown = render_markdown(loaded)
    assert "**⏹️ Incomplete run, partial: 3 of 12 cases evaluated; no gate decision**" in markdown
    assert "Run the whole selection again" in markdown and "✅" not in markdown
    text = " ".join(render_text(loaded, width=80).split())
    assert "llm-funnel gate not decided: Incomplete run, partial: 3 of 12 cases evaluated" in text


def test_a_partial_verdict_leads_with_its_counts_in_the_terminal() -> None:
    from pytest_llmfunnel.report.terminal_text import verdict_lines

    scope = assess(one(14, selected=14, total=400), exit_code=OK)
    lines = verdict_lines([], ["t.py::test_eval"], width=80, completeness=scope)
    assert lines[0].startswith("llm-funnel gate FAILED (partial: 14 of 400 cases): No baseline")
