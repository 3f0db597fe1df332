"""The terminal's account of a failing gate: per regressed metric, the cases behind it.

Drawn just above the verdict line (:func:`.terminal_text.report_lines`), so
the last screen of a red build names the cases that made it red and says why.
Every field is wrapped to the width with a hanging indent; a reason is never
cut, an output is cut only without ``-v``. Untrusted text is made inert.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence

from pytest_llmfunnel.escape import terminal_text
from pytest_llmfunnel.report.explain import CaseChange, MetricCases
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.report.summary import case_label, fmt_diff
from pytest_llmfunnel.wording import plural

CASES_SHOWN = 5  # per failing metric without -v
OUTPUT_LIMIT = 300  # characters of an input or output shown without -v
LABEL = 10  # the width of the field labels ("baseline: ")


def _field(label: str, text: str, width: int, limit: int | None) -> list[str]:
    """``label`` and ``text`` (made inert, cut at ``limit``), wrapped under the label."""
    lead = "     " + f"{label}:".ljust(LABEL)
    shown = terminal_text(text, limit) if text else "(empty)"
    return textwrap.wrap(
        shown, width, initial_indent=lead, subsequent_indent=" " * len(lead),
        break_on_hyphens=False,
    ) or [lead.rstrip()]


def case_lines(
    number: int, c: CaseChange, width: int, *, whole: bool = False, names: Names = NO_NAMES
) -> Iterator[str]:
    """One case: its label and change, then why, the input and the two outputs."""
    limit = None if whole else OUTPUT_LIMIT
    label = case_label(c.dataset, c.case, c.variant, names=names)
    head = f"  {number}. {terminal_text(label, None)}  " \
        f"{terminal_text(c.stage, None)}: {c.change}"
    yield from textwrap.wrap(head, width, subsequent_indent="     ",
                             break_on_hyphens=False) or [head]
    yield from _field("why", c.reason or "(no reason given)", width, None)
    if c.input:
        yield from _field("input", c.input, width, limit)
    if c.baseline_output is not None or c.output is not None:
        yield from _field("baseline", c.baseline_output or "", width, limit)
        diff = c.diff
        if diff is not None:
            yield from _field("diff", diff, width, limit)
        else:
            yield from _field("current", c.output or "", width, limit)


def failing_case_lines(
    metrics: Sequence[MetricCases], *, width: int, limit: int | None = CASES_SHOWN,
    names: Names = NO_NAMES,
) -> Iterator[str]:
    """Per regressed gated metric: a heading, its flipped cases (``limit`` each), the rest counted.

    ``limit`` None (``-v``) lists every case and shows inputs and outputs whole.
    """
    for m in metrics:
        d = m.decision
        if not m.cases:
            continue
        name = f"{dataset_label(d.dataset, names)}: {d.metric}"
        better = len(m.cases) - m.worse
        counts = f"{plural(m.worse, 'case')} pass → fail"
        if better:
            counts += f", {better} fail → pass"
        heading = (
            f"why {name} regressed ({fmt_diff(d, minus='−', unit=' pts')}): {counts}, "
            "worst first:"
        )
        yield from textwrap.wrap(terminal_text(heading, None), width, subsequent_indent="  ",
                                 break_on_hyphens=False)
        shown = m.cases if limit is None else m.cases[:limit]
        for number, c in enumerate(shown, 1):
            yield from case_lines(number, c, width, whole=limit is None, names=names)
        rest = len(m.cases) - len(shown)
        if rest:
            yield from textwrap.wrap(
                terminal_text(
                    f"... and {plural(rest, 'more case')} behind {name} "
                    "(run pytest with -v, or llmfunnel report RESULTS.json --format text -v, "
                    "to see them all)", None,
                ),
                width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False,
            )
        yield ""
