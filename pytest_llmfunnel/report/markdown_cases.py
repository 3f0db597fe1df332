"""The pull-request report's account of a failing gate: per regressed metric, its cases.

One collapsible ``<details>`` block per regressed gated metric, right under
the verdict, listing the cases that flipped on it (pass → fail first, worst
first, at most :data:`CASES_SHOWN`, the rest counted): the change, the whole
reason, the input, the baseline output and the current one (a word diff when
they are close). Everything from a model, a judge or a dataset goes through
:mod:`pytest_llmfunnel.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmfunnel.escape import html_text, md_code_block, md_text
from pytest_llmfunnel.report.explain import CaseChange, MetricCases
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.report.summary import MINUS, case_label, fmt_diff
from pytest_llmfunnel.wording import plural

CASES_SHOWN = 20  # per failing metric
TEXT_LIMIT = 1000  # characters of an input or output
REASON_LIMIT = None  # reasons are shown whole
# Characters of cases the whole section may hold: a pull-request comment has a
# size limit (65,536 on GitHub), and the funnel, quality table and notes follow.
BUDGET = 32_000


def case_markdown(number: int, c: CaseChange, names: Names = NO_NAMES) -> str:
    """One case: a bold label with its change, the reason, the input and the outputs."""
    label = md_text(case_label(c.dataset, c.case, c.variant, names=names), 200)
    parts = [
        f"{number}. **{label}** · {md_text(c.stage, 120)}: {md_text(c.change, 200)}",
        f"   **Why:** {md_text(c.reason or '(no reason given)', REASON_LIMIT)}",
    ]
    fields: list[tuple[str, str]] = []
    if c.input:
        fields.append(("Input", c.input))
    if c.baseline_output is not None or c.output is not None:
        fields.append(("Baseline output", c.baseline_output or "(empty)"))
        diff = c.diff
        if diff is not None:
            fields.append(("Current output, word diff (`[-removed-]` `{+added+}`)", diff))
        else:
            fields.append(("Current output", c.output or "(empty)"))
    for title, text in fields:
        block = md_code_block(text, TEXT_LIMIT).replace("\n", "\n   ")
        parts.append(f"   {title}:\n\n   {block}")
    return "\n\n".join(parts)


def failing_cases_markdown(
    metrics: Sequence[MetricCases], limit: int | None = CASES_SHOWN, names: Names = NO_NAMES
) -> str:
    """A collapsible block per regressed gated metric with its flipped cases, capped.

    At most ``limit`` cases per metric, and no case past :data:`BUDGET`
    characters of cases in all (each metric shows at least one); the rest are counted.
    """
    blocks = []
    used = 0
    for m in metrics:
        if not m.cases:
            continue
        d = m.decision
        name = f"{dataset_label(d.dataset, names)}: {d.metric}"
        better = len(m.cases) - m.worse
        counts = f"{plural(m.worse, 'case')} pass → fail"
        if better:
            counts += f", {better} fail → pass"
        summary = f"{name} ({fmt_diff(d, minus=MINUS, unit=' pts')}): {counts}, worst first"
        wanted = m.cases if limit is None else m.cases[:limit]
        body = [f"<details><summary>{html_text(summary, 300)}</summary>"]
        shown = 0
        for i, c in enumerate(wanted, 1):
            text = case_markdown(i, c, names)
            if shown and used + len(text) > BUDGET:
                break
            body.append(text)
            used += len(text)
            shown += 1
        rest = len(m.cases) - shown
        if rest:
            body.append(
                f"… and {plural(rest, 'more case')} on this metric: "
                "`llmfunnel report RESULTS.json --format text -v` lists them all."
            )
        body.append("</details>")
        blocks.append("\n\n".join(body))
    return "\n\n".join(blocks)
