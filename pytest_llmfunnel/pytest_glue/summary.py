"""The terminal summary's place in pytest's output: after the results, and in -r's list."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.report.terminal import SummaryData, short_summary_lines, summary_lines

# pytest's own short-summary lists per -r character (as pytest 8 and 9 print them).
PYTEST_SHORT_SUMMARY = {"f": "failed", "E": "error", "s": "skipped", "x": "xfailed",
                        "X": "xpassed", "p": "passed"}


def write_summary(terminalreporter: Any, config: pytest.Config, fs: FunnelSession) -> None:
    """The funnel tables, the gate and the notes, after the test results."""
    listed = bool(fs.problem_items) and short_summary_lists(terminalreporter, config)
    # The width pytest itself wraps to (follows COLUMNS, then the terminal).
    width = config.get_terminal_writer().fullwidth
    for line in summary_lines(
        summary_data(fs), verbosity=config.get_verbosity(), short_summary=listed, width=width
    ):
        terminalreporter.write_line(line)


def summary_data(fs: FunnelSession) -> SummaryData:
    """What the terminal summary shows, as plain data."""
    return SummaryData(
        run=fs.run_result(), records=fs.records, tallies=fs.tallies, settings=fs.settings,
        completeness=fs.completeness, conclusion=fs.conclusion,
        failure_message=fs.failure_message,
    )


def short_summary_lists(terminalreporter: Any, config: pytest.Config) -> bool:
    """Whether the short test summary lists llm-failed/llm-error items: with -r f (a, A)."""
    return not getattr(config.option, "no_summary", False) and terminalreporter.hasopt("f")


def write_short_summary(terminalreporter: Any, config: pytest.Config, fs: FunnelSession) -> None:
    """Add the llm-failed and llm-error items to the end of pytest's short test summary."""
    if not fs.problem_items or not short_summary_lists(terminalreporter, config):
        return
    whole = config.get_verbosity() >= 2 or any(os.environ.get(v) for v in ("CI", "BUILD_NUMBER"))
    if getattr(config.option, "force_short_summary", False):
        whole = False
    width = None if whole else max(40, config.get_terminal_writer().fullwidth)
    stats = terminalreporter.stats
    if not any(stats.get(kind) for char, kind in PYTEST_SHORT_SUMMARY.items()
               if terminalreporter.hasopt(char)):
        terminalreporter.write_sep("=", "short test summary info", cyan=True, bold=True)
    for line in short_summary_lines(fs.problem_items, width=width):
        terminalreporter.write_line(line)
