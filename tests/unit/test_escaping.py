"""Untrusted text is inert in every report, field by field, checked by the parser people use.

The hostile corpus (:mod:`hostile`) goes into each field a report shows, one
field at a time and all at once: the pull-request Markdown is rendered by
GitHub's cmark-gfm and must keep the structure of the same report with benign
text; terminal lines must hold no control, bidi, tag or invisible character;
the JSON results must parse back to the original text with the dangerous
characters written as escapes. The plugin's own terminal output (per-item
sections, must/strict failures, the short summary, ``-l`` locals) and its JUnit
XML are checked in ``test_escaping_plugin.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel import escape
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.calibration import (
    calibration_lines,
    calibration_markdown,
    distrust_lines,
)
from pytest_llmfunnel.report.markdown import render_markdown
from pytest_llmfunnel.report.results_json import SettingsSummary, build_document, to_json
from pytest_llmfunnel.report.summary import ReportData
from pytest_llmfunnel.report.terminal_blocks import funnel_table, problem_cases
from pytest_llmfunnel.report.terminal_text import terminal_lines
from pytest_llmfunnel.report.variants import variant_lines, variants_markdown
from pytest_llmfunnel.review.agreement import Interval
from pytest_llmfunnel.review.calibrated_rate import Estimate, RateInterval
from pytest_llmfunnel.review.calibration import CriterionCalibration as Calibration
from pytest_llmfunnel.variants.pairs import PairwiseResult
from pytest_llmfunnel.variants.ranking import (
    MetricInfo,
    VariantRanking,
    VariantResult,
)
from tests.support.hostile import ALL, CORPUS, markdown_problems, render_gfm, terminal_problems
from tests.support.sample_records import as_record

# As long as ALL, so it is cut where ALL is cut and both reports have the same shape.
BENIGN = ("benign " * 500)[: len(ALL)]
REPORT_FIELDS = (
    "dataset", "case", "variant", "tag", "output", "stage", "reason", "judge", "error",
    "metric", "decision_reason", "flip_reason", "flip_output", "judge_label", "title",
    "missing_baseline",
)




def text_of(field: str, hostile: str, fields: tuple[str, ...]) -> str:
    """``hostile`` in the fields named, else benign text about as long."""
    benign = f"{field}-{BENIGN}" if len(hostile) > 100 else f"{field}-benign"
    return hostile if field in fields else benign


def report_inputs(hostile: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """Records, decisions and flips with ``hostile`` in ``fields`` and benign text elsewhere."""

    def t(field: str) -> str:
        return text_of(field, hostile, fields)

    dataset = f"tests/test_x.py::test_ds-{t('dataset')}"
    stage = {"stage": t("stage"), "kind": "judge", "status": "failed", "gating": False,
             "must": False, "score": 2.0, "samples": [2.0], "reason": t("reason"),
             "judge": t("judge"), "scale": None, "requests": 1, "cache_hits": 0,
             "prompt_tokens": 1, "completion_tokens": 1}
    record = {"dataset": dataset, "path": "x.jsonl", "case": t("case"), "variant": t("variant"),
              "fingerprint": "", "tags": [t("tag"), "plain"], "output": t("output"),
              "promoted": False, "dropped_at": None, "error": t("error"), "stages": [stage],
              "baseline": None}
    decision = GateDecision(
        dataset=dataset, metric=t("metric"), n=100, baseline_mean=0.9, current_mean=0.8,
        diff=-0.1, bound=-0.05, p_value=0.001, p_adjusted=0.002, mde=0.5,
        decision="regressed", reason=t("decision_reason"), test="mcnemar-exact", flips=(12, 2),
        gated=True, level=0.025, tolerance=0.02,
    )
    flip = Flip(dataset, t("case"), t("variant"), t("metric"), t("stage"), True, False,
                t("flip_reason"), t("flip_output"))
    return {"records": [as_record(record)], "decisions": [decision], "flips": [flip],
            "judge_label": t("judge_label"), "title": t("title"),
            "missing": [t("missing_baseline")]}


def markdown_report(hostile: str, fields: tuple[str, ...]) -> str:
    x = report_inputs(hostile, fields)
    return render_markdown(
        RunResult.from_records(x["records"]), x["decisions"], x["flips"],
        records=x["records"], judge_label=x["judge_label"], title=x["title"],
        missing_baselines=x["missing"],
    )


def ranking(hostile: str, fields: tuple[str, ...]) -> VariantRanking:
    def t(field: str) -> str:
        return text_of(field, hostile, fields)

    metric = MetricInfo(t("metric"), "binary", True, 10, 0.02)
    variants = tuple(
        VariantResult(name, rank, status, t("reason"), (0.9,), ())  # type: ignore[arg-type]
        for rank, (name, status) in enumerate(
            [(t("variant") + "-a", "best"), (t("variant") + "-b", "discarded")], start=1)
    )
    return VariantRanking(
        dataset=f"tests/test_x.py::test_ds-{t('dataset')}", cases=10, unpaired=(t("case"),),
        primary=t("metric"), alpha=0.05, metrics=(metric,), variants=variants,
        pairwise=(PairwiseResult(t("stage"), variants[0].variant, variants[1].variant,
                                 3, 1, 1, 0),),
        note=t("decision_reason"),
    )


def calibration(hostile: str, fields: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    stage = text_of("stage", hostile, fields)
    warning = text_of("reason", hostile, fields)
    interval = Interval(0.5, 0.4, 0.6)
    rate = RateInterval(0.5, 0.45, 0.55, 10, 20, 0.5)
    return (
        [Calibration(stage, labelled=10, ties=1, stale=1, accuracy=interval, kappa=interval,
                     warning=warning, distrust=warning)],
        [Estimate(stage, 20, 10, interval, rate, rate, rate, judge_helped=True,
                  warning=warning)],
    )


# --- Markdown, through GitHub's renderer --------------------------------------------

SINGLE_FIELDS = [pytest.param((f,), id=f) for f in REPORT_FIELDS]
EVERY_FIELD = pytest.param(REPORT_FIELDS, id="every-field")


@pytest.mark.parametrize("fields", [*SINGLE_FIELDS, EVERY_FIELD])
def test_the_pull_request_report_is_inert_in_each_field(fields: tuple[str, ...]) -> None:
    benign = markdown_report(BENIGN, fields)
    assert markdown_problems(markdown_report(ALL, fields), benign) == []


@pytest.mark.parametrize(("name", "text"), list(CORPUS.items()), ids=list(CORPUS))
def test_each_hostile_kind_is_inert_in_every_field_of_the_report(name: str, text: str) -> None:
    benign = markdown_report("benign", REPORT_FIELDS)
    assert markdown_problems(markdown_report(text, REPORT_FIELDS), benign) == []


def test_the_variant_ranking_and_calibration_sections_are_inert() -> None:
    def sections(text: str) -> str:
        fields = ("variant", "metric", "reason", "stage", "case", "dataset", "decision_reason")
        cals = calibration(text, fields)
        return "\n\n".join([variants_markdown([ranking(text, fields)]),
                            "\n".join(calibration_markdown(*cals)),
                            "\n".join(escape.md_text(w, None) for w in distrust_lines(cals[0]))])

    for text in [ALL, *CORPUS.values()]:
        benign = sections(BENIGN if len(text) > 100 else "benign")
        assert markdown_problems(sections(text), benign) == [], text


def test_tables_keep_their_rows_and_cells_under_github_rendering() -> None:
    html = render_gfm(markdown_report(ALL, REPORT_FIELDS))
    benign = render_gfm(markdown_report(BENIGN, REPORT_FIELDS))
    for page in (html, benign):
        assert page.count("<table>") == 3  # funnel, quality, tags
    assert html.count("<tr>") == benign.count("<tr>")
    assert html.count("<td") == benign.count("<td")


def test_the_checker_sees_what_github_would_make_live() -> None:
    benign = "| a | b |\n| --- | --- |\n| x | y |\n"
    live = [
        "see https://evil.example", "www.evil.example", "mail victim@evil.example",
        "[x](https://e.example)", "![i](https://e.example/p.png)", "<img src=x>",
        "ping @octocat", "fixes #12", "org/repo#3", "GH-7", "\x1b[31mred",
        "\u202eevil", "tag\U000e0041",
    ]
    for text in live:
        assert markdown_problems(text), text
    assert markdown_problems("| a | b |\n| --- | --- |\n| x | y | z |\n| p |\n", benign)
    assert markdown_problems(benign, benign) == []


def test_markdown_neutralising_keeps_the_text_readable() -> None:
    # A word joiner (U+2060) breaks each autolink, reference and mention and is
    # invisible: the rendered text reads as written.
    text = "mail victim@evil.example, see https://evil.example/a, www.evil.example, #12, GH-3"
    rendered = re.sub(r"<[^>]+>", "", render_gfm(escape.md_text(text, None)))
    assert rendered.replace("\u2060", "").strip() == text
    assert "<a" not in render_gfm(escape.md_text(text, None))


def test_unlink_puts_one_word_joiner_where_each_pattern_breaks() -> None:
    j = "\u2060"
    assert escape.unlink("a@b.c https://x.y www.z.q #12 GH-3 org/r#4 mailto:x xmpp:y") == (
        f"a@{j}b.c https{j}://x.y www{j}.z.q #{j}12 GH{j}-3 org/r#{j}4 mailto{j}:x xmpp{j}:y"
    )
    # Nothing else changes: times, hashtags without digits, ordinary words.
    plain = "at 10:30, #tag, GHz, wwwx.y, rate: 5/5"
    assert escape.unlink(plain) == plain


# --- terminal lines ------------------------------------------------------------------


@pytest.mark.parametrize("fields", [*SINGLE_FIELDS, EVERY_FIELD])
def test_terminal_report_lines_are_inert_in_each_field(fields: tuple[str, ...]) -> None:
    x = report_inputs(ALL, fields)
    data = ReportData(RunResult.from_records(x["records"]), tuple(x["records"]),
                      tuple(x["decisions"]), tuple(x["flips"]), tuple(x["missing"]))
    for verbosity in (-1, 0, 1):
        lines = list(terminal_lines(data, verbosity=verbosity, width=80))
        assert [p for line in lines for p in terminal_problems(line)] == []


def test_summary_pieces_are_inert() -> None:
    fields = REPORT_FIELDS
    x = report_inputs(ALL, fields)
    run = RunResult.from_records(x["records"])
    lines = [
        *problem_cases(x["records"], limit=None),
        *(line for ds in run.datasets.values() for line in funnel_table(ds, lambda p, c: None)),
        *variant_lines([ranking(ALL, fields)], width=80),
        *calibration_lines(*calibration(ALL, fields)),
        *(escape.one_line(w) for w in distrust_lines(calibration(ALL, fields)[0])),
    ]
    assert [p for line in lines for p in terminal_problems(line)] == []
    assert not any("\n" in line for line in lines)


@pytest.mark.parametrize(("name", "text"), list(CORPUS.items()), ids=list(CORPUS))
def test_terminal_text_removes_every_hostile_kind(name: str, text: str) -> None:
    assert terminal_problems(escape.terminal_text(text, None)) == []
    assert terminal_problems(escape.clean(text, keep_newlines=True)) == []


def test_terminal_text_keeps_legitimate_joiners() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji, joined
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a ZWNJ inside a word
    assert escape.terminal_text(family, None) == family
    assert escape.terminal_text(persian, None) == persian
    assert escape.terminal_text("pay\u200dpal\u200c", None) == "paypal"


# --- JSON results ----------------------------------------------------------------------

JSON_UNSAFE = re.compile("[\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def test_json_results_escape_dangerous_characters_and_round_trip() -> None:
    x = report_inputs(ALL, REPORT_FIELDS)
    settings = SettingsSummary(judge="offline", judge_label=ALL, model=None, cache="off",
                               alpha=0.05, tolerance=0.02, gate_mode="superiority", seed=0)
    text = to_json(build_document(x["records"], x["decisions"], x["flips"], settings=settings,
                                  tool_version="0", missing_baselines=x["missing"]))
    assert JSON_UNSAFE.findall(text) == []
    assert "\x1b" not in text  # json.dumps escapes C0 itself
    loaded = json.loads(text)
    case = loaded["cases"][0]
    assert case["output"] == ALL and case["case"] == ALL and case["tags"][0] == ALL
    assert case["stages"][0]["reason"] == ALL and case["stages"][0]["stage"] == ALL
    assert loaded["decisions"][0]["metric"] == ALL
    assert loaded["flips"][0]["output_excerpt"] == ALL
    assert loaded["settings"]["judge_label"] == ALL
    assert loaded["missing_baselines"] == [ALL]
    # Readable text stays readable: only the dangerous characters are escaped.
    assert "victim@evil.example" in text and "\\u202e" in text and "\\u2028" in text


def test_json_text_escapes_only_what_it_must() -> None:
    raw = json.dumps({"k": "é\u0085\u202e\u2028x"}, ensure_ascii=False)
    safe = escape.json_text(raw)
    assert safe == '{"k": "é\\u0085\\u202e\\u2028x"}'
    assert json.loads(safe) == json.loads(raw)


def test_the_review_file_escapes_dangerous_characters_and_round_trips(tmp_path: Path) -> None:
    from pytest_llmfunnel.review.label_files import export_review
    from pytest_llmfunnel.review.slice import select_review_slice

    records = report_inputs(ALL, REPORT_FIELDS)["records"]
    records[0] = replace(records[0], error=None)
    chosen = select_review_slice(records, budget=1, seed=0)
    path = export_review(chosen, tmp_path / "slice.jsonl", show_verdicts=True)
    text = path.read_text(encoding="utf-8")
    assert JSON_UNSAFE.findall(text) == []
    (row,) = [json.loads(line) for line in text.splitlines()]
    assert row["output"] == ALL and row["case"] == ALL


# --- the command line --------------------------------------------------------------


def test_command_line_errors_are_inert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_llmfunnel import cli

    name = "r" + "".join(CORPUS[k] for k in ("sgr", "bidi", "tags", "c1", "zero-width")) + ".json"
    (tmp_path / name).write_text("{not json", encoding="utf-8")
    assert cli.main(["report", str(tmp_path / name)]) != 0
    err = capsys.readouterr().err
    assert "not valid JSON" in err, err
    assert terminal_problems(err) == []
