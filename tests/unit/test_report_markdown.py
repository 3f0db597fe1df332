"""The Markdown pull-request report: golden output, verdicts, and hostile text kept inert.

``tests/golden/report.md`` is compared exactly; after an intended change run
``LLMFUNNEL_UPDATE_GOLDEN=1 pytest tests/unit/test_report_*.py`` to rewrite it and
review the diff.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest

from pytest_llmfunnel.escape import (
    html_text,
    longest_run,
    md_cell,
    md_code_block,
    md_text,
)
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.markdown import (
    MARKER,
    chart_markdown,
    render_markdown,
    verdict_markdown,
)
from pytest_llmfunnel.report.results_json import load_results
from pytest_llmfunnel.report.summary import judge_label
from tests.support.paths import GOLDEN
from tests.support.sample_records import as_record

UPDATE = os.environ.get("LLMFUNNEL_UPDATE_GOLDEN") == "1"
OUR_TAGS = {"<!-- pytest-llmfunnel report -->", "<details>", "</details>", "<summary>",
            "</summary>"}
HOSTILE = (
    "a|b \\| `code` ```fence``` ~~~ <script>alert(1)</script> <img src=x onerror=alert(1)> "
    "[x](javascript:alert(1)) ![img](http://x/y.png) <http://evil.example> <details open> "
    "</details> </summary> <!-- comment --> &lt;script&gt; *bold* _it_ ~~gone~~ $x^2$ "
    "@octocat @org/team #1 \x1b[31mred\x1b[0m " + "L" * 10_000
)
HOSTILE_LINES = (
    "first line\n```\n````\n`````````` not closed\n</details>\n<script>x</script>\n"
    "[a](javascript:alert(1))\n![i](http://x/y.png)\n| a | b |\n~~~\n" + "`" * 40 + "\n"
)




def decision(dataset: str, metric: str, verdict: str = "regressed", **kw: object) -> GateDecision:
    values: dict[str, object] = dict(
        dataset=dataset, metric=metric, n=100, baseline_mean=0.9, current_mean=0.8, diff=-0.1,
        bound=-0.05, p_value=0.001, p_adjusted=0.002, mde=0.05, decision=verdict,
        reason="significantly worse", test="mcnemar-exact", flips=(12, 2), gated=True,
        level=0.025, tolerance=0.02,
    )
    values.update(kw)
    return GateDecision(**values)  # type: ignore[arg-type]


def hostile_report() -> str:
    record = as_record({
        "dataset": f"tests/x.py::test_{HOSTILE[:200]}", "path": "x.jsonl", "case": HOSTILE,
        "variant": "default", "fingerprint": "", "tags": [HOSTILE, "ok"], "output": HOSTILE,
        "promoted": True, "dropped_at": None, "error": None,
        "stages": [{"stage": HOSTILE, "kind": "judge", "status": "passed", "gating": False,
                    "must": False, "score": 4.0, "samples": [4.0], "reason": HOSTILE,
                    "judge": HOSTILE, "requests": 1, "cache_hits": 0, "prompt_tokens": 1,
                    "completion_tokens": 1}],
    })
    flips = [
        Flip(record.dataset, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, False,
             HOSTILE + "\n" + HOSTILE_LINES, HOSTILE_LINES + HOSTILE),
        Flip("d", "c", "default", "m", "m", True, False, HOSTILE_LINES, HOSTILE_LINES * 3),
    ]
    decisions = [
        decision(f"tests/x.py::test_{HOSTILE}", HOSTILE, reason=HOSTILE),
        decision("d", HOSTILE, "not comparable", reason=HOSTILE, mde=0.5, flips=None),
    ]
    return render_markdown(
        RunResult.from_records([record]), decisions, flips, records=[record],
        judge_label=HOSTILE, title=HOSTILE, missing_baselines=[HOSTILE],
    )


# --- a small Markdown structure checker ---------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def split_code(markdown: str) -> tuple[list[str], list[list[str]]]:
    """Lines outside fenced code blocks, and each block's lines; fails on an unclosed fence."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        m = _FENCE.match(line)
        if fence is None:
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = m.group(1)
                blocks.append([])
            else:
                outside.append(line)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not m.group(2).strip():
            fence = None
        else:
            blocks[-1].append(line)
    assert fence is None, f"unclosed code fence {fence!r}"
    return outside, blocks


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def assert_well_formed_and_inert(markdown: str) -> None:
    outside, _ = split_code(markdown)
    text = "\n".join(outside)
    # Tables: every row has as many cell delimiters as its header.
    table: list[str] = []
    for line in [*outside, ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            counts = {unescaped_pipes(row) for row in table}
            assert len(counts) == 1, table
            assert re.fullmatch(r"\|( ---:? \|)+", table[1]), table[1]
            table = []
    # HTML: only the report's own tags, balanced.
    for tag in re.findall(r"<[!/A-Za-z][^>]*>?", text):
        assert tag in OUR_TAGS, tag
    assert text.count("<details>") == text.count("</details>")
    assert text.count("<summary>") == text.count("</summary>")
    # No links, images, autolinks or mentions.
    lowered = text.lower()
    for needle in ("<script", "<img", "](", "![", "<http", "@octocat", "@org"):
        assert needle not in lowered, needle
    # "javascript:" may stay as words, never as a link target.
    assert not re.search(r"(\]\s*\(|<|href\s*=\s*['\"]?)\s*javascript:", lowered)
    # Truncated: no line anywhere near the 10,000 characters that went in.
    assert max(len(line) for line in markdown.split("\n")) < 3_000


# --- tests ------------------------------------------------------------------------------


def test_report_matches_golden() -> None:
    markdown = render_markdown(load_results(GOLDEN / "results.json"))
    path = GOLDEN / "report.md"
    if UPDATE:
        path.write_text(markdown, encoding="utf-8")
    assert markdown == path.read_text(encoding="utf-8")
    assert_well_formed_and_inert(markdown)


def test_report_structure_from_the_sample() -> None:
    markdown = render_markdown(load_results(GOLDEN / "results.json"))
    lines = markdown.split("\n")
    assert lines[0] == MARKER
    assert lines[4].startswith("**❌ Regression in 1 of 3 gated metrics** (support: faithfulness "
                               "−6.0 pts, p&#95;adj=0.046)")
    assert "Judged by: offline reference judge &#40;rule-based, not an LLM&#41;" in lines
    for heading in ("### Why it failed", "### Funnel", "### Quality",
                    "### Other flipped cases (1)"):
        assert heading in lines
    assert "```mermaid" not in markdown
    assert markdown.count("```text\nchange = current − baseline") == 1  # the forest plot
    # The failing metric's three cases in one block, the other flip, the tag breakdown.
    assert markdown.count("<details><summary>") == 3
    assert "--llm-funnel-update-baseline" in lines[-2]


def test_hostile_text_cannot_break_out() -> None:
    markdown = hostile_report()
    assert_well_formed_and_inert(markdown)
    assert "\x1b" not in markdown
    _, blocks = split_code(markdown)
    code = ["\n".join(b) for b in blocks]
    # The excerpts survive (inert) inside their code blocks, cut at the detail limit;
    # the forest plot wraps the metric names, up to their own limit.
    excerpts = [c for c in code if not c.startswith("change = current")]
    assert any("<script>x</script>" in c for c in excerpts)
    assert all(len(c) <= 1_000 for c in excerpts)
    (plot,) = [c for c in code if c.startswith("change = current")]
    assert max(len(line) for line in plot.splitlines()) <= 80 and len(plot) <= 2_000
    assert "(truncated: 10," in markdown


def test_the_checker_catches_what_it_should() -> None:
    with pytest.raises(AssertionError):
        split_code("```\nopen")
    with pytest.raises(AssertionError):
        assert_well_formed_and_inert("| a | b |\n| --- | --- |\n| x | y | z |\n")
    with pytest.raises(AssertionError):
        assert_well_formed_and_inert("text <img src=x>\n")
    with pytest.raises(AssertionError):
        assert_well_formed_and_inert("see [x](javascript:alert(1))\n")
    with pytest.raises(AssertionError):
        assert_well_formed_and_inert("see <javascript:alert(1)>\n")
    assert_well_formed_and_inert("```\n<img src=x> [x](javascript:y)\n```\n")


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([decision("tests/t.py::test_support", "faithfulness")],
         "**❌ Regression in 1 of 1 gated metric** (support: faithfulness −10.0 pts, "
         "p&#95;adj=0.002)"),
        ([decision("d", "m", "ok"), decision("d", "n", "improved", diff=0.1)],
         "**✅ No regression in 2 gated metrics** (1 improved: d: n +10.0 pts, "
         "p&#95;adj=0.002)"),
        ([decision("d", "m", "not comparable", reason="too few cases")],
         "**⚠️ Not comparable: 1 of 1 gated metric** (d: m: too few cases)"),
        ([], "**ℹ️ No gate: no baseline to compare with**"),
    ],
)
def test_verdict_line(decisions: list[GateDecision], expected: str) -> None:
    assert verdict_markdown(decisions) == expected


