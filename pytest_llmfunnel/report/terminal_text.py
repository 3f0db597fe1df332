"""The terminal report: the verdict, quality per metric, a breakdown by tag, flipped cases.

:func:`terminal_lines` is the one terminal renderer: it draws a
:class:`ReportData`, built from a live session (the end-of-run summary, which
adds what only the session knows through :class:`SessionParts`) or from a
saved results file (``llmfunnel report --format text``), so the two print the
same lines for what a results file holds.

Every function yields plain lines that fit ``width`` columns (default: the
terminal's, 80 under ``COLUMNS=80``); untrusted text is sanitised by
:mod:`.escape`, so no model output can move the cursor, recolour or clear the
log. Verbosity follows pytest: ``-q`` (< 0) shows the verdict and the
regressions only, the default shows the tables with capped lists, ``-v``
(> 0) lists everything.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pytest_llmfunnel.escape import strip_escapes, terminal_text, truncate
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.report.explain import (
    PROMOTION,
    failing_metrics,
    promotion_change,
    shown_elsewhere,
)
from pytest_llmfunnel.report.forest import terminal_forest
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.report.notes import mde_notes
from pytest_llmfunnel.report.summary import (
    ReportData,
    TagRow,
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
from pytest_llmfunnel.report.terminal_blocks import (
    MAX_LISTED,
    Cost,
    funnel_table,
    plain_table,
    problem_cases,
    terminal_width,
    wrapped,
)
from pytest_llmfunnel.report.terminal_cases import CASES_SHOWN, failing_case_lines

if TYPE_CHECKING:
    from pytest_llmfunnel.completeness import Completeness
    from pytest_llmfunnel.gate.decision import GateDecision
    from pytest_llmfunnel.report.results_json import ResultsDocument
    from pytest_llmfunnel.tallies import Tallies

FLIP_LIMIT = 10
TAG_LIMIT = 20
UNITS = "pass rates in %, their diff/bound/MDE in percentage points"


def _wrap(text: str, width: int, indent: str = "  ", first: str = "") -> list[str]:
    return textwrap.wrap(
        terminal_text(text, None), width, initial_indent=first, subsequent_indent=indent,
        break_on_hyphens=False,
    ) or [""]


def verdict_lines(
    decisions: Sequence[GateDecision], missing_baselines: Iterable[str] = (), *,
    width: int | None = None, completeness: Completeness | None = None, names: Names = NO_NAMES,
) -> list[str]:
    """The gate's outcome in one (wrapped) sentence; a partial or incomplete run says so."""
    verdict = summarize(decisions, missing_baselines, completeness, names)
    word = {
        "regressed": "FAILED",
        "not comparable": "FAILED",
        "passed": "passed",
        "no gate": "skipped",
        "incomplete": "not decided",
    }[verdict.status]
    if verdict.missing_baselines:
        word = "FAILED"
    if completeness is not None and completeness.status == "partial":
        # First, where no line wrap splits it: never a plain "gate passed".
        word += f" ({completeness.counts()})"
        headline = verdict.headline(minus="-", extent=False)
    else:
        headline = verdict.headline(minus="-")
    return _wrap(f"llm-funnel gate {word}: {headline}", terminal_width(width))


def quality_lines(
    decisions: Sequence[GateDecision], *, width: int | None = None, names: Names = NO_NAMES
) -> Iterator[str]:
    """Per metric, grouped by dataset: baseline, current, diff, bound, p_adj, MDE, decision.

    ``bound`` is the one-sided bound at the Holm level that decided; a note
    follows for each metric whose MDE exceeds its tolerance.
    """
    if not decisions:
        return
    w = terminal_width(width)
    rows: list[list[str]] = []
    seen: list[str] = []
    for dataset in dict.fromkeys(d.dataset for d in decisions):
        seen.append(dataset)
        rows.append([terminal_text(dataset_label(dataset, names), None) + ":", *[""] * 7])
        for d in (d for d in decisions if d.dataset == dataset):
            rows.append(
                [
                    terminal_text(d.metric, None),
                    fmt_mean(d, d.baseline_mean),
                    fmt_mean(d, d.current_mean),
                    fmt_diff(d, unit=""),
                    fmt_diff(d, d.bound, unit=""),
                    fmt_p(d.p_adjusted),
                    fmt_plain(d, d.mde, unit=""),
                    decision_label(d),
                ]
            )
    headers = ["metric", "base", "current", "diff", "bound", "p_adj", "MDE", "decision"]
    yield from _wrap("quality per metric (" + UNITS + "):", w)
    yield from plain_table(headers, rows, ("left", *["right"] * 6, "left"), w)
    if any(not d.gated for d in decisions):
        yield "* measured only, not gated: does not fail the build"
    for note in mde_notes(decisions, unit="pt", names=names):
        yield from _wrap("note: " + note, w)


