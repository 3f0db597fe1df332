"""The pull-request report: one Markdown comment a CI step can post and update.

The comment starts with :data:`MARKER`, so a CI step can find its earlier
comment and edit it instead of adding a new one per push. Everything that
came from a model, a judge or a dataset goes through :mod:`.escape`: it can
neither break a table, open HTML, add a link or an image, mention people,
nor leave its code block. Long texts are cut (:data:`CELL_LIMIT` in tables,
:data:`DETAIL_LIMIT` in the collapsible flip details).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.escape import html_text, md_cell, md_code_block, md_text
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import CaseRecord, RunResult
from pytest_llmfunnel.report.explain import (
    PROMOTION,
    failing_metrics,
    promotion_change,
    shown_elsewhere,
)
from pytest_llmfunnel.report.forest import forest_lines, score_scales
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.report.markdown_cases import failing_cases_markdown
from pytest_llmfunnel.report.notes import mde_notes
from pytest_llmfunnel.report.summary import (
    MINUS,
    ReportData,
    case_label,
    decision_label,
    fmt_diff,
    fmt_mean,
    fmt_p,
    fmt_plain,
    fmt_tag_diff,
    fmt_tag_value,
    fmt_value,
    sort_flips,
    summarize,
    tag_rows,
)
from pytest_llmfunnel.wording import plural

MARKER = "<!-- pytest-llmfunnel report -->"
TITLE = "LLM eval report"
CELL_LIMIT = 300
DETAIL_LIMIT = 1000
FLIP_LIMIT = 25
TAG_LIMIT = 50
CHART_WIDTH = 80  # fits a pull-request comment at 1000 px without scrolling
UPDATE_FLAG = "--llm-funnel-update-baseline"
ICONS = {
    "regressed": "❌", "not comparable": "⚠️", "passed": "✅", "no gate": "ℹ️", "incomplete": "⏹️",
}
DECISION_ICONS = {"regressed": "❌", "not comparable": "⚠️", "improved": "⬆️", "ok": "✅"}
MEASURED_ICONS = {"regressed": "🔻", "not comparable": "➖", "improved": "⬆️", "ok": "✅"}


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A GitHub pipe table from cells that are already escaped."""
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def verdict_markdown(
    decisions: Sequence[GateDecision], missing: Iterable[str] = (),
    completeness: Completeness | None = None, names: Names = NO_NAMES,
) -> str:
    """``**❌ Regression in 1 of 12 gated metrics** (support: ... p_adj=0.003)``."""
    verdict = summarize(decisions, missing, completeness, names)
    detail = verdict.detail(MINUS)
    text = f"**{ICONS[verdict.status]} {md_text(verdict.lead(), None)}**"
    if detail:
        text += f" ({md_text(detail, CELL_LIMIT)})"
    return text + md_text(verdict.extra(), CELL_LIMIT)


def group_row(label: str, columns: int) -> list[str]:
    """A table row naming the dataset of the rows under it: one column fewer per row,
    so the tables a reviewer reads first fit GitHub's comment column."""
    return [f"**{md_cell(label, 80)}**", *[""] * (columns - 1)]


FUNNEL_LEGEND = (
    "*sent*: judge requests sent; *hits*: verdicts read from the cache; *reused*: "
    "baseline verdicts of unchanged outputs taken over (nothing sent)."
)


def funnel_markdown(
    run: RunResult, cost: Callable[[int, int], float | None] | None = None,
    names: Names = NO_NAMES,
) -> str:
    """Per dataset a one-line summary, then one table of every stage, grouped by dataset."""
    lines = []
    rows = []
    headers = ["stage", "in", "passed", "failed", "errors", "sent", "hits", "reused", "tokens"]
    if cost is not None:
        headers.append("cost")
    for ds in run.datasets.values():
        share = f" ({ds.promoted / ds.cases:.0%})" if ds.cases else ""
        lines.append(
            f"- {md_text(dataset_label(ds.name, names), 80)}: {plural(ds.cases, 'case')}, "
            f"{ds.promoted} promoted{share}, {plural(ds.errors, 'error')}"
            f"{ds.target_error_note()}"
        )
        if ds.stages:
            rows.append(group_row(dataset_label(ds.name, names), len(headers)))
        for name, c in ds.stages.items():
            row = [
                md_cell(name, 80), str(c.cases_in),
                str(c.passed), str(c.failed), str(c.errors), str(c.requests),
                str(c.cache_hits), str(c.reused), str(c.usage.total_tokens),
            ]
            if cost is not None:
                price = cost(c.usage.prompt_tokens, c.usage.completion_tokens)
                row.append("-" if price is None else f"{price:.4f}")
            rows.append(row)
    if rows:
        lines += ["", table(headers, rows, right=range(1, len(headers))), "", FUNNEL_LEGEND]
    return "\n".join(lines)