def test_forest_plot_keeps_hostile_labels_inside_its_block() -> None:
    decisions = [decision("d", f'm"{i}```];\nx <b>', "ok", bound=0.01) for i in range(20)]
    chart = chart_markdown(decisions)
    assert chart.startswith("````text\n") and chart.endswith("\n````")  # a longer fence
    assert_well_formed_and_inert(chart + "\n")
    assert sum('m"' in line for line in chart.splitlines()) == 20  # every metric, none capped
    assert chart_markdown([]) == ""


def test_judge_label_names_offline_judge_and_lockfile() -> None:
    records = [as_record({"stages": [
        {"judge": "offline-reference-judge v1 (rule-based, not an LLM)"}, {"judge": None}]})]
    assert judge_label(records) == "offline reference judge (rule-based, not an LLM)"
    assert judge_label(records, lockfile="verdicts.jsonl").endswith(
        "; verdicts replayed from the lockfile verdicts.jsonl"
    )
    only = as_record({"stages": [{"judge": "gpt-4o-mini"}]})
    assert judge_label([only], cache_mode="replay-only") == (
        "gpt-4o-mini; verdicts replayed from the cache (replay-only)"
    )
    assert judge_label([]) == "no judge stage ran"


def test_render_refuses_a_baseline_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--llm-funnel-baseline-dir"):
        render_markdown(load_results(GOLDEN / "results.json"), baseline=tmp_path / "b.json")


