"""The regression gate through the plugin: baseline files, the decision, the exit status.

Each test runs pytest in a temporary project against the loopback judge
server. The server scores an output 2 when it contains ``WORSE`` and 5
otherwise, so a test makes a real regression by changing outputs in the
dataset, the way a prompt change would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_file import load_baseline
from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import (
    N,
    accept_baseline,
    project,
    rows_with,
    run,
    worse_scores_low,
)
from tests.support.runs import write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

BASELINE = "baselines/test_eval__test_eval.jsonl"


def test_without_a_baseline_file_yet_there_is_no_gate_and_a_hint(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with(range(30)), ini="")
    result = run(pytester, judge_server)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*no baseline yet for test_eval.py::test_eval, so no gate*"])
    assert not (pytester.path / "baselines").exists()
    assert not (pytester.path / "__llmfunnel_baselines__").exists()


def test_a_configured_baseline_that_does_not_exist_fails_and_says_how_to_create_it(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with())
    result = run(pytester, judge_server)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "llm-funnel gate FAILED: No baseline file for eval",
        "*test_eval.py::test_eval: no baseline file yet; create it with",
        "*--llm-funnel-update-baseline and commit it.",
        f"*  expected at: {BASELINE}*",
    ])


def test_update_writes_the_baseline_and_an_unchanged_rerun_passes_without_judging_it(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with([3]))
    result = run(pytester, judge_server, "--llm-funnel-update-baseline", *plugin_args)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"*baseline written: {BASELINE} (60 cases)*"])
    path = pytester.path / BASELINE
    baseline = load_baseline(path)
    assert len(baseline.cases) == N
    assert baseline.header.judges["relevance"].startswith("gpt-4o-mini · prompt ")
    by_id = {c.case: c for c in baseline.cases}
    assert by_id["c03"].stages["relevance"].score == 2.0
    assert by_id["c04"].stages["relevance"].score == 5.0
    first = path.read_bytes()

    judge_server.reset()
    again = run(pytester, judge_server, "--llm-funnel-update-baseline", *plugin_args)
    assert again.ret == 0
    again.stdout.fnmatch_lines([f"*baseline unchanged: {BASELINE}*"])
    assert path.read_bytes() == first  # same run, same bytes: no diff to commit

    rerun = run(pytester, judge_server, *plugin_args)
    assert rerun.ret == 0, rerun.stdout.str()
    rerun.stdout.fnmatch_lines(["*llm-funnel gate passed*"])
    # Everything came from the verdict cache; the baseline side reused its verdicts.
    assert judge_server.stats.requests == 0


def test_a_real_regression_fails_with_exit_status_1_and_says_what_to_do(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    project(pytester, rows_with(range(0, 20)))  # a third of the answers got worse
    result = run(pytester, judge_server, *plugin_args)
    assert result.ret == 1
    out = result.stdout.str()
    assert "llm-funnel gate FAILED" in out
    assert "relevance pass rate" in out and "REGRESSED" in out
    # The cases behind the failing metric, above the verdict.
    words = " ".join(out.split())
    assert "why eval: relevance pass rate regressed" in words
    assert "20 cases pass → fail, worst first" in words
    assert "accept it with --llm-funnel-update-baseline" in out


def test_noise_alone_does_not_fail(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with([1, 2, 3, 4]))
    assert run(pytester, judge_server, "--llm-funnel-update-baseline").ret == 0
    project(pytester, rows_with([3, 4, 5, 6]))  # two cases got worse, two got better
    result = run(pytester, judge_server)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*llm-funnel gate passed*"])
    assert "flipped cases (4, most severe first):" in result.stdout.str()


def test_test_failures_keep_their_exit_status(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    pytester.makepyfile(test_other="def test_broken():\n    assert False\n")
    project(pytester, rows_with(range(30)))
    result = run(pytester, judge_server)
    assert result.ret == 1  # the test failure's status, with the gate's message beside it
    result.stdout.fnmatch_lines(["*llm-funnel gate FAILED*", "*1 failed*"])


def test_survivorship_a_case_dropped_by_a_check_counts_as_a_fail(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with(), checks="checks.max_chars(60)")
    assert run(pytester, judge_server, "--llm-funnel-update-baseline").ret == 0
    rows = rows_with()
    for row in rows[:20]:
        row["output"] = "x" * 100  # now dropped by the check: never judged
    project(pytester, rows, checks="checks.max_chars(60)")
    result = run(pytester, judge_server)
    assert result.ret == 1
    out = result.stdout.str()
    # Over all cases: the judge's pass rate fell with the promotion rate, 100% -> 66.7%.
    assert "promotion rate" in out and "66.7%" in out
    assert "relevance pass rate" in out
    document = _decisions(pytester, judge_server)
    assert document["relevance pass rate"]["current_mean"] == pytest.approx(40 / 60)
    assert document["relevance pass rate"]["decision"] == "regressed"


def test_a_changed_check_applies_to_the_baseline_outputs_too(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    rows = rows_with()
    for row in rows[:20]:
        row["output"] += " " + "long " * 20
    project(pytester, rows)
    assert run(pytester, judge_server, "--llm-funnel-update-baseline").ret == 0
    # The new check drops the same 20 long outputs on both sides: nothing regressed.
    project(pytester, rows, checks="checks.max_chars(60)")
    judge_server.reset()
    result = run(pytester, judge_server)
    assert result.ret == 0, result.stdout.str()
    decisions = _decisions(pytester, judge_server)
    assert decisions["promotion rate"]["baseline_mean"] == pytest.approx(40 / 60)
    assert decisions["promotion rate"]["current_mean"] == pytest.approx(40 / 60)


def test_changed_new_and_removed_cases_are_reported_unpaired(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    rows = rows_with()
    rows[0]["expected"] = "A blue box."  # changed: the fingerprint covers expected
    removed = rows.pop(1)
    rows.append({**removed, "id": "brand-new", "input": "A new question?"})
    project(pytester, rows)
    result = run(pytester, judge_server)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*test_eval.py::test_eval: 1 changed, unpaired: c00*",
        "*test_eval.py::test_eval: 1 new, unpaired: brand-new*",
        "*test_eval.py::test_eval: 1 not run (in the baseline), unpaired: c01*",
    ])


def test_judge_errors_are_left_out_and_too_many_make_the_metric_not_comparable(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    rows = rows_with()
    rows[5]["output"] += " GARBAGE"
    project(pytester, rows)
    one = run(pytester, judge_server, "--llm-funnel-max-error-share=0.05")
    assert one.ret == 0, one.stdout.str()
    assert _decisions(pytester, judge_server, "--llm-funnel-max-error-share=0.05")[
        "relevance pass rate"]["n"] == N - 1
    for row in rows[:10]:
        row["output"] += " GARBAGE"
    project(pytester, rows)
    many = run(pytester, judge_server, "--llm-funnel-max-error-share=0.1")
    assert many.ret == 1
    assert "not comparable" in many.stdout.str()


def test_errors_that_could_hide_a_drop_fail_the_gate_as_not_comparable(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    rows = rows_with(range(3))  # 3 of 60 got worse: alone, no drop past 2 points is shown
    for row in rows[3:7]:
        row["output"] += " GARBAGE"  # 4 judge errors: counted as fails, 7 of 60 did
    project(pytester, rows)
    result = run(pytester, judge_server, "--llm-funnel-max-error-share=0.1", *plugin_args)
    assert result.ret == 1, result.stdout.str()
    out = " ".join(result.stdout.str().split())
    assert "relevance pass rate: not comparable" in out
    assert "4 pairs with stage errors could hide a drop" in out


def test_under_q_an_underpowered_gated_metric_still_says_so(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    result = run(pytester, judge_server, "-q")
    assert result.ret == 0, result.stdout.str()
    out = " ".join(result.stdout.str().split())
    # Both gated metrics are underpowered: one note names them both.
    assert "2 gated metrics are underpowered: their cases catch a change 80% of the time " \
        "only from the MDE in the table" in out
    assert "eval/relevance pass rate (tolerance 2.0pt)" in out


def test_a_large_unpaired_share_is_a_warning_with_the_number(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    rows = rows_with()
    rows += [{**rows[0], "id": f"added-{i}", "input": f"Question {i}?"} for i in range(10)]
    project(pytester, rows)
    result = run(pytester, judge_server)
    assert result.ret == 0, result.stdout.str()
    out = " ".join(result.stdout.str().split())
    assert "warning: test_eval.py::test_eval: 10 of 70 cases (14%) are unpaired" in out


def test_a_changed_judge_rejudges_the_baseline_outputs_and_compares_like_with_like(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with(range(10)))
    assert run(pytester, judge_server, "--llm-funnel-update-baseline").ret == 0
    stricter = 'judges.rubric("relevance", "Answer only what was asked, nothing more.")'
    project(pytester, rows_with(range(10)), judge=stricter)
    judge_server.reset()
    result = run(pytester, judge_server)
    assert result.ret == 0, result.stdout.str()
    # Each output judged once with the new rubric, the baseline's (equal) outputs from cache.
    assert judge_server.stats.unique_prompts == N
    assert judge_server.stats.requests == N
    # Replay-only cannot re-judge a changed judge's baseline: not comparable, exit 1.
    stricter2 = 'judges.rubric("relevance", "Be brief.")'
    project(pytester, rows_with(range(10)), judge=stricter2)
    blocked = run(pytester, judge_server, "--llm-funnel-cache=replay-only",
                  "--llm-funnel-max-error-share=1")
    assert blocked.ret == 1
    assert "not comparable" in blocked.stdout.str()


def test_a_partial_update_is_refused_unless_merging(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    path = pytester.path / BASELINE
    before = path.read_bytes()
    project(pytester, rows_with([7]))
    refused = run(pytester, judge_server, "--llm-funnel-update-baseline", "-k", "c07")
    assert refused.ret == 1
    refused.stdout.fnmatch_lines(["*refusing to update the baseline*from 1 of 60 cases*"])
    assert path.read_bytes() == before
    merged = run(pytester, judge_server, "--llm-funnel-update-baseline",
                 "--llm-funnel-merge-baseline", "-k", "c07")
    assert merged.ret == 0, merged.stdout.str()
    by_id = {c.case: c for c in load_baseline(path).cases}
    assert len(by_id) == N
    assert by_id["c07"].stages["relevance"].score == 2.0
    assert by_id["c08"].stages["relevance"].score == 5.0


def test_a_corrupted_baseline_is_a_clear_error_and_is_not_overwritten(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, rows_with())
    path = pytester.path / BASELINE
    path.parent.mkdir()
    path.write_text('{"format": "pytest-llmfunnel baseline", "version": 1\n', encoding="utf-8")
    result = run(pytester, judge_server)
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*{Path(BASELINE).name}:1*"])
    assert path.read_text(encoding="utf-8").startswith('{"format"')


def test_the_marker_can_name_the_baseline_file(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    write_jsonl(pytester.path / "cases.jsonl", rows_with())
    pytester.makepyfile(
        test_eval="""
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()),
                                 baseline="gate/eval.jsonl")
        def test_eval(case):
            pass
        """
    )
    assert run(pytester, judge_server, "--llm-funnel-update-baseline").ret == 0
    assert (pytester.path / "gate" / "eval.jsonl").exists()


def _decisions(
    pytester: pytest.Pytester, server: JudgeServer, *extra: str
) -> dict[str, dict[str, Any]]:
    """Run again with --llm-funnel-json; the gate's decisions by metric name."""
    run(pytester, server, "--llm-funnel-json=results.json", *extra)
    document = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    return {d["metric"]: d for d in document["decisions"]}