def tag_lines(
    rows_or_records: Iterable[TagRow] | Iterable[CaseRecord], *,
    limit: int | None = TAG_LIMIT, width: int | None = None, names: Names = NO_NAMES,
) -> Iterator[str]:
    """The breakdown by case tag (descriptive: not tested, not gated)."""
    items = list(rows_or_records)
    rows = (
        [r for r in items if isinstance(r, TagRow)]
        if all(isinstance(r, TagRow) for r in items)
        else tag_rows(r for r in items if isinstance(r, CaseRecord))
    )
    if not rows:
        return
    if limit is not None:
        # By default only what moved, the largest drops first; -v lists every row.
        changed = [r for r in rows if r.baseline is not None and r.current is not None
                   and abs(r.current - r.baseline) > 1e-12]
        if not changed:
            if any(r.baseline is not None for r in rows):
                yield "by case tag: no tag's pass rate or score changed (use -v to list them)"
                return
        else:
            rows = sorted(changed, key=lambda r: (r.dataset, r.kind != "pass rate",
                                                  (r.current or 0.0) - (r.baseline or 0.0)))
    shown = rows if limit is None else rows[:limit]
    body: list[list[str]] = []
    for dataset in dict.fromkeys(r.dataset for r in shown):
        body.append([terminal_text(dataset_label(dataset, names), None) + ":", *[""] * 5])
        for r in (r for r in shown if r.dataset == dataset):
            body.append(
                [
                    terminal_text(r.tag, 30),
                    terminal_text(r.stage, 24),
                    str(r.n),
                    fmt_tag_value(r, r.baseline),
                    fmt_tag_value(r, r.current),
                    fmt_tag_diff(r),
                ]
            )
    yield "by case tag (descriptive, not gated):"
    headers = ["tag", "stage", "n", "base", "current", "diff"]
    yield from plain_table(headers, body, ("left", "left", "right", "right", "right", "right"),
                      terminal_width(width))
    if len(rows) > len(shown):
        yield f"  ... and {len(rows) - len(shown)} more (use -v to list all)"


def flip_lines(
    flips: Iterable[Flip], limit: int | None = FLIP_LIMIT, *, width: int | None = None,
    records: Iterable[CaseRecord] = (), other: bool = False, names: Names = NO_NAMES,
) -> Iterator[str]:
    """Cases whose verdict changed, most severe first: id, stage, reason, output excerpt.

    ``records`` name a promotion-rate flip's two sides (``promoted -> dropped at
    not_empty``); ``other``: the failing metrics' cases are listed apart.
    """
    ordered = sort_flips(flips)
    if not ordered:
        return
    w = terminal_width(width)
    index = {(r.dataset, r.case, r.variant): r for r in records}
    shown = ordered if limit is None else ordered[:limit]
    title = "other flipped cases" if other else "flipped cases"
    yield f"{title} ({len(ordered)}, most severe first):"
    for f in shown:
        label = case_label(f.dataset, f.case, f.variant, names=names)
        stage = f.stage if f.metric in ("", f.stage) else f"{f.stage} ({f.metric})"
        record = index.get((f.dataset, f.case, f.variant))
        if f.metric == PROMOTION and record is not None:
            change = promotion_change(record.baseline, record).replace("→", "->")
        else:
            change = f"{fmt_value(f.before)} -> {fmt_value(f.after)}"
        head = f"{terminal_text(label, None)}  {terminal_text(f'{stage}: {change}', None)}"
        parts = [("  ", head)]
        if f.reason:
            parts.append(("    ", terminal_text(f"why: {f.reason}", None)))
        if f.output_excerpt:
            parts.append(("    ", terminal_text(f"output: {f.output_excerpt}", None)))
        for lead, text in parts:
            if limit is None:  # -v: whole, wrapped with a hanging indent
                yield from _wrap(text, w, indent=lead + "  ", first=lead)
            else:
                yield lead + truncate(text, w - len(lead))
    if len(ordered) > len(shown):
        yield f"  ... and {len(ordered) - len(shown)} more (use -v to list all)"


