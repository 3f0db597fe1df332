"""The terminal report: golden tables at 80 columns, verbosity, caps, and inert untrusted text.

Golden files live in ``tests/golden/``; after an intended change to the layout
run ``LLMFUNNEL_UPDATE_GOLDEN=1 pytest tests/unit/test_report_*.py`` to rewrite
them, and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_llmfunnel.escape import clean, strip_escapes, terminal_text, truncate
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.results_json import load_results
from pytest_llmfunnel.report.summary import ReportData, severity, sort_flips, tag_rows
from pytest_llmfunnel.report.terminal_text import (
    flip_lines,
    quality_lines,
    render_text,
    report_lines,
    tag_lines,
    terminal_lines,
    verdict_lines,
)
from tests.support.paths import GOLDEN
from tests.support.sample_records import as_record

UPDATE = os.environ.get("LLMFUNNEL_UPDATE_GOLDEN") == "1"
HOSTILE = (
    "a|b `code` ```fence``` <script>alert(1)</script> [x](javascript:alert(1)) "
    "![img](http://x/y.png) <details> \x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07 "
    "cr\rback nul\x00 \u202eevil\u202c " + "L" * 10_000
)




@pytest.fixture
def width80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def sample() -> ReportData:
    return load_results(GOLDEN / "results.json").report_data()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with LLMFUNNEL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


def decision(dataset: str, metric: str, verdict: str = "regressed", **kw: object) -> GateDecision:
    values: dict[str, object] = dict(
        dataset=dataset, metric=metric, n=100, baseline_mean=0.9, current_mean=0.8, diff=-0.1,
        bound=-0.05, p_value=0.001, p_adjusted=0.002, mde=0.05, decision=verdict,
        reason="significantly worse", test="mcnemar-exact", flips=(12, 2), gated=True,
        level=0.025, tolerance=0.02,
    )
    values.update(kw)
    return GateDecision(**values)  # type: ignore[arg-type]


def hostile_flips(n: int = 1) -> list[Flip]:
    return [
        Flip(f"tests/test_x.py::test_{HOSTILE[:40]}", f"case-{i}-{HOSTILE}", "default",
             "faithfulness", HOSTILE, True, False, HOSTILE, HOSTILE)
        for i in range(n)
    ]


# --- golden output ---------------------------------------------------------------


def test_report_matches_golden_at_80_columns(width80: None, sample: ReportData) -> None:
    lines = list(report_lines(sample.decisions, sample.flips, records=sample.records,
                              missing_baselines=sample.missing_baselines))
    assert max(len(line) for line in lines) <= 80
    check_golden("report.txt", "\n".join(lines) + "\n")


def test_quiet_report_matches_golden(width80: None, sample: ReportData) -> None:
    lines = list(report_lines(sample.decisions, sample.flips, records=sample.records,
                              missing_baselines=sample.missing_baselines, verbosity=-1))
    assert max(len(line) for line in lines) <= 80
    check_golden("report-quiet.txt", "\n".join(lines) + "\n")


# --- content and behaviour ---------------------------------------------------------


def test_quality_table_shows_the_numbers_that_decided(width80: None, sample: ReportData) -> None:
    lines = list(quality_lines(sample.decisions))
    row = next(line for line in lines if line.startswith("faithfulness"))
    assert row.split() == ["faithfulness", "76.0%", "70.0%", "-6.0", "-2.1", "0.046", "10.3",
                           "REGRESSED"]
    assert next(line for line in lines if line.startswith("tone")).endswith("not comparable")
    assert next(line for line in lines if line.startswith("rouge_l")).endswith("ok*")
    assert "* measured only, not gated: does not fail the build" in lines
    notes = " ".join(" ".join(lines[lines.index(next(x for x in lines if x.startswith(
        "note: "))):]).split())
    assert notes.startswith("note: 2 gated metrics are underpowered")
    assert "support/faithfulness (tolerance 2.0pt), qa/exact_match (tolerance 2.0pt)" in notes


def test_a_long_metric_name_goes_whole_on_its_own_line_to_fit_the_width() -> None:
    long = [decision("tests/test_a.py::test_a", "m" * 60),
            decision("tests/test_a.py::test_a", "n" * 30)]
    lines = list(quality_lines(long, width=80))
    assert max(len(line) for line in lines) <= 80
    assert "m" * 60 in lines
    assert "n" * 30 in lines
    assert not any("…" in line for line in lines)
    # Each name stands right above its own row of figures.
    row = lines[lines.index("m" * 60) + 1]
    assert row.split()[0] == "90.0%" and row.split()[-1] == "REGRESSED"


def test_verdict_lines_per_status() -> None:
    assert verdict_lines([decision("d", "m", "ok")], width=80) == [
        "llm-funnel gate passed: No regression in 1 gated metric"
    ]
    assert verdict_lines([], width=80) == ["llm-funnel gate skipped: No gate: no baseline to "
                                           "compare with"]
    nc = decision("d", "m", "not comparable", reason="no cases in common with the baseline")
    assert verdict_lines([nc], width=120)[0].startswith(
        "llm-funnel gate FAILED: Not comparable: 1 of 1 gated metric (d: m: no cases in common"
    )
    ungated = decision("d", "m", "regressed", gated=False)
    assert verdict_lines([ungated], width=80) == [
        "llm-funnel gate skipped: No gate: no gated metrics (1 measured only)"
    ]


def test_regression_headline_names_metric_drop_and_adjusted_p() -> None:
    (line,) = verdict_lines([decision("tests/t.py::test_support", "faithfulness"),
                             decision("d", "other", "ok")], width=200)
    assert line == (
        "llm-funnel gate FAILED: Regression in 1 of 2 gated metrics "
        "(support: faithfulness -10.0 pts, p_adj=0.002)"
    )


def test_flips_most_severe_first_and_capped(sample: ReportData) -> None:
    flips = [
        Flip("d", "improved", "default", "m", "s", False, True, None, None),
        Flip("d", "slight", "default", "m", "s", 4.0, 3.5, None, None),
        Flip("d", "broke", "v2", "m", "s", "passed", "failed", "why", "out"),
    ]
    assert [severity(f) for f in flips] == [-1.0, 0.5, 1.0]
    assert [f.case for f in sort_flips(flips)] == ["broke", "slight", "improved"]
    lines = list(flip_lines(flips, limit=2, width=80))
    assert lines[0] == "flipped cases (3, most severe first):"
    assert lines[1] == "  d/broke:v2  s (m): pass -> fail"
    assert lines[-1] == "  ... and 1 more (use -v to list all)"
    assert not any("improved" in line for line in lines)
    assert len(list(flip_lines(flips, limit=None, width=80))) == 1 + 3 + 2


def test_verbosity_controls_what_is_listed(width80: None) -> None:
    flips = [Flip("d", f"c{i:02}", "default", "m", "m", True, False, None, None)
             for i in range(15)]
    default = list(report_lines([decision("d", "m")], flips))
    verbose = list(report_lines([decision("d", "m")], flips, verbosity=1))
    quiet = list(report_lines([decision("d", "m")], flips, verbosity=-1))
    # The failing metric's cases: five by default, all with -v.
    assert sum("d/c" in line for line in default) == 5
    assert any(line.startswith("  ... and 10 more cases behind d: m") for line in default)
    assert sum("d/c" in line for line in verbose) == 15
    others = list(report_lines([decision("d", "m", "ok")], flips))
    assert sum("d/c" in line for line in others) == 10
    assert "  ... and 5 more (use -v to list all)" in others
    assert not any("d/c" in line for line in quiet)
    assert quiet[0].startswith("llm-funnel gate FAILED")
    assert any("d/m: regressed" in line for line in quiet)
    assert not any(line.startswith("metric") for line in quiet)


def test_tag_breakdown_counts_dropped_cases_as_failures(sample: ReportData) -> None:
    rows = {(r.tag, r.stage): r for r in tag_rows(sample.records)}
    billing = rows[("billing", "faithfulness")]
    # refund-window failed, refund-method passed, empty-answer was dropped earlier.
    assert billing.n == 3 and billing.baseline == 1.0
    assert billing.current == pytest.approx(1 / 3)
    assert rows[("gdpr", "rouge_l")].kind == "score"
    assert rows[("gdpr", "rouge_l")].current == pytest.approx(0.25 + (1.0 + 4.5) / 20)
    assert not any(r.dataset.endswith("test_qa") for r in rows.values())  # untagged dataset
    changed = [r for r in rows.values() if r.baseline is not None and r.current is not None
               and r.current != r.baseline]
    lines = list(tag_lines(sample.records, limit=2, width=80))
    assert lines[0] == "by case tag (descriptive, not gated):"
    assert lines[-1] == f"  ... and {len(changed) - 2} more (use -v to list all)"
    # By default only rows that moved, the largest drop first.
    assert lines[4].split()[:2] == ["billing", "faithfulness"]
    everything = list(tag_lines(sample.records, limit=None, width=80))
    assert len(everything) == 4 + len(rows)  # title, header, rule, a dataset line


def test_render_text_from_a_document_includes_the_funnel(
    width80: None, tmp_path: Path
) -> None:
    doc = load_results(GOLDEN / "results.json")
    text = render_text(doc)
    assert "tests/test_support.py::test_support: 6 cases, 5 promoted" in text
    assert text.rstrip().endswith("no baseline for new")
    with pytest.raises(ValueError, match="--llm-funnel-baseline-dir"):
        render_text(doc, baseline=tmp_path / "b.json")


# --- untrusted text -----------------------------------------------------------------


def test_hostile_text_is_inert_and_short_in_every_terminal_line(width80: None) -> None:
    decisions = [decision(f"tests/x.py::test_{HOSTILE}", HOSTILE, reason=HOSTILE)]
    records = [
        as_record({"dataset": "d", "case": HOSTILE, "tags": [HOSTILE], "promoted": True,
                   "dropped_at": None, "error": None,
                   "stages": [{"stage": HOSTILE, "status": "passed", "score": None}]}),
    ]
    data = ReportData(RunResult(), tuple(records), tuple(decisions), tuple(hostile_flips(12)))
    for verbosity in (-1, 0, 1):
        lines = list(terminal_lines(data, verbosity=verbosity))
        for line in lines:
            assert not any(ch in line for ch in "\x1b\x07\x00\r\n\u202e"), repr(line)
            assert "[31m" not in line and "]0;title" not in line
        if verbosity >= 0:
            assert max(len(line) for line in lines) <= 80
        else:  # -q wraps the gate's full message instead of clipping it
            assert all(len(line) <= 80 for line in lines)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[38;2;255;0;0mrgb\x1b[m", "rgb"),
        ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink
        ("\x1b]0;title\x07after", "after"),
        ("\x1bPq#0;2;0;0;0\x1b\\dcs", "dcs"),
        ("\x1bcreset", "reset"),
        ("\x9b31mc1", "c1"),
        ("\x1b[2J\x1b[Hclear", "clear"),
        ("a\x00b\x07c\x08d\x7fe", "abcde"),
        ("a\r\nb\rc\td\u2028e", "a b c d e"),
        ("\u202eevil\u202c \u2066iso\u2069 z\u200fw", "evil iso zw"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("trailing escape \x1b", "trailing escape"),
    ],
)
def test_terminal_text_strips_sequences_and_controls(raw: str, expected: str) -> None:
    assert terminal_text(raw, None) == expected


def test_terminal_text_collapses_and_truncates() -> None:
    assert terminal_text("  a \n\n b  ", None) == "a b"
    assert terminal_text("x" * 200, 10) == "x" * 9 + "…"
    assert len(terminal_text("y" * 10_000)) == 120
    assert truncate("abc", 3) == "abc" and truncate("abcd", 3) == "ab…"
    assert truncate("abcd", 1) == "…" and truncate("abcd", None) == "abcd"


def test_strip_escapes_keeps_layout_and_clean_keeps_newlines_on_request() -> None:
    assert strip_escapes("a  \x1b[1mb\x1b[0m   c") == "a  b   c"
    assert clean("a\r\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert clean(123) == "123"
    assert clean("") == ""