def test_review_slice_then_labels_show_the_judges_calibration_in_the_reports(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    import csv

    worse_scores_low(judge_server)
    project(pytester, rows_with(range(0, 60, 4)), ini="")
    exported = run(pytester, judge_server, "--llm-funnel-review=review.csv",
                   "--llm-funnel-review-budget=30")
    assert exported.ret == 0, exported.stdout.str()
    exported.stdout.fnmatch_lines(["*review slice written: review.csv: review slice: 30 of 60*"])
    with (pytester.path / "review.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and "judge_relevance" not in rows[0]  # verdicts hidden by default
    # The humans agree with the judge except on two outputs.
    for i, row in enumerate(rows):
        judge_passes = "WORSE" not in row["output"]
        row["label_relevance"] = "pass" if judge_passes != (i < 2) else "fail"
        row["annotator"] = "ann"
    with (pytester.path / "review.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    labelled = run(pytester, judge_server, "--llm-funnel-labels=review.csv",
                   "--llm-funnel-report=report.md")
    assert labelled.ret == 0, labelled.stdout.str()
    out = labelled.stdout.str()
    assert "labels: 30 current, 0 stale" in out
    assert "judge calibration against human labels (95% intervals)" in out
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert "#### Judge calibration" in report
    assert "93.3%" in report  # 28 of 30 labels agree with the judge


def test_the_report_is_appended_to_the_github_job_summary(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmfunnel.report.markdown import MARKER

    worse_scores_low(judge_server)
    project(pytester, rows_with(), ini="")
    summary = pytester.path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run(pytester, judge_server).ret == 0
    assert run(pytester, judge_server).ret == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n")  # appended, never overwritten
    assert text.count(MARKER) == 2


def test_junit_xml_carries_each_cases_stage_results_as_properties(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    import xml.etree.ElementTree as ET

    worse_scores_low(judge_server)
    project(pytester, rows_with([2]), ini="", checks="checks.max_chars(40)")
    assert run(pytester, judge_server, "--junitxml=junit.xml", *plugin_args).ret == 0
    tree = ET.parse(pytester.path / "junit.xml")
    props = {
        case.get("name"): {
            p.get("name"): p.get("value") for p in case.iter("property")
        }
        for case in tree.iter("testcase")
    }
    assert props["test_eval[c02]"] == {
        "llm_funnel.status": "llm-failed",
        "llm_funnel.reason": "relevance: failed (score 2): score 2 < threshold 4: graded",
        "llm_funnel.promoted": "true",
        "llm_funnel.max_chars(40)": "passed",
        "llm_funnel.relevance": "failed 2",
    }
    assert props["test_eval[c03]"]["llm_funnel.relevance"] == "passed 5"