def report_lines(
    decisions: Sequence[GateDecision],
    flips: Iterable[Flip] = (),
    *,
    records: Iterable[CaseRecord] = (),
    missing_baselines: Iterable[str] = (),
    verbosity: int = 0,
    width: int | None = None,
    completeness: Completeness | None = None,
    names: Names = NO_NAMES,
) -> Iterator[str]:
    """The gate's part of the report: quality per metric, tags, flipped cases, the verdict.

    ``names``: the eval tests' labels (see :mod:`.labels`).
    """
    w = terminal_width(width)
    if verbosity < 0:
        yield from verdict_lines(decisions, missing_baselines, width=w, completeness=completeness,
                                 names=names)
        for d in decisions:
            if d.fails:
                yield from _wrap(d.message(), w, indent="    ", first="  ")
        # An underpowered gate passes quietly by construction: say so even here.
        for note in mde_notes([d for d in decisions if not d.fails], unit="pt", names=names):
            yield from _wrap("note: " + note, w, indent="    ", first="  ")
        return
    records, flips = list(records), list(flips)
    failing = failing_metrics(decisions, flips, records)
    shown = shown_elsewhere(failing)
    others = [f for f in flips if (f.dataset, f.case, f.variant, f.metric) not in shown]
    blocks = [
        list(quality_lines(decisions, width=w, names=names)),
        terminal_forest(decisions, records, verbosity=verbosity, width=w, names=names),
        list(tag_lines(records, limit=None if verbosity > 0 else TAG_LIMIT, width=w,
                       names=names)),
        list(flip_lines(others, None if verbosity > 0 else FLIP_LIMIT, width=w,
                        records=records, other=bool(shown), names=names)),
    ]
    for block in blocks:
        if block:
            yield from block
            yield ""
    # The cases behind each failing metric, last before the verdict: what a red build
    # shows on its final screen.
    yield from failing_case_lines(failing, width=w,
                                  limit=None if verbosity > 0 else CASES_SHOWN, names=names)
    yield from verdict_lines(decisions, missing_baselines, width=w, completeness=completeness,
                             names=names)


def _no_cost(prompt: int, completion: int) -> float | None:
    return None


@dataclass(frozen=True)
class SessionParts:
    """What only a running session knows, placed around the shared body.

    A results file holds none of it, so ``llmfunnel report`` goes without:
    the live counters (``tallies``: cache misses and reused baseline verdicts
    of this process), the prices (``cost``), and lines already wrapped to the
    width: ``before`` the funnel tables (judges the human labels distrust),
    ``after_cases`` (what the run learned about the judge endpoint), and
    ``after_verdict`` (the cases the gate could not pair). ``gate``: ``full``
    draws the gate's part, ``verdict`` only the verdict line (no gate ran on
    an incomplete run), ``none`` nothing (no gate ran, or this process did not
    conclude); None decides from the data (a gate ran if it decided something
    or missed a baseline, or the run was not complete).
    """

    tallies: Tallies | None = None
    cost: Cost = _no_cost
    before: Sequence[str] = ()
    after_cases: Sequence[str] = ()
    after_verdict: Sequence[str] = ()
    gate: Literal["full", "verdict", "none"] | None = None


def terminal_lines(
    data: ReportData, *, verbosity: int = 0, width: int | None = None,
    session: SessionParts | None = None,
) -> Iterator[str]:
    """The terminal report of ``data``: the funnel per dataset, the failed and errored
    cases (capped without ``-v``), the gate's part and its warnings.

    ``width``: the terminal writer's (session) or ``COLUMNS``/``--width``
    (command line), never below 60. Every line is made inert.
    """
    w = terminal_width(width)
    parts = session or SessionParts()
    body = _body(data, verbosity, w, parts)
    return (strip_escapes(line) for line in body)


def _body(data: ReportData, verbosity: int, width: int, parts: SessionParts) -> Iterator[str]:
    yield from parts.before
    names = data.names
    for dataset in data.run.datasets.values():
        yield ""
        yield from funnel_table(dataset, parts.cost, parts.tallies, width=width,
                                label=names.get(dataset.name, ""))
    if verbosity >= 0:
        limit = None if verbosity > 0 else MAX_LISTED
        yield from problem_cases(list(data.records), limit=limit, width=width, names=names,
                                 whole=verbosity > 0)
    yield from parts.after_cases
    gate = parts.gate
    if gate is None:
        ran = bool(data.decisions or data.missing_baselines)
        incomplete = data.completeness is not None and not data.completeness.complete
        gate = "full" if ran or not incomplete else "verdict"
    if gate == "full":
        yield ""
        yield from report_lines(
            data.decisions, data.flips, records=data.records,
            missing_baselines=data.missing_baselines, verbosity=verbosity, width=width,
            completeness=data.completeness, names=names,
        )
    elif gate == "verdict":
        yield ""
        yield from verdict_lines([], width=width, completeness=data.completeness)
    yield from parts.after_verdict
    for warning in data.warnings:
        yield from wrapped("warning: " + warning, width)


def render_text(
    document: ResultsDocument, *, baseline: Path | None = None, verbosity: int = 0,
    width: int | None = None,
) -> str:
    """The terminal report of a saved results document (``llmfunnel report --format text``)."""
    if baseline is not None:
        raise ValueError(
            "rendering against another baseline is not supported: the document already holds "
            "the gate's decisions; re-run pytest with --llm-funnel-baseline-dir to re-gate"
        )
    lines = list(terminal_lines(document.report_data(), verbosity=verbosity, width=width))
    while lines and not lines[0]:
        del lines[0]
    return "\n".join(lines) + "\n"
