"""The session's end-of-run summary: the one terminal report around what only it knows.

The body (funnel, failed cases, gate, warnings) is :func:`.terminal_text.terminal_lines`
of the session's :class:`ReportData`, the same that ``llmfunnel report`` draws from a
results file; this module adds the live counters, the endpoint's notes, the judges to
distrust, the unpaired cases, and after the body what a results file does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.escape import clean, strip_escapes, terminal_text, truncate
from pytest_llmfunnel.record import CaseRecord, RunResult, describe_problems, status_of
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.report.labels import Names, funnel_names
from pytest_llmfunnel.report.sections import section_lines
from pytest_llmfunnel.report.summary import ReportData
from pytest_llmfunnel.report.terminal_blocks import (
    MAX_LISTED,
    MIN_WIDTH,
    WIDTH,
    funnel_table,
    rule,
    terminal_width,
    wrapped,
)
from pytest_llmfunnel.report.terminal_text import SessionParts, render_text, terminal_lines
from pytest_llmfunnel.report.variants import variant_lines
from pytest_llmfunnel.tallies import Tallies
from pytest_llmfunnel.wording import plural

if TYPE_CHECKING:
    from pytest_llmfunnel.report.results_json import ResultsDocument

__all__ = ["ERRORS_ABOVE", "SummaryData", "funnel_table", "short_summary_lines", "summary_lines"]

# Where a failure message points at the llm-error cases; replaced by where
# this summary actually lists them (see _where_errors_are).
ERRORS_ABOVE = "see the llm-error cases above"


@dataclass(frozen=True)
class SummaryData:
    """What the end-of-run summary shows: plain data the pytest side hands over."""

    run: RunResult
    records: list[CaseRecord]
    tallies: Tallies
    settings: Settings
    completeness: Completeness
    conclusion: Conclusion | None = None  # None on a process that did not conclude
    failure_message: str | None = None  # why the session fails on judge errors


def summary_lines(
    fs: SummaryData, *, verbosity: int = 0, short_summary: bool = False, width: int = WIDTH
) -> Iterator[str]:
    """The funnel per dataset, the failed and errored cases (capped), then the notes.

    ``short_summary``: pytest's short test summary will list the llm-failed and
    llm-error items (see :func:`short_summary_lines`). Every line is made inert
    on its way out (:func:`strip_escapes`), whatever untrusted text a note or a
    message below quotes. ``width``: the terminal's (pytest's terminal writer's
    ``fullwidth``, which follows ``COLUMNS``); lines wrap to it, never below 60.
    """
    w = max(MIN_WIDTH, width)
    return (strip_escapes(line) for line in _summary_lines(fs, verbosity, short_summary, w))


def _summary_lines(
    fs: SummaryData, verbosity: int, short_summary: bool, width: int
) -> Iterator[str]:
    run = fs.run
    tallies = fs.tallies
    scope = fs.completeness
    if not (run.datasets or scope.status == "incomplete" or fs.settings.dry_run
            or fs.settings.explain_cache):
        return
    yield rule("llm-funnel", width)
    yield from terminal_lines(
        report_data(fs), verbosity=verbosity, width=width, session=session_parts(fs, width)
    )
    yield from conclusion_lines(fs, verbosity, width)
    limit = None if verbosity > 0 else MAX_LISTED
    if fs.settings.dry_run:
        yield ""
        yield from dry_run_lines(tallies, fs.settings)
    if fs.settings.budget is not None:
        yield ""
        yield from budget_lines(tallies, fs.settings)
    if fs.settings.explain_cache:
        yield ""
        yield from explain_lines(tallies, fs.settings.explain_cache)
    message = fs.failure_message
    if message:
        yield ""
        listed = _errors_listed(fs.records, limit if verbosity >= 0 else 0)
        yield message.replace(ERRORS_ABOVE, _where_errors_are(listed, short_summary))


def report_data(fs: SummaryData) -> ReportData:
    """The session's report data: what a results file of this run holds.

    The warnings are the gate's; the endpoint's notes have their own place
    (:class:`SessionParts`' ``after_cases``).
    """
    out = fs.conclusion
    gate = None if out is None else out.gate
    return ReportData(
        run=fs.run, records=tuple(fs.records),
        decisions=() if gate is None else tuple(gate.decisions),
        flips=() if gate is None else tuple(f for d in gate.datasets for f in d.flips),
        missing_baselines=() if gate is None else tuple(gate.missing_baselines),
        completeness=fs.completeness,
        warnings=() if gate is None else tuple(gate.warnings),
    )


def session_parts(fs: SummaryData, width: int = WIDTH) -> SessionParts:
    """What the session adds around the shared body: live counters, prices, the judges
    to distrust, the endpoint's notes, the unpaired cases."""
    out = fs.conclusion
    gate = None if out is None else out.gate
    if gate is not None:
        shown: Literal["full", "verdict", "none"] = "full"
    else:
        # No gate ran (none configured, or an incomplete run decides nothing):
        # the extent of the run still gets its line.
        shown = "verdict" if out is not None and not fs.completeness.complete else "none"
    return SessionParts(
        tallies=fs.tallies, cost=fs.settings.cost,
        before=list(distrust_first(fs, width)),
        after_cases=list(endpoint_lines(fs.tallies, width)),
        after_verdict=[] if gate is None else [
            line for comparison in gate.datasets for line in _pairing_lines(comparison, width)
        ],
        gate=shown,
    )


def distrust_first(fs: SummaryData, width: int = WIDTH) -> Iterator[str]:
    """A warning for each judge that human labels disagree with, above everything else."""
    out = fs.conclusion
    if out is None or out.calibration is None:
        return
    # Start-up choice: calibration's wording (and its statistics) loads only with labels.
    from pytest_llmfunnel.report.calibration import distrust_lines

    for line in distrust_lines(out.calibration[0], required=fs.settings.require_calibration):
        yield from wrapped(line, width)


def conclusion_lines(fs: SummaryData, verbosity: int, width: int = WIDTH) -> Iterator[str]:
    """After the gate: judge changes, the variant ranking, calibration, the hooks'
    sections, and what was written."""
    out = fs.conclusion
    if out is None:
        return
    yield from added_lines(out, fs.records, verbosity, width)
    if out.notes:
        yield ""
        for note in out.notes:
            yield from wrapped(note, width)
    if out.failure:
        yield ""
        for line in _failure_lines(out, verbosity):
            yield from wrapped(line, width)


QUIET_INSPECT = "Run without -q to see the cases behind each failing metric"


def _failure_lines(out: Conclusion, verbosity: int) -> list[str]:
    """Why the session fails. Under ``-q`` the gate's block above already said each
    failing metric (so they are not said twice) and listed no case (so the next step
    says where to see them)."""
    lines = out.failure.splitlines() if out.failure else []
    if verbosity >= 0 or out.gate is None:
        return lines
    # Start-up choice: the gate's wording loads only for a failing gate under -q.
    from pytest_llmfunnel.gate.result import INSPECT

    said = {d.message() for d in out.gate.decisions if d.fails}
    return [line.replace(INSPECT, QUIET_INSPECT)
            for line in lines if line not in said]


def added_lines(
    out: Conclusion, records: Sequence[CaseRecord], verbosity: int, width: int
) -> Iterator[str]:
    """What the end of the run added after the gate: judge changes, the variant ranking,
    calibration and the hooks' sections (a results file keeps them too)."""
    if out.judge_changes:
        yield ""
        for change in out.judge_changes:
            yield from wrapped(change.line(), width)
    if verbosity >= 0:
        yield from _variant_lines(out, width, funnel_names(records))
    if out.calibration is not None and verbosity >= 0:
        # Start-up choice: as in distrust_first.
        from pytest_llmfunnel.report.calibration import calibration_lines

        yield ""
        for line in calibration_lines(*out.calibration):
            yield from wrapped(line, width)
    yield from section_lines(out.sections, width)


def document_text(
    document: ResultsDocument, *, verbosity: int = 0, width: int | None = None
) -> str:
    """``llmfunnel report --format text``: what the session printed, for what a file holds,
    with what the end of its run added (see :func:`added_lines`)."""
    text = render_text(document, verbosity=verbosity, width=width)
    extra = document.end_of_run
    if extra is None:
        return text
    w = terminal_width(width)
    records = document.report_data().records
    added = [strip_escapes(x) for x in added_lines(extra.to_conclusion(), records, verbosity, w)]
    return text + "".join(f"{x}\n" for x in added)


def _pairing_lines(comparison: Any, width: int = WIDTH) -> Iterator[str]:
    """Cases the gate could not pair: changed rows, new and removed cases."""
    for what, ids in (("changed", comparison.changed), ("new", comparison.new),
                      ("not run (in the baseline)", comparison.removed)):
        if ids:
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            yield from wrapped(f"{comparison.dataset}: {len(ids)} {what}, unpaired: {shown}",
                                width)


def _variant_lines(out: Conclusion, width: int, names: Names) -> Iterator[str]:
    if out.rankings:
        yield ""
        yield from variant_lines(out.rankings, width=width, names=names)


def endpoint_lines(tallies: Tallies, width: int = WIDTH) -> Iterator[str]:
    """Why the judge endpoint was given up, said once however many cases it ended;
    before it, what the run learned about the endpoint and each error's first message."""
    for note in tallies.endpoint_error_notes():
        yield ""
        yield from wrapped(note, width)
    notes = tallies.endpoint_notes()
    for note in notes[:-1]:
        yield ""
        yield from wrapped(note, width)
    for note in notes[-1:]:
        yield from wrapped("  " + note, width)


def _errors_listed(records: list[CaseRecord], limit: int | None) -> tuple[int, int]:
    """How many llm-error cases :func:`problem_cases` lists with ``limit``, of how many."""
    bad = [status_of(r) for r in records if status_of(r) != "ok"]
    shown = bad if limit is None else bad[:limit]
    return shown.count("llm-error"), bad.count("llm-error")


def _where_errors_are(listed: tuple[int, int], short_summary: bool) -> str:
    shown, total = listed
    if total and shown == total:
        return ERRORS_ABOVE
    if short_summary:
        return "see the llm-error cases in the short test summary below"
    if shown:
        return ERRORS_ABOVE + " (-v lists them all)"
    return "run with -rf or without -q to list the llm-error cases"


def short_summary_lines(
    problems: Iterable[tuple[str, str, CaseRecord]], *, width: int | None
) -> Iterator[str]:
    """One line per llm-failed or llm-error item, for pytest's short test summary.

    ``problems``: (node id, status, record) per item; ``width``: the terminal's
    width, or None for whole lines. Reasons are untrusted text: made inert.
    """
    for nodeid, status, record in problems:
        head = f"{status.upper()} {terminal_text(nodeid, None)}"
        reason = terminal_text("; ".join(describe_problems(record)), None)
        line = f"{head} - {reason}" if reason else head
        yield line if width is None else truncate(line, max(width, len(head)))


def dry_run_lines(tallies: Tallies, settings: Settings) -> Iterator[str]:
    """What a real run would send (the cache misses) and what it would cost."""
    counts = tallies.dry_run
    requests = counts.get("requests", 0)
    hits = sum(c.get("hits", 0) for stages in tallies.cache.values() for c in stages.values())
    yield (
        f"dry run: nothing was sent; a real run would send {requests} judge request"
        f"{'' if requests == 1 else 's'} (cache misses) and answer {hits} from the cache."
    )
    prompt, completion = counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0)
    price = settings.cost(prompt, completion)
    if price is None:
        yield (
            "pass --llm-funnel-price-in and --llm-funnel-price-out (per million tokens) "
            "to estimate the cost."
        )
    else:
        yield (
            f"estimated cost: at most {price:.4f} (about {prompt} prompt tokens, at most "
            f"{completion} completion tokens)."
        )
    skipped = counts.get("targets_not_called", 0)
    if skipped:
        yield (
            f"{plural(skipped, 'case')} {'needs' if skipped == 1 else 'need'} a target's output, "
            "which a dry "
            "run does not produce (record outputs with target_version=... to count them)."
        )


def budget_lines(tallies: Tallies, settings: Settings) -> Iterator[str]:
    """How much of the budget was spent, and whether requests were refused."""
    spent = f"budget: {tallies.budget_spent:.4f} of {settings.budget:g} spent"
    if not tallies.budget_refused:
        yield spent + "."
        return
    yield (
        f"{spent}: budget reached, {plural(tallies.budget_refused, 'judge request')} "
        f"{'was' if tallies.budget_refused == 1 else 'were'} not started "
        "(their cases are llm-error \"budget reached\")."
    )


def explain_lines(tallies: Tallies, case_id: str) -> Iterator[str]:
    """Per judge stage of one case: cache hit, or miss and what differs."""
    yield f"cache explanation for case {case_id}:"
    if not tallies.explanations:
        yield (
            f"  no judge request was made for case {case_id} in this run (not selected, "
            "no such case id, or dropped before the judges)."
        )
        return
    for text in tallies.explanations:
        for line in clean(text, keep_newlines=True).splitlines():
            yield "  " + line