def test_flip_list_is_capped() -> None:
    flips = [Flip("d", f"c{i}", "default", "m", "m", True, False, None, None) for i in range(30)]
    # Flips of a metric that did not fail: the list of other flipped cases.
    markdown = render_markdown(RunResult(), [decision("d", "m", "ok")], flips, judge_label="j",
                               flip_limit=5)
    assert markdown.count("<summary>") == 5
    assert "… and 25 more in the JSON results." in markdown


# --- escaping, function by function -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("a|b", "|"),
        ("<script>alert(1)</script>", "<"),
        ("[x](javascript:alert(1))", "]("),
        ("![img](http://x/y.png)", "!["),
        ("<http://evil.example>", "<"),
        ("`code` and ```", "`"),
        ("\\|", "|"),
        ("*bold* _it_ ~~s~~", "*"),
        ("&lt;script&gt;", "&lt;"),
        ("line\nbreak\r\nagain", "\n"),
        ("\x1b[31mred", "\x1b"),
    ],
)
def test_md_cell_neutralises(raw: str, forbidden: str) -> None:
    cell = md_cell(raw)
    assert forbidden not in cell
    # Word joiners (U+2060) break autolinks invisibly; the text is otherwise the same.
    assert html.unescape(cell).replace("\u2060", "") == " ".join(
        raw.replace("\x1b[31m", "").split()
    )


def test_md_text_truncates_before_escaping_and_stops_mentions() -> None:
    text = md_text("<" * 1_000, 10)
    assert text == "&#60;" * 9 + "…"
    assert md_text("ping @octocat and @org/team, mail a@b.c") == (
        "ping @\u2060octocat and @\u2060org/team, mail a@\u2060b.c"
    )
    assert md_text("x" * 500) == "x" * 299 + "…"
    assert md_text("x" * 500, None) == "x" * 500


def test_md_code_block_fence_outgrows_any_backtick_run() -> None:
    body = "a\n```\n" + "`" * 7 + "\nb"
    block = md_code_block(body)
    first, *_, last = block.split("\n")
    assert first == "`" * 8 + "text" and last == "`" * 8
    assert longest_run(body, "`") == 7
    assert md_code_block("plain").startswith("```text\n")
    assert md_code_block("x", info="py`thon\n") .startswith("```python\n")
    long = md_code_block("y" * 5_000, 100)
    assert "(truncated: 5,000 characters in all)" in long
    assert max(len(line) for line in long.split("\n")) <= 100


def test_html_text() -> None:
    assert html_text('<b onclick="x">&</b>') == (
        "&#60;b onclick=&#34;x&#34;&#62;&#38;&#60;/b&#62;"
    )
    assert html.unescape(html_text("[a](javascript:x) ![i](u) 'q'")) == (
        "[a](javascript:x) ![i](u) 'q'"
    )
    assert "](" not in html_text("[a](b)") and "![" not in html_text("![a](b)")
    assert html_text("a\n\nb") == "a b"


def test_warnings_stand_under_the_verdict_and_are_inert() -> None:
    from pytest_llmfunnel.config import Settings
    from pytest_llmfunnel.report.results_json import SettingsSummary, build_document, to_json
    from tests.support.hostile import markdown_problems, render_gfm

    run = RunResult.from_records([])
    warning = "8 of 12 cases (67%) are unpaired; see https://evil.example/x @team #12"
    text = render_markdown(run, [], [], judge_label="j", warnings=[warning])
    head = text[: text.index("Judged by:")]
    assert head.count("> ⚠️ warning: 8 of 12 cases &#40;67%&#41; are unpaired") == 1
    benign = render_markdown(run, [], [], judge_label="j", warnings=["benign text " * 6])
    assert markdown_problems(text, benign) == []
    assert "<a" not in render_gfm(text)
    settings = SettingsSummary.from_settings(Settings(enabled=True), "j")
    document = build_document([], [], [], settings=settings, tool_version="0",
                              warnings=[warning])
    assert json.loads(to_json(document))["warnings"] == [warning]
    # A results file renders the same warning (``llmfunnel report``).
    assert "> ⚠️ warning: 8 of 12 cases &#40;67%&#41; are unpaired" in render_markdown(document)
