"""Human labels in a real run: pairwise labels, distrusted judges, and gating on calibration."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.examples import run_example
from tests.support.gate_project import accept_baseline, rows_with, run


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def flat(lines: list[str]) -> str:
    """Terminal lines as one string, with the summary's wrapping undone."""
    return " ".join(" ".join(lines).split())


def unguard(text: str) -> str:
    return text[1:] if text.startswith("'") else text


@pytest.mark.usefixtures("openai_env")
def test_a_judge_people_disagree_with_is_flagged_first_and_can_be_kept_from_gating(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with(range(0, 60, 4)))
    exported = run(pytester, judge_server, "--llm-funnel-review=review.csv",
                   "--llm-funnel-review-budget=40")
    assert exported.ret == 0, exported.stdout.str()
    rows = read_rows(pytester.path / "review.csv")
    # The labellers say the opposite of the judge on every output: kappa -1.
    for row in rows:
        judge_passes = "WORSE" not in row["output"]
        row["label_relevance"] = "fail" if judge_passes else "pass"
        row["annotator"] = "ann"
    write_rows(pytester.path / "review.csv", rows)

    warned = run(pytester, judge_server, "--llm-funnel-labels=review.csv",
                 "--llm-funnel-report=report.md")
    lines = warned.stdout.lines
    top = next(i for i, line in enumerate(lines) if "llm-funnel" in line and "=" in line)
    assert lines[top + 1].startswith("warning: people disagree with the judge 'relevance'")
    assert "agrees with people less often than chance would" in flat(warned.outlines)
    assert warned.ret == 0  # flagged, but without the switch its verdicts still gate
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    title = report.index("\n## ")
    assert report.index("people disagree with the judge") < report.index("\n", title + 4) + 200

    required = run(pytester, judge_server, "--llm-funnel-labels=review.csv",
                   "--llm-funnel-require-calibration", "--llm-funnel-json=results.json")
    assert required.ret == 1, required.stdout.str()
    document = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    decision = {d["metric"]: d for d in document["decisions"]}["relevance pass rate"]
    assert decision["decision"] == "not comparable"
    assert "people disagree with this judge" in decision["reason"]
    assert "its gated metrics count as not comparable" in flat(required.outlines)


@pytest.mark.usefixtures("openai_env")
def test_require_calibration_without_labels_of_a_judge_is_not_comparable(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    labels = pytester.path / "labels.csv"
    labels.write_text("case,variant,output_hash,label_other\n", encoding="utf-8")
    result = run(pytester, judge_server, f"--llm-funnel-labels={labels}",
                 "--llm-funnel-require-calibration")
    assert result.ret == 1, result.stdout.str()
    assert ("relevance pass rate: not comparable: no human labels of this judge"
            in flat(result.outlines))


PRELOGGED = "test_ab_variants.py"


@pytest.mark.slow
def test_pairwise_comparisons_are_exported_once_labelled_and_calibrated(tmp_path: Path) -> None:
    # The A/B example's pre-logged test (its live prompts are another test): 60 cases,
    # each compared once (control vs treatment) in both orders.
    exported = run_example("ab_variants", tmp_path, PRELOGGED, "--llm-funnel-review=review.csv",
                           "--llm-funnel-review-budget=1000")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    folder = tmp_path / "ab_variants"
    rows = read_rows(folder / "review.csv")
    comparisons = [r for r in rows if r["kind"] == "comparison"]
    assert len(comparisons) == 60  # every comparison once, never once per variant record
    assert {(r["variant"], r["compared_with"]) for r in comparisons} == {("control", "treatment")}
    assert len({unguard(r["case"]) for r in comparisons}) == 60
    assert all(r["output_compared"] for r in comparisons)
    assert "which output is better: control (output), treatment" in comparisons[0]["label_help"]

    results = run_example("ab_variants", tmp_path, PRELOGGED, "--llm-funnel-json=results.json")
    document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    judged = {
        r["case"]: s["score"] for r in document["cases"] for s in r["stages"]
        if s["stage"] == "pairwise_helpfulness" and s["pair"] and s["pair"][0] == r["variant"]
    }
    assert results.returncode == 0 and len(judged) == 60
    # People agree with the judge except on the first three comparisons, which they call ties
    # where the judge picked a winner, or the treatment where it saw a tie.
    for i, row in enumerate(comparisons):
        score = judged[unguard(row["case"])]
        winner = {1.0: "control", -1.0: "treatment"}.get(score, "tie")
        if i < 3:
            winner = "tie" if winner != "tie" else "treatment"
        row["label_pairwise_helpfulness"] = winner
        row["annotator"] = "ann"
    write_rows(folder / "review.csv", [r for r in rows if r["kind"] == "comparison"])
    labelled = run_example("ab_variants", tmp_path, PRELOGGED, "--llm-funnel-labels=review.csv")
    out = labelled.stdout
    assert labelled.returncode == 0, out + labelled.stderr
    text = flat(out.splitlines())
    line = text[text.index("stage: pairwise_helpfulness | labelled"):]
    line = line[:line.index(" stage: ") if " stage: " in line else None]
    assert "labelled: 60 of 60 comparisons" in line
    assert "accuracy: 95.0% [86.3%, 98.3%]" in line  # 57 of 60, Wilson
    assert re.search(r"kappa: 0\.\d\d \[", line) and "alpha (nominal)" in line
    # Position consistency over 60 comparisons (not 120 records): Wilson for 60 of 60.
    assert "position consistency: 100.0% [94.0%, 100.0%]" in line
