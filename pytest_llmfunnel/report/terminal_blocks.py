"""The building blocks of the terminal renderer: wrapping, plain tables, the funnel table,
the failed and errored cases.

Drawn by :func:`.terminal_text.terminal_lines`, the one terminal report (behind the
end-of-run summary and ``llmfunnel report``). Every block yields
plain lines that fit ``width`` columns; untrusted text is made inert.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator

from tabulate import tabulate

from pytest_llmfunnel.escape import strip_escapes, truncate
from pytest_llmfunnel.record import CaseRecord, DatasetRun, describe_problems, status_of
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.tallies import Tallies
from pytest_llmfunnel.wording import plural

WIDTH = 80
MIN_WIDTH = 60
MIN_NAME = 8
MAX_LISTED = 10  # problem cases listed without -v
Cost = Callable[[int, int], "float | None"]


def wrapped(text: str, width: int = WIDTH, indent: str | None = None) -> list[str]:
    """One message wrapped to ``width``, continuation lines indented (a hanging indent:
    the message's own lead plus two spaces, or ``indent``)."""
    text = strip_escapes(text)
    lead = text[: len(text) - len(text.lstrip(" "))]
    return textwrap.wrap(
        text, width, initial_indent="",
        subsequent_indent=lead + "  " if indent is None else indent,
        break_on_hyphens=False, break_long_words=False,
    ) or [""]


def terminal_width(width: int | None = None) -> int:
    """``width``, or the terminal's (honours ``COLUMNS``), never below 60."""
    if width is None:
        width = shutil.get_terminal_size((80, 24)).columns
    return max(60, width)


def plain_table(
    headers: list[str], rows: list[list[str]], colalign: tuple[str, ...], width: int
) -> list[str]:
    """A plain table with a rule under the headers, fitted to ``width`` without cutting a name.

    The headers go in as the first row so tabulate adds no padding around them
    (its ``simple`` format widens every column by two), which keeps the quality
    table inside 80 columns. When the first column's names make the table too
    wide, the longest names go on a line of their own above their row (wrapped
    if even that is too narrow), so a metric or stage name is never cut.
    """

    def render(body: list[list[str]]) -> list[str]:
        text = tabulate(
            [headers, *body], tablefmt="plain", colalign=colalign, disable_numparse=True
        )
        lines = [strip_escapes(line.rstrip()) for line in text.splitlines()]
        widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]
        return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]

    lines = render(rows)
    overflow = max(len(line) for line in lines) - width
    if overflow <= 0:
        return lines
    first = max(len(headers[0]), *(len(r[0]) for r in rows))
    keep = max(MIN_NAME, len(headers[0]), first - overflow)
    long = [len(r[0]) > keep for r in rows]
    body = [["", *r[1:]] if moved else r for r, moved in zip(rows, long, strict=True)]
    rendered = render(body)
    out = rendered[:2]
    for row, moved, line in zip(rows, long, rendered[2:], strict=True):
        if moved:
            out += textwrap.wrap(strip_escapes(row[0]), width, break_on_hyphens=False) or [""]
        if not moved or any(row[1:]):  # a heading row has nothing left to show
            out.append(line)
    return out


def funnel_table(
    dataset: DatasetRun, cost: Cost, tallies: Tallies | None = None, *, width: int = WIDTH,
    label: str = "",
) -> Iterator[str]:
    """Per stage: cases in, passed, failed, errors; for judges cache hits, misses,
    baseline verdicts reused, requests sent, tokens and cost (fits ``width``).

    ``label``: the funnel's name, when it has one: said first, the test after it.
    """
    title = f"{label} ({dataset.name})" if label else dataset.name
    yield from wrapped(
        f"{title}: {plural(dataset.cases, 'case')}, {dataset.promoted} promoted "
        f"({pct(dataset.promoted, dataset.cases)}), {plural(dataset.errors, 'error')}"
        f"{dataset.target_error_note()}",
        width,
    )
    rows = []
    reused_total = 0
    for name, c in dataset.stages.items():
        row = [name, str(c.cases_in), str(c.passed), str(c.failed), str(c.errors)]
        if dataset.kinds.get(name) == "judge":
            misses = tallies.misses(dataset.name, name) if tallies is not None else "-"
            # A results file has no counters: its records say which verdicts were reused.
            reused = tallies.reused(dataset.name, name) if tallies is not None else c.reused
            reused_total += reused
            price = cost(c.usage.prompt_tokens, c.usage.completion_tokens)
            row += [
                str(c.cache_hits),
                str(misses),
                str(reused),
                str(c.requests),
                str(c.usage.total_tokens),
                "-" if price is None else f"{price:.4f}",
            ]
        else:
            row += [""] * 6
        rows.append(row)
    headers = [
        "stage", "in", "pass", "fail", "err", "hits", "miss", "reuse", "sent", "tokens", "cost"
    ]
    yield from plain_table(headers, rows, ("left", *["right"] * 10), width)
    if reused_total:
        yield from wrapped(
            f"{title}: reused {reused_total} baseline verdict"
            f"{'s' * (reused_total != 1)} of unchanged outputs (same output, same judge: "
            "nothing sent, no new noise)",
            width,
        )


def problem_cases(
    records: list[CaseRecord], *, limit: int | None, width: int = WIDTH,
    whole: bool | None = None, names: Names = NO_NAMES,
) -> Iterator[str]:
    """The llm-failed and llm-error cases with the stage and the reason, capped.

    With several eval tests in the run, each case says which one it is
    (``support/c01``: the funnel's name, see :mod:`.labels`).

    ``whole`` (default: when nothing is capped, as at ``-v``): every reason is
    wrapped to ``width`` with a hanging indent, never cut; otherwise a reason
    too long for one line is cut with an ellipsis and the list says how to
    see it whole.
    """
    bad = [r for r in records if status_of(r) != "ok"]
    if not bad:
        return
    if whole is None:
        whole = limit is None
    yield ""
    yield f"cases that failed or errored in the funnel ({len(bad)}):"
    shown = bad if limit is None else bad[:limit]
    several = len({r.dataset for r in records}) > 1
    cut = False
    for record in shown:
        label = record.case if record.variant == "default" else (
            f"{record.case}:{record.variant}"
        )
        if several:
            label = f"{dataset_label(record.dataset, names)}/{label}"
        # One entry per counted case: its further problems go on indented lines.
        for index, problem in enumerate(describe_problems(record)):
            lead = label if index == 0 else " " * len(label)
            line = strip_escapes(f"  {lead}  {problem}")
            if whole:
                yield from wrapped(line, width, indent=" " * (len(label) + 6))
            else:
                clipped = truncate(line, width)
                cut = cut or clipped != line
                yield clipped
    more = len(bad) - len(shown)
    if more and cut:
        yield f"  ... and {more} more (use -v to list all, with whole reasons)"
    elif more:
        yield f"  ... and {more} more (use -v to list all)"
    elif cut:
        yield "  (reasons cut at the terminal's width: use -v to see them whole)"


def pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def rule(title: str, width: int = WIDTH) -> str:
    pad = max(0, width - len(title) - 2)
    left = pad // 2
    return "=" * left + f" {title} " + "=" * (pad - left)
