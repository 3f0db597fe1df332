"""The cases behind each failing metric: which, in what order, drawn whole and inert.

A red build must say why: for every regressed gated metric, the cases that
flipped on it (pass → fail first, worst first) with the input, the baseline
output, the current output (a word diff when close) and the whole reason.
"""

from __future__ import annotations

from typing import Any

from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.explain import failing_metrics, word_diff
from pytest_llmfunnel.report.markdown import render_markdown
from pytest_llmfunnel.report.markdown_cases import BUDGET
from pytest_llmfunnel.report.terminal_text import report_lines
from tests.support.hostile import ALL, markdown_problems, terminal_problems
from tests.support.sample_records import DATASET, as_record

LONG_REASON = (
    "the answer names a refund window of 60 days while the retrieved policy says 30 days, "
    "and it promises a cash refund although the context only mentions store credit; "
) * 8  # about 1,300 characters: far past any terminal line


def decision(metric: str, verdict: str = "regressed", gated: bool = True) -> GateDecision:
    return GateDecision(
        dataset=DATASET, metric=metric, n=60, baseline_mean=0.9, current_mean=0.7, diff=-0.2,
        bound=-0.1, p_value=0.001, p_adjusted=0.002, mde=0.1, decision=verdict,  # type: ignore[arg-type]
        reason="worse", test="mcnemar-exact", flips=(12, 0), gated=gated, level=0.025,
        tolerance=0.02,
    )


def judged(case: str, before: float, after: float, *, reason: str = "unsupported claim",
           output: str = "new answer", base_output: str = "old answer") -> Any:
    """A record whose faithfulness score went from ``before`` to ``after`` (threshold 4)."""
    def stage(score: float, why: str) -> dict[str, Any]:
        return {"stage": "faithfulness", "kind": "judge", "score": score, "scale": (1.0, 5.0),
                "status": "passed" if score >= 4 else "failed", "reason": why}

    return as_record({
        "case": case, "input": f"question of {case}?", "output": output,
        "stages": [stage(after, reason)],
        "baseline": {"case": case, "output": base_output, "stages": [stage(before, "fine")]},
    })


def dropped(case: str, output: str = "", base_output: str = "a fine answer") -> Any:
    """A record the not_empty check dropped now and promoted in the baseline."""
    return as_record({
        "case": case, "input": f"question of {case}?", "output": output, "promoted": False,
        "dropped_at": "not_empty",
        "stages": [{"stage": "not_empty", "kind": "check", "status": "failed", "gating": True,
                    "reason": "output is empty"}],
        "baseline": {"case": case, "output": base_output, "promoted": True,
                     "stages": [{"stage": "not_empty", "kind": "check", "gating": True}]},
    })


def flip(case: str, metric: str, before: Any, after: Any, stage: str = "faithfulness") -> Flip:
    return Flip(DATASET, case, "default", metric, stage, before, after, "r", "excerpt")


def markdown(records: list[Any], flips: list[Flip], decisions: list[GateDecision]) -> str:
    return render_markdown(RunResult.from_records(records), decisions, flips, records=records)


def test_cases_come_pass_to_fail_first_then_worst_first() -> None:
    records = [judged("mild", 5, 3.5), judged("worst", 5, 1), judged("better", 2, 5),
               judged("bad", 4.5, 2)]
    flips = [flip("mild", "faithfulness pass rate", 5.0, 3.5),
             flip("better", "faithfulness pass rate", 2.0, 5.0),
             flip("bad", "faithfulness pass rate", 4.5, 2.0),
             flip("worst", "faithfulness pass rate", 5.0, 1.0)]
    [metric] = failing_metrics([decision("faithfulness pass rate")], flips, records)
    assert [c.case for c in metric.cases] == ["worst", "bad", "mild", "better"]
    assert [c.worse for c in metric.cases] == [True, True, True, False]
    assert metric.cases[0].change == "pass → fail (score 5 → 1)"


def test_only_regressed_gated_metrics_are_explained() -> None:
    records = [judged("a", 5, 1)]
    flips = [flip("a", "faithfulness pass rate", 5.0, 1.0)]
    decisions = [decision("faithfulness pass rate", "ok"),
                 decision("faithfulness mean score", "regressed", gated=False)]
    assert failing_metrics(decisions, flips, records) == []


def test_a_promotion_rate_flip_names_the_check_and_both_outputs() -> None:
    """The issue's case: the promotion rate regressed and no dropped case was shown."""
    records = [dropped("empty-1"), judged("other", 5, 1)]
    flips = [flip("empty-1", "promotion rate", None, None, stage="not_empty"),
             flip("other", "faithfulness pass rate", 5.0, 1.0)]
    lines = list(report_lines([decision("promotion rate")], flips, records=records, width=80))
    text = "\n".join(lines)
    verdict = next(i for i, line in enumerate(lines) if line.startswith("llm-funnel gate"))
    start = next(i for i, line in enumerate(lines) if "promotion rate regressed" in line)
    assert start < verdict
    block = "\n".join(lines[start:verdict])
    assert "x/empty-1  not_empty: promoted → dropped at not_empty" in block
    assert "why:      not_empty: output is empty" in block
    assert "input:    question of empty-1?" in block
    assert "baseline: a fine answer" in block
    assert "current:  (empty)" in block
    assert "- -> -" not in text