def decision_cell(d: GateDecision) -> str:
    """The decision with its icon; only a gated metric can wear the red cross."""
    if not d.gated:
        # Measured only: it never fails the build, so it never looks like it did.
        word = "dropped" if d.decision == "regressed" else d.decision
        icon = MEASURED_ICONS[d.decision]
        return f"{icon} {md_cell(word)}\\*"  # the legend under the table says what * means
    return f"{DECISION_ICONS[d.decision]} {md_cell(decision_label(d))}"


def quality_markdown(decisions: Sequence[GateDecision], names: Names = NO_NAMES) -> str:
    """The gate's numbers per (dataset, metric), and a note where the MDE exceeds the tolerance."""
    headers = ["metric", "n", "baseline", "current", "diff", "bound", "p_adj", "MDE", "decision"]
    rows: list[list[str]] = []
    previous = None
    for d in decisions:
        if d.dataset != previous:
            rows.append(group_row(dataset_label(d.dataset, names), len(headers)))
            previous = d.dataset
        rows.append([
            md_cell(d.metric, 80),
            str(d.n),
            fmt_mean(d, d.baseline_mean),
            fmt_mean(d, d.current_mean),
            fmt_diff(d, minus=MINUS, unit=""),
            fmt_diff(d, d.bound, minus=MINUS, unit=""),
            fmt_p(d.p_adjusted),
            fmt_plain(d, d.mde, unit=""),
            decision_cell(d),
        ])
    out = [table(headers, rows, right=range(1, 8)), ""]
    legend = (
        "Pass rates in %, their diff, bound and MDE in percentage points. *bound*: the "
        "one-sided confidence bound of the difference at the Holm-adjusted level that "
        "decided (regressed when it lies below −tolerance); *MDE*: the drop this many "
        "cases catch 80% of the time."
    )
    if any(not d.gated for d in decisions):
        legend += " \\* measured only, not gated: does not fail the build."
    out.append(legend)
    notes = mde_notes(decisions, unit=" pts", names=names)
    if notes:
        out.append("")
        out += [f"- ⚠️ {md_text(n, None)}" for n in notes]  # ours, naming each metric: whole
    return "\n".join(out)


def chart_markdown(decisions: Sequence[GateDecision], records: Iterable[CaseRecord] = (),
                   width: int = CHART_WIDTH, names: Names = NO_NAMES) -> str:
    """The forest plot of every metric (:mod:`.forest`) in a code block: GitHub shows it
    in monospace as the terminal does, and no text in it can leave the block."""
    lines = forest_lines(decisions, width=width, scales=score_scales(records), names=names)
    return md_code_block("\n".join(lines), None) if lines else ""


def flips_markdown(
    flips: Iterable[Flip], limit: int | None = FLIP_LIMIT, records: Iterable[CaseRecord] = (),
    names: Names = NO_NAMES,
) -> str:
    """Each flipped case in its own collapsible block: reason, then the output excerpt.

    ``records`` name a promotion-rate flip's two sides (``promoted → dropped at not_empty``).
    """
    ordered = sort_flips(flips)
    shown = ordered if limit is None else ordered[:limit]
    index = {(r.dataset, r.case, r.variant): r for r in records}
    blocks = []
    for f in shown:
        stage = f.stage if f.metric in ("", f.stage) else f"{f.stage} ({f.metric})"
        record = index.get((f.dataset, f.case, f.variant))
        change = (
            promotion_change(record.baseline, record)
            if f.metric == PROMOTION and record is not None
            else f"{fmt_value(f.before)} → {fmt_value(f.after)}"
        )
        summary = f"{case_label(f.dataset, f.case, f.variant, names=names)} · {stage}: {change}"
        body = [f"<details><summary>{html_text(summary, 200)}</summary>", ""]
        if f.reason:
            body += [f"**Why:** {md_text(f.reason, DETAIL_LIMIT)}", ""]
        if f.output_excerpt:
            body += ["Output:", "", md_code_block(f.output_excerpt, DETAIL_LIMIT), ""]
        body.append("</details>")
        blocks.append("\n".join(body))
    if len(ordered) > len(shown):
        blocks.append(f"… and {len(ordered) - len(shown)} more in the JSON results.")
    return "\n\n".join(blocks)


def tags_markdown(
    records: Iterable[CaseRecord], limit: int = TAG_LIMIT, names: Names = NO_NAMES
) -> str:
    """The breakdown by case tag, collapsed (descriptive: not tested, not gated)."""
    rows = tag_rows(records)
    if not rows:
        return ""
    body = [
        [md_cell(dataset_label(r.dataset, names), 80), md_cell(r.tag, 80), md_cell(r.stage, 80),
         str(r.n), fmt_tag_value(r, r.baseline), fmt_tag_value(r, r.current),
         fmt_tag_diff(r, MINUS)]
        for r in rows[:limit]
    ]
    more = ""
    if len(rows) > limit:
        more = f"\n\n… and {len(rows) - limit} more rows in the JSON results."
    return "\n".join(
        [
            "<details><summary>By case tag (descriptive, not gated)</summary>",
            "",
            table(["dataset", "tag", "stage", "n", "baseline", "current", "diff"], body,
                  right=range(3, 7)) + more,
            "",
            "</details>",
        ]
    )


