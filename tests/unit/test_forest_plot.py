"""The forest plot: per metric the paired change, its deciding bound and the tolerance.

Inputs are real gate decisions (:func:`decide` on paired 0/1 and score values),
so the plot is checked against the very figures the gate decided with.
"""

from __future__ import annotations

import re

import pytest

from pytest_llmfunnel.gate.decision import MetricSpec, PairedSample, decide
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.forest import forest_lines, terminal_forest
from pytest_llmfunnel.report.markdown import render_markdown

DATASET = "tests/test_support.py::test_support"


def rate_drop(flips_down: int, n: int = 10_000, *, gated: bool = True,
              name: str = "promotion rate") -> PairedSample:
    """A pass rate of 90% on ``n`` cases that loses ``flips_down`` of them."""
    base = (1.0,) * (n * 9 // 10) + (0.0,) * (n - n * 9 // 10)
    cur = (0.0,) * flips_down + base[flips_down:]
    return PairedSample(MetricSpec(name, "binary", 0.02, gated), DATASET, base, cur)


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```+text\n(.*?)\n```+$", markdown, re.S | re.M)


def row_of(block: str, label: str) -> str:
    """The plot's line of ``label``: beside the label, or right below it."""
    lines = block.splitlines()
    at = next(i for i, line in enumerate(lines) if label in line)
    return next(line for line in lines[at:] if any(c in line for c in "┆│◀▶●"))


def test_the_report_shows_the_deciding_drop_against_the_tolerance() -> None:
    # 250 of 10,000 cases flip pass -> fail: -2.5 points, and the gate's upper
    # bound (-2.2) lies below the -2-point tolerance: regressed.
    decisions = decide([rate_drop(250)])
    (d,) = decisions
    assert d.decision == "regressed" and -2.5 < d.bound * 100 < -2.0
    markdown = render_markdown(RunResult(), decisions)
    assert "```mermaid" not in markdown
    plots = [b for b in code_blocks(markdown) if "promotion rate" in b]
    assert plots, "no text forest plot of the gated metric in the report"
    row = row_of(plots[0], "promotion rate")
    # change, then its bound, then the tolerance line, then zero: left to right.
    assert row.index("●") < row.index("┫") < row.index("┆") < row.index("│")
    assert "−2.5" in row and f"−{abs(d.bound) * 100:.1f}" in row and "REGRESSED" in row


# --- the plot against known inputs ---------------------------------------------------


def rate_gain(flips_up: int, n: int = 10_000, name: str = "relevance pass rate") -> PairedSample:
    """A pass rate of 80% on ``n`` cases that wins ``flips_up`` of them."""
    base = (0.0,) * (n // 5) + (1.0,) * (n - n // 5)
    cur = (1.0,) * flips_up + base[flips_up:]
    return PairedSample(MetricSpec(name, "binary", 0.02), DATASET, base, cur)


def score_drop(drop: float, name: str = "faithfulness mean score") -> PairedSample:
    """A 1–5 rubric score, measured only, that loses ``drop`` points on average."""
    base = (4.0,) * 100
    cur = tuple(4.0 - drop + (0.5 if i % 2 else -0.5) for i in range(100))
    spec = MetricSpec(name, "score", 0.02, gated=False, scale=(1.0, 5.0))
    return PairedSample(spec, DATASET, base, cur)


SCALES = {(DATASET, "faithfulness"): (1.0, 5.0)}


def plot(samples: list[PairedSample], width: int = 80, *, measured: bool = True) -> str:
    lines = forest_lines(decide(samples), width=width, scales=SCALES, measured=measured)
    return "\n".join(lines)


def test_a_drop_inside_the_tolerance_keeps_its_bound_right_of_the_line() -> None:
    text = plot([rate_drop(250), rate_drop(100, name="faithfulness pass rate")])
    row = row_of(text, "faithfulness pass rate")
    assert row.index("┆") < row.index("●") < row.index("┫") < row.index("│")
    assert row.rstrip().endswith("−1.0   −0.8  ok")


def test_an_improvement_clears_the_upper_tolerance_with_its_lower_bound() -> None:
    text = plot([rate_drop(250), rate_gain(500)])
    row = row_of(text, "relevance pass rate")
    assert row.index("│") < row.rindex("┆") < row.index("┣") < row.index("●")
    assert "improved" in row and "+5.0" in row


def test_a_not_comparable_metric_says_why_instead_of_a_bar() -> None:
    empty = PairedSample(MetricSpec("tone pass rate", "binary"), DATASET, (), ())
    text = plot([rate_drop(250), empty])
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("tone pass rate"))
    assert lines[at + 1].strip() == "not comparable: no cases in common with the baseline"
    assert not any(c in lines[at + 1] for c in "●┫┣━")


def test_measured_only_metrics_are_drawn_apart_and_never_look_gated() -> None:
    text = plot([score_drop(0.4), rate_drop(250)])
    gated_at = text.index("gated (these decide the build):")
    measured_at = text.index("measured only (these never fail the build):")
    assert gated_at < text.index("promotion rate") < measured_at
    assert measured_at < text.index("faithfulness mean score")
    row = row_of(text, "faithfulness mean score")
    assert row.endswith("dropped") and "REGRESSED" not in row
    # Without -v the terminal counts them instead.
    compact = plot([score_drop(0.4), rate_drop(250)], measured=False)
    assert "faithfulness mean score" not in compact
    assert compact.endswith("(1 measured-only metric not drawn; -v draws them)")


def test_scores_sit_on_the_common_scale_as_percent_of_their_range() -> None:
    # -0.4 on a 1-5 rubric is -10% of its range: the same place as -10 points of a rate.
    text = plot([rate_drop(1000), score_drop(0.4)])
    rate_row, score_row = row_of(text, "promotion rate"), row_of(text, "faithfulness mean score")
    assert rate_row.index("●") == score_row.index("●")
    assert "−10.0" in rate_row and "−10.0" in score_row
    # Same tolerance (2% of the range): the same tolerance lines.
    assert [i for i, c in enumerate(rate_row) if c == "┆"] == [
        i for i, c in enumerate(score_row) if c == "┆"]


def test_a_score_without_a_scale_is_listed_not_drawn() -> None:
    spec = MetricSpec("answer_words mean score", "score", 0.02, gated=False)
    words = PairedSample(spec, DATASET, (28.0, 30.0, 27.0), (14.0, 16.0, 15.0))
    text = plot([rate_drop(250), words])
    assert "answer_words mean score" in text
    assert "no declared scale, not drawn: change −13.3" in text


def test_extreme_values_stop_at_the_edge_with_a_marker_and_keep_their_figures() -> None:
    collapse = rate_drop(6000, name="faithfulness pass rate")  # -60 points, gated
    text = plot([rate_drop(250), collapse])
    ticks = next(line for line in text.splitlines() if "┼" in line)
    row = row_of(text, "faithfulness pass rate")
    plot_start = ticks.index("─") if ticks.index("─") < ticks.index("┼") else ticks.index("┼")
    assert row[plot_start] == "◀" and "●" not in row
    assert "−60.0" in row and "REGRESSED" in row
    # The axis stops at 10 tolerances (20 points), so the -2.5 drop stays readable.
    labels = next(line for line in text.splitlines() if "change  bound" in line)
    assert "−20" in labels and "−60" not in labels
    small = row_of(text, "promotion rate")
    assert small.index("●") < small.index("┫") <= small.index("┆")


def test_the_zero_tick_lines_up_with_every_rows_zero_line() -> None:
    text = plot([rate_drop(250), rate_drop(100, name="faithfulness pass rate"), rate_gain(500)])
    lines = text.splitlines()
    labels = next(line for line in lines if "change  bound" in line)
    marks = lines[lines.index(labels) + 1]
    zero = labels.index(" 0 ") + 1
    assert marks[zero] == "┼"
    for name in ("promotion rate", "faithfulness pass rate", "relevance pass rate"):
        assert row_of(text, name)[zero] in "│┿"


@pytest.mark.parametrize("width", [40, 50, 60, 72, 80, 100, 120, 200])
def test_every_width_fits_and_keeps_the_order_of_change_bound_and_tolerance(width: int) -> None:
    long = rate_drop(250, name="correctness pass rate of the very long metric name, wrapped")
    text = plot([long, score_drop(0.4)], width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    row = row_of(text, "correctness pass rate")
    assert row.index("●") < row.index("┆") < row.index("│")
    assert "correctness pass rate of the very long metric name, wrapped" in " ".join(
        line.strip() for line in text.splitlines())  # wrapped, never cut
    if width >= 60:
        assert "−2.5" in row  # the figures give way only on the narrowest
    assert row.rstrip().endswith("REGRESSED")


def test_the_terminal_draws_it_when_the_gate_failed_or_at_verbose() -> None:
    failed = decide([rate_drop(250)])
    passed = decide([rate_drop(100)])
    assert terminal_forest(failed)[0] == "what decided the gate, per metric:"
    assert terminal_forest(passed) == []
    assert terminal_forest(passed, verbosity=1)[0] == "what decided the gate, per metric:"
    assert terminal_forest(failed, verbosity=-1) == []


def test_only_measured_metrics_left_out_leaves_just_their_count() -> None:
    assert forest_lines(decide([score_drop(0.4)]), scales=SCALES, measured=False) == [
        "(1 measured-only metric not drawn; -v draws them)"]
    assert forest_lines([]) == []


def test_a_zero_tolerance_puts_both_tolerance_lines_on_zero() -> None:
    base = (1.0,) * 900 + (0.0,) * 100
    cur = (0.0,) * 25 + base[25:]
    strict = PairedSample(MetricSpec("promotion rate", "binary", 0.0), DATASET, base, cur)
    text = plot([strict])
    row = row_of(text, "promotion rate")
    assert "┆" not in row  # both tolerance lines fall on the zero line
    assert row.index("●") < row.index("┫") < row.index("│")
    assert row.rstrip().endswith("REGRESSED")
