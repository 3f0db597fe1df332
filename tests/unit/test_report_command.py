"""``llmfunnel report --format text``: the width it wraps to and how much it lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_llmfunnel import cli
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.results_json import SettingsSummary, build_document, write_results
from pytest_llmfunnel.report.summary import ReportData
from pytest_llmfunnel.report.terminal_text import terminal_lines
from tests.support.paths import GOLDEN
from tests.support.sample_records import as_record

UPDATE = os.environ.get("LLMFUNNEL_UPDATE_GOLDEN") == "1"
SETTINGS = SettingsSummary(judge="offline", judge_label="a judge", model=None, cache="off",
                           alpha=0.05, tolerance=0.02, gate_mode="superiority", seed=0)
REASON = "the answer names a refund window of sixty days " * 3


def report(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> list[str]:
    assert cli.main(["report", str(path), "--format", "text", *args]) == 0
    return capsys.readouterr().out.splitlines()


def failing_results(tmp_path: Path, n: int = 12) -> Path:
    """A results file with ``n`` cases that failed their judge with a long reason."""
    records = [
        as_record({"case": f"case-{i:02d}", "stages": [
            {"stage": "faithfulness", "status": "failed", "score": 2.0, "reason": REASON}]})
        for i in range(n)
    ]
    document = build_document(
        records, [], [], settings=SETTINGS, tool_version="0"
    )
    path = tmp_path / "r.json"
    write_results(document, path)
    return path


def test_the_report_of_the_sample_results_matches_golden(
    capsys: pytest.CaptureFixture[str]
) -> None:
    """Funnel, failed cases, quality, tags, flips, verdict: the session summary's layout.

    After an intended change, rewrite it with ``LLMFUNNEL_UPDATE_GOLDEN=1`` and
    review the diff.
    """
    text = "\n".join(report(capsys, GOLDEN / "results.json", "--width", "80")) + "\n"
    path = GOLDEN / "report-command.txt"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 100, 140])
def test_every_line_fits_the_width_asked_for(
    capsys: pytest.CaptureFixture[str], width: int
) -> None:
    lines = report(capsys, GOLDEN / "results.json", "--width", str(width))
    assert any(line.startswith("stage ") for line in lines)  # the funnel table is there
    assert max(len(line) for line in lines) <= width


def test_columns_sets_the_width_without_the_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    narrow = report(capsys, GOLDEN / "results.json")
    monkeypatch.setenv("COLUMNS", "140")
    wide = report(capsys, GOLDEN / "results.json")
    assert max(len(line) for line in narrow) <= 80
    assert max(len(line) for line in wide) > 80  # the verdict uses the room it has
    assert len(wide) < len(narrow)


def test_failed_cases_are_capped_and_cut_by_default_and_whole_at_v(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = failing_results(tmp_path)
    default = report(capsys, path, "--width", "80")
    assert "cases that failed or errored in the funnel (12):" in default
    assert "  ... and 2 more (use -v to list all, with whole reasons)" in default
    assert sum(line.startswith("  case-") for line in default) == 10
    verbose = report(capsys, path, "--width", "80", "-v")
    assert max(len(line) for line in verbose) <= 80
    text = " ".join(" ".join(verbose).split())
    for i in range(12):
        assert f"case-{i:02d} faithfulness: failed (score 2): {REASON.strip()}" in text
    assert "..." not in text and "…" not in text


def test_quiet_leaves_out_the_case_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    quiet = report(capsys, failing_results(tmp_path), "-q")
    assert not any(line.startswith("cases that failed") for line in quiet)
    assert any(line.startswith("llm-funnel gate skipped") for line in quiet)


def test_flipped_cases_keep_whole_names_and_reasons_at_v() -> None:
    """-v cuts nothing: a long case id and reason wrap to the width, whole."""
    case = "refund-window-for-orders-placed-through-the-partner-shop"
    flip = Flip("tests/test_support.py::test_support", case, "default", "faithfulness",
                "faithfulness", True, False, REASON, "You can ask for a refund within 60 days.")
    data = ReportData(RunResult(), (), (), (flip,))
    verbose = list(terminal_lines(data, verbosity=1, width=80))
    assert max(len(line) for line in verbose) <= 80
    text = " ".join(" ".join(verbose).split())
    assert f"support/{case} faithfulness: pass -> fail" in text
    assert f"why: {REASON.strip()}" in text
    default = list(terminal_lines(data, verbosity=0, width=80))
    assert max(len(line) for line in default) <= 80
    assert any(line.endswith("…") for line in default)  # cut without -v
