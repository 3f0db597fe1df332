"""``llmfunnel report results.json`` draws the same pull-request report as the live run.

A real session against the loopback judge ranks two output variants, prices
its tokens, calibrates its judge against human labels and regresses; the
Markdown it wrote and the Markdown the command line draws from its JSON
results must be the same bytes, variant ranking, cost and calibration included.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import N, project, run, worse_scores_low
from tests.support.runs import cases

pytestmark = pytest.mark.usefixtures("openai_env")


def variant_rows(worse_a: range = range(0)) -> list[dict[str, Any]]:
    rows = cases(N)
    for i, row in enumerate(rows):
        text = str(row.pop("output"))
        row["output_a"] = text + (" WORSE" if i in worse_a else "")
        row["output_b"] = text + (" WORSE" if i % 6 == 0 else "")
    return rows


def label_as_the_judge(path: Path) -> None:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["label_relevance"] = "fail" if "WORSE" in row["output"] else "pass"
        row["annotator"] = "ann"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def report_command(folder: Path, *args: str) -> str:
    script = Path(sys.executable).with_name("llmfunnel")
    done = subprocess.run([str(script), "report", *args], cwd=folder, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_report_of_the_results_file_is_the_live_report(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    worse_scores_low(judge_server)
    project(pytester, variant_rows())
    assert run(pytester, judge_server, "--llm-funnel-update-baseline").ret == 0
    exported = run(pytester, judge_server, "--llm-funnel-review=review.csv",
                   "--llm-funnel-review-budget=40")
    assert exported.ret == 0, exported.stdout.str()
    label_as_the_judge(pytester.path / "review.csv")
    project(pytester, variant_rows(worse_a=range(0, N, 4)))
    live = run(pytester, judge_server, "--llm-funnel-labels=review.csv",
               "--llm-funnel-price-in=2.5", "--llm-funnel-price-out=10",
               "--llm-funnel-report=r.md", "--llm-funnel-json=r.json", "-p", "no:xdist")
    assert live.ret == 1, live.stdout.str()
    written = (pytester.path / "r.md").read_text(encoding="utf-8")
    # The live report has every part this test is about ...
    assert "#### Judge calibration" in written
    assert "Worth an online experiment:" in written
    assert "| cost |" in written and "| 0.0" in written
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["settings"]["price_in"] == 2.5
    assert document["end_of_run"]["variants"] and document["end_of_run"]["calibration"]
    # ... and the command line draws the same report from the file alone.
    drawn = report_command(pytester.path, "r.json", "--format", "md")
    assert drawn == written
    # The text form prints the ranking and the calibration as the session did.
    text = report_command(pytester.path, "r.json", "--format", "text", "--width", "100")
    printed = live.stdout.lines
    # The verdicts reused from the baseline are counted from the records, as live.
    reused = next(x for x in printed if ": reused " in x and "baseline verdict" in x)
    assert reused in text.splitlines()
    for starts in ("variants of ", "judge calibration"):
        first = next(i for i, x in enumerate(printed) if x.lower().startswith(starts))
        end = printed.index("", first) if "" in printed[first:] else len(printed)
        block = printed[first:end]
        assert "\n".join(block) in text, starts


def test_a_results_file_without_them_still_draws_its_report(tmp_path: Path) -> None:
    """A file written before rankings, calibration and prices were kept: the rest is drawn."""
    from tests.support.paths import GOLDEN

    old = json.loads((GOLDEN / "results.json").read_text(encoding="utf-8"))
    for key in ("end_of_run",):
        old.pop(key, None)
    for key in ("price_in", "price_out"):
        old["settings"].pop(key, None)
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    drawn = report_command(tmp_path, "old.json", "--format", "md")
    assert drawn.startswith("<!-- pytest-llmfunnel report -->")
    assert "### Quality" in drawn and "| cost |" in drawn
    assert "Judge calibration" not in drawn and "online experiment" not in drawn