def next_steps(
    decisions: Sequence[GateDecision], missing: Iterable[str] = (),
    completeness: Completeness | None = None,
) -> str:
    """What the reader should do now, for this verdict."""
    status = summarize(decisions, missing, completeness).status
    accept = f"`pytest --llm-funnel {UPDATE_FLAG}`"
    if status == "incomplete":
        return (
            "**Next:** this run ended before every selected case ran, so nothing was gated. "
            "Run the whole selection again; verdicts already received are reused from the "
            "cache."
        )
    if completeness is not None and completeness.status == "partial":
        accept += " on the whole selection"
    if status == "regressed":
        return (
            "**Next:** inspect the cases behind each failing metric above. If the change is "
            "intended, accept it "
            f"as the new baseline with {accept} and commit the baseline files."
        )
    if status == "not comparable":
        return (
            "**Next:** the reasons above say what is missing (more cases, or a baseline judged "
            f"by the same judge). To start over from this run, use {accept} and commit the "
            "baseline files."
        )
    if status == "no gate":
        return f"**Next:** create a baseline with {accept} and commit it to enable the gate."
    if any(d.decision == "improved" for d in decisions):
        return (
            f"**Next:** to gate later changes against this run, update the baseline with "
            f"{accept} and commit it (outputs that did not change keep their verdicts)."
        )
    if completeness is not None and completeness.status == "partial":
        return "**Next:** nothing to do for the cases that ran; the others were not compared."
    return "**Next:** nothing to do; the baseline still holds."


def render_markdown(
    source: RunResult | Any,
    decisions: Sequence[GateDecision] = (),
    flips: Iterable[Flip] = (),
    *,
    judge_label: str | None = None,
    title: str = TITLE,
    records: Iterable[CaseRecord] = (),
    missing_baselines: Iterable[str] = (),
    cost: Callable[[int, int], float | None] | None = None,
    flip_limit: int | None = FLIP_LIMIT,
    baseline: Path | None = None,
    completeness: Completeness | None = None,
    warnings: Iterable[str] = (),
) -> str:
    """The whole pull-request report.

    ``source`` is the session's :class:`RunResult` (with ``decisions``,
    ``flips``, ``records``, ``judge_label`` and ``completeness`` given alongside) or a loaded
    results document, which carries all of them. ``baseline`` exists for the
    command line and must be None: a saved document already holds its gate.
    """
    if baseline is not None:
        raise ValueError(
            "rendering against another baseline is not supported: the document already holds "
            "the gate's decisions; re-run pytest with --llm-funnel-baseline-dir to re-gate"
        )
    if isinstance(source, RunResult):
        data = ReportData(
            source, tuple(records), tuple(decisions), tuple(flips), tuple(missing_baselines),
            judge_label or "not stated", completeness, tuple(warnings),
        )
    else:
        data = source.report_data()
        cost = cost or source.settings.cost  # the run's prices, as its live report had them
    failing = failing_metrics(data.decisions, data.flips, data.records)
    listed = shown_elsewhere(failing)
    flip_list = sort_flips(
        f for f in data.flips if (f.dataset, f.case, f.variant, f.metric) not in listed
    )
    names = data.names
    parts = [
        MARKER,
        f"## {md_text(title, 120)}",
        verdict_markdown(data.decisions, data.missing_baselines, data.completeness, names),
        *(f"> ⚠️ warning: {md_text(w, None)}" for w in data.warnings),
        f"Judged by: {md_text(data.judge_label, CELL_LIMIT)}",
    ]
    cases = failing_cases_markdown(failing, names=names)
    if cases:  # the cases behind each failing metric come first
        parts += ["### Why it failed", cases]
    if data.run.datasets:
        parts += ["### Funnel", funnel_markdown(data.run, cost, names)]
    if data.decisions:
        parts += ["### Quality", quality_markdown(data.decisions, names)]
        chart = chart_markdown(data.decisions, data.records, names=names)
        if chart:
            parts.append(chart)
    if flip_list:
        heading = "Other flipped cases" if listed else "Flipped cases"
        parts += [f"### {heading} ({len(flip_list)})",
                  flips_markdown(flip_list, flip_limit, data.records, names)]
    tags = tags_markdown(data.records, names=names)
    if tags:
        parts.append(tags)
    parts += ["---", next_steps(data.decisions, data.missing_baselines, data.completeness)]
    return "\n\n".join(parts) + "\n"