def test_reasons_are_whole_and_wrapped_to_the_width() -> None:
    records = [judged("long", 5, 1, reason=LONG_REASON)]
    flips = [flip("long", "faithfulness pass rate", 5.0, 1.0)]
    for width in (80, 120):
        lines = list(report_lines([decision("faithfulness pass rate")], flips, records=records,
                                  width=width))
        assert max(len(line) for line in lines) <= width
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("why:"))
        why: list[str] = []
        for line in lines[start:]:
            if why and not line.startswith(" " * 15):
                break
            why.append(line)
        assert " ".join(" ".join(why).split()) == "why: " + " ".join(LONG_REASON.split())


def test_five_cases_per_metric_by_default_all_with_v() -> None:
    records = [judged(f"c{i:02d}", 5, 1) for i in range(8)]
    flips = [flip(f"c{i:02d}", "faithfulness pass rate", 5.0, 1.0) for i in range(8)]
    decisions = [decision("faithfulness pass rate")]
    default = "\n".join(report_lines(decisions, flips, records=records, width=100))
    assert "  5. x/c04" in default and "x/c05" not in default
    assert "... and 3 more cases behind x: faithfulness pass rate (run pytest with -v" in default
    verbose = "\n".join(report_lines(decisions, flips, records=records, width=100, verbosity=1))
    assert "  8. x/c07" in verbose and "more cases behind" not in verbose


def test_close_outputs_are_shown_as_a_word_diff() -> None:
    assert word_diff("a b c d", "a b x d") == "a b [-c-] {+x+} d"
    assert word_diff("one two three", "something else entirely") is None
    assert word_diff("", "anything") is None
    records = [judged("close", 5, 1, output="Refunds take 60 days to arrive by card.",
                      base_output="Refunds take 30 days to arrive by card.")]
    flips = [flip("close", "faithfulness pass rate", 5.0, 1.0)]
    text = "\n".join(report_lines([decision("faithfulness pass rate")], flips,
                                  records=records, width=100))
    assert "diff:     Refunds take [-30-] {+60+} days to arrive by card." in text
    md = markdown(records, flips, [decision("faithfulness pass rate")])
    assert "Refunds take [-30-] {+60+} days to arrive by card." in md


def test_markdown_has_a_collapsible_block_per_metric_capped_with_a_count() -> None:
    records = [judged(f"c{i:02d}", 5, 1) for i in range(23)] + [dropped("gone")]
    flips = [flip(f"c{i:02d}", "faithfulness pass rate", 5.0, 1.0) for i in range(23)]
    flips.append(flip("gone", "promotion rate", None, None, stage="not_empty"))
    decisions = [decision("promotion rate"), decision("faithfulness pass rate")]
    text = markdown(records, flips, decisions)
    why = text.index("### Why it failed")
    assert why < text.index("### Funnel")
    assert text.count("<details><summary>x: promotion rate") == 1
    assert text.count("<details><summary>x: faithfulness pass rate") == 1
    assert "20. **x/c19**" in text and "x/c20**" not in text
    assert "… and 3 more cases on this metric" in text
    assert "Other flipped cases" not in text  # every flip is listed above


def test_hostile_text_stays_inert_in_both_reports() -> None:
    records = [judged("h", 5, 1, reason=ALL, output=ALL, base_output=ALL + " x")]
    records = [as_record({**records[0].to_json(), "input": ALL})]
    flips = [flip("h", "faithfulness pass rate", 5.0, 1.0)]
    decisions = [decision("faithfulness pass rate")]
    for verbosity in (0, 1):
        text = "\n".join(report_lines(decisions, flips, records=records, width=80,
                                      verbosity=verbosity))
        assert terminal_problems(text) == []
    plain = "plain words " * 250  # as long as the hostile text: cut the same way
    benign_records = [judged("h", 5, 1, reason=plain, output=plain, base_output=plain + " x")]
    benign_records = [as_record({**benign_records[0].to_json(), "input": plain})]
    hostile = markdown(records, flips, decisions)
    benign = markdown(benign_records, flips, decisions)
    assert markdown_problems(hostile, benign) == []


def test_the_markdown_cases_stay_within_a_comments_size() -> None:
    """Long outputs: the cases stop at the budget, each metric keeps one, the rest are counted."""
    long = "a long answer " * 200
    records = [as_record({**judged(f"c{i:02d}", 5, 1, output=long + str(i),
                                   base_output=str(i) + long).to_json(), "input": long})
               for i in range(20)]
    flips = [flip(f"c{i:02d}", "faithfulness pass rate", 5.0, 1.0) for i in range(20)]
    text = markdown(records, flips, [decision("faithfulness pass rate")])
    section = text[text.index("### Why it failed"):text.index("### Funnel")]
    assert len(section) <= BUDGET + 5_000
    shown = section.count("**x/c")
    assert 1 <= shown < 20
    assert f"… and {20 - shown} more cases on this metric" in section
