"""The forest plot in a real session's terminal: the shipped demo regression, end to end.

``LLMFUNNEL_DEMO_REGRESSION=1 pytest --llm-funnel`` in a copy of the support
example fails its gate on two pass rates; the end-of-run summary then draws
the plot, within the terminal's width, gated metrics only (``-v`` adds the
measured-only ones). A passing run keeps it for ``-v``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.examples import run_example

pytestmark = pytest.mark.slow
TITLE = "what decided the gate, per metric:"


def plot_lines(stdout: str) -> list[str]:
    """The plot's lines: from its title to the first blank line."""
    lines = stdout.splitlines()
    start = lines.index(TITLE)
    end = lines.index("", start)
    return lines[start:end]


def row(lines: list[str], label: str) -> str:
    at = next(i for i, line in enumerate(lines) if line.startswith(label))
    return next(line for line in lines[at:] if "┆" in line)


@pytest.mark.parametrize("columns", [80, 120])
def test_a_failed_gate_draws_what_decided_it_within_the_width(
    tmp_path: Path, columns: int
) -> None:
    result = run_example("support", tmp_path, columns=columns, LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = plot_lines(result.stdout)
    assert max(len(line) for line in lines) <= columns
    relevance = row(lines, "relevance pass rate")
    # Regressed: its bound lies left of the -2-point tolerance line.
    assert relevance.index("●") < relevance.index("┫") < relevance.index("┆")
    assert relevance.rstrip().endswith("−16.7   −7.5  REGRESSED")
    assert row(lines, "faithfulness pass rate").rstrip().endswith("−43.3  −29.6  REGRESSED")
    assert row(lines, "promotion rate").rstrip().endswith("ok")
    # Measured-only metrics: counted here, drawn with -v.
    assert lines[-1] == "(3 measured-only metrics not drawn; -v draws them)"
    # The plot stands after the quality table and before the verdict line.
    out = result.stdout
    assert out.index("quality per metric") < out.index(TITLE) < out.index(
        "llm-funnel gate FAILED")


def test_verbose_draws_the_measured_only_metrics_apart(tmp_path: Path) -> None:
    result = run_example("support", tmp_path, "-v", columns=80, LLMFUNNEL_DEMO_REGRESSION="1")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = plot_lines(result.stdout)
    measured = lines.index("measured only (these never fail the build):")
    assert lines.index("gated (these decide the build):") < measured
    drawn = lines[measured:]
    assert row(drawn, "faithfulness mean score").rstrip().endswith("dropped")
    assert any(line.startswith("answer_words mean score") for line in drawn)
    assert "REGRESSED" not in "\n".join(drawn)


def test_a_passing_gate_keeps_the_plot_for_verbose(tmp_path: Path) -> None:
    quiet = run_example("support", tmp_path / "default")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert TITLE not in quiet.stdout
    verbose = run_example("support", tmp_path / "verbose", "-v")
    assert verbose.returncode == 0, verbose.stdout + verbose.stderr
    assert row(plot_lines(verbose.stdout), "relevance pass rate").rstrip().endswith("ok")
