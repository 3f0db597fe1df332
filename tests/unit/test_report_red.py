"""Red means "this failed the build": measured-only metrics, judge names, repeated notes.

Plain unit tests of the report modules (no pytest run inside).
"""

from __future__ import annotations

from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.report.markdown import quality_markdown
from pytest_llmfunnel.report.summary import OFFLINE_JUDGE_MARK, judge_label
from pytest_llmfunnel.report.terminal_text import quality_lines, report_lines
from tests.support.sample_records import as_record


def decision(metric: str, verdict: str = "regressed", **kw: object) -> GateDecision:
    values: dict[str, object] = dict(
        dataset="tests/test_s.py::test_s", metric=metric, n=100, baseline_mean=0.9,
        current_mean=0.8, diff=-0.1, bound=-0.05, p_value=0.001, p_adjusted=0.002, mde=0.05,
        decision=verdict, reason="significantly worse", test="mcnemar-exact", flips=(12, 2),
        gated=True, level=0.025, tolerance=0.02,
    )
    values.update(kw)
    return GateDecision(**values)  # type: ignore[arg-type]


def underpowered(metric: str, n: int) -> GateDecision:
    return decision(metric, "ok", n=n, mde=0.2, diff=0.0, current_mean=0.9, bound=-0.1)


def test_a_measured_only_drop_wears_no_red_cross_in_markdown() -> None:
    text = quality_markdown([decision("gated"), decision("measured", gated=False)])
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ")}
    assert "**s**" in rows  # the dataset names the rows under it
    assert "❌" in rows["gated"]
    assert "❌" not in rows["measured"]
    assert "REGRESSED" not in rows["measured"]
    assert "dropped\\*" in rows["measured"]
    assert "\\* measured only, not gated: does not fail the build." in text


def test_a_measured_only_drop_is_not_called_regressed_in_the_terminal() -> None:
    lines = list(quality_lines([decision("gated"), decision("measured", gated=False)], width=80))
    row = next(line for line in lines if line.startswith("measured "))
    assert "REGRESSED" not in row
    assert "dropped" in row
    assert "REGRESSED" in next(line for line in lines if line.startswith("gated "))
    assert any("measured only" in line and "does not fail" in line for line in lines)


def test_judged_by_names_each_judge_stage_with_its_model_and_prompt() -> None:
    records = [as_record({"stages": [
        {"stage": "faithfulness", "judge": "gpt-4o-mini · prompt 3f2a9c1d2e4f"},
        {"stage": "relevance", "judge": "gpt-4o · prompt 0b1c2d3e4f5a"},
        {"stage": "not_empty", "kind": "check", "judge": None},
    ]})]
    label = judge_label(records)
    assert "faithfulness: gpt-4o-mini, prompt version 3f2a9c1d2e4f" in label
    assert "relevance: gpt-4o, prompt version 0b1c2d3e4f5a" in label
    assert "not_empty" not in label


def test_judged_by_names_the_stages_of_the_offline_judge() -> None:
    records = [as_record({"stages": [
        {"stage": "faithfulness", "judge": f"{OFFLINE_JUDGE_MARK}-v2 · prompt 3f2a9c1d2e4f"},
    ]})]
    label = judge_label(records)
    assert label.startswith("faithfulness: offline reference judge (rule-based, not an LLM)")
    assert "3f2a9c1d2e4f" in label


def test_underpowered_notes_collapse_into_one_line_in_the_terminal() -> None:
    decisions = [underpowered(f"metric_{i}", 40 + i) for i in range(5)]
    text = "\n".join(quality_lines(decisions, width=80))
    assert text.count("underpowered") == 1
    folded = " ".join(text.split())
    for i in range(5):
        assert f"metric_{i}" in folded.split("underpowered", 1)[1]
    quiet = "\n".join(report_lines(decisions, verbosity=-1, width=80))
    assert quiet.count("underpowered") == 1


def test_underpowered_notes_collapse_into_one_line_in_markdown() -> None:
    decisions = [underpowered(f"metric_{i}", 40 + i) for i in range(5)]
    text = quality_markdown(decisions)
    assert text.count("underpowered") == 1
    note = next(line for line in text.splitlines() if "underpowered" in line)
    for i in range(5):
        assert f"metric&#95;{i}" in note or f"metric_{i}" in note


def test_a_single_underpowered_note_keeps_its_whole_sentence() -> None:
    text = " ".join(" ".join(quality_lines([underpowered("only", 40)], width=80)).split())
    assert "s/only: underpowered: with 40 cases a drop is caught 80% of the time" in text
