"""Golden files of every report of one real run that fails in each way a report must explain.

The run (:mod:`tests.support.report_run`) comes from the real pipeline: a
pytester project, the offline reference judge, a baseline written by a first
run. Its gate has a regressed check metric (the promotion rate), a regressed
judge metric (faithfulness), measured-only drops and an improved metric, and
the goldens hold what a reader sees of it:

* ``run-terminal-80.txt`` / ``run-terminal-120.txt``: the live session's
  llm-funnel summary at 80 and 120 columns;
* ``run-report.md``: the Markdown pull-request report the session wrote;
* ``run-report-command.txt``: ``llmfunnel report results.json --format text``.

After an intended change to a report, regenerate them with
``LLMFUNNEL_UPDATE_GOLDEN=1 pytest tests/integration/test_golden_reports.py``
and read the diff before committing.
"""

from __future__ import annotations

import os

import pytest

from pytest_llmfunnel.cli import main
from tests.support.paths import GOLDEN
from tests.support.report_run import funnel_section, regressed_run

UPDATE = os.environ.get("LLMFUNNEL_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>`` exactly (or rewrite it when updating)."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with LLMFUNNEL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


@pytest.mark.parametrize("columns", [80, 120])
def test_the_live_summary_matches_golden(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    run = regressed_run(pytester)
    assert run.result.ret == 1, run.result.stdout.str()
    lines = funnel_section(run.result.stdout.lines)
    assert max(len(line) for line in lines) <= columns
    check_golden(f"run-terminal-{columns}.txt", "\n".join(lines) + "\n")


def test_the_markdown_report_and_the_report_command_match_golden(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    run = regressed_run(pytester)
    assert run.result.ret == 1, run.result.stdout.str()
    check_golden("run-report.md", run.report_md.read_text(encoding="utf-8"))
    out = pytester.path / "report.txt"
    assert main(["report", str(run.results_json), "--format", "text", "--width", "100",
                 "-o", str(out)]) == 0
    check_golden("run-report-command.txt", out.read_text(encoding="utf-8"))
