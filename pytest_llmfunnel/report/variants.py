"""The variant ranking drawn for the terminal and for the pull-request comment.

:mod:`pytest_llmfunnel.variants.ranking` decides the ranking; this module only lays it
out. Both places use the same heading and the same reasons, pairwise results
and notes, so the terminal and the comment never disagree. Use::

    variant_lines(rankings, width=80)   # terminal lines; [] when no dataset has two variants
    variants_markdown(rankings)         # pull-request Markdown; "" when none

In the terminal the metrics go down and the variants across, with further
tables when the variants do not fit ``width``. Variant names and case ids come
from datasets, so they are made inert (:mod:`.escape`) before they are shown.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tabulate import tabulate

from pytest_llmfunnel.escape import md_cell, md_text, terminal_text
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.wording import plural

if TYPE_CHECKING:
    # Annotations only: drawing a ranking needs none of the statistics that built it.
    from pytest_llmfunnel.variants.pairs import PairwiseResult
    from pytest_llmfunnel.variants.ranking import MetricInfo, VariantRanking

NAME_WIDTH = 20  # a variant's column header in the terminal
MIN_LABEL = 12
LIST_LIMIT = 5
ICONS = {"control": "🏆", "non-inferior": "✅", "undecided": "❔", "clearly worse": "❌"}


def _value_text(value: float, info: MetricInfo) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value * 100:.1f}%" if info.kind == "binary" else f"{value:.3g}"


def _pairwise_text(p: PairwiseResult) -> str:
    lo, hi = p.interval
    rate = (f"; {p.variant}'s win rate {p.win_rate:.0%} (95% CI {lo:.0%}-{hi:.0%}, ties left out)"
            if p.decisive else "")
    errors = f", {plural(p.errors, 'error')}" if p.errors else ""
    return (f"{p.stage}: {p.variant} wins {p.wins}, {p.opponent} wins {p.losses}, "
            f"ties {p.ties}{errors}{rate}")


def _head(r: VariantRanking) -> str:
    return (f"{plural(len(r.variants), 'variant')} over the {plural(r.cases, 'case')} every "
            f"variant ran, each against the control {r.control} on every gated metric: "
            f"non-inferior (lower bound of variant - control above -margin), clearly worse "
            f"(upper bound below -margin) or undecided; the margin is the tolerance where "
            f"the cases resolve it, else the smallest they resolve (one-sided, Holm, "
            f"alpha {r.alpha:g})")


def _wrap(text: str, width: int, first: str = "", indent: str = "  ") -> list[str]:
    return textwrap.wrap(terminal_text(text, None), width, initial_indent=first,
                         subsequent_indent=indent, break_on_hyphens=False) or [""]


def _grid(r: VariantRanking, width: int) -> list[str]:
    """Metrics down, variants across; variant columns go to further tables when too wide."""
    heads = [terminal_text(v.variant, NAME_WIDTH) for v in r.variants]
    columns = [[_value_text(x, m) for x, m in zip(v.values, r.metrics, strict=True)]
               + [v.outcome, v.online] for v in r.variants]
    widths = [max(len(h), *(len(c) for c in col)) for h, col in zip(heads, columns, strict=True)]
    labels = ["metric", *(terminal_text(m.name, None) + ("" if m.gated else "*")
                          for m in r.metrics), "outcome", "online?"]
    label_w = min(max(map(len, labels)), max(MIN_LABEL, width - 2 - max(widths)))
    labels = [terminal_text(x, label_w) for x in labels]
    chunks: list[list[int]] = [[]]
    used = label_w
    for j, w in enumerate(widths):
        if chunks[-1] and used + 2 + w > width:
            chunks.append([])
            used = label_w
        chunks[-1].append(j)
        used += 2 + w
    lines: list[str] = []
    for chunk in chunks:
        rows = [[labels[0], *(heads[j] for j in chunk)]]
        rows += [[labels[i + 1], *(columns[j][i] for j in chunk)] for i in range(len(labels) - 1)]
        text = tabulate(rows, tablefmt="plain", colalign=("left", *["right"] * len(chunk)),
                        disable_numparse=True).splitlines()
        rule = "  ".join("-" * w for w in [label_w, *(widths[j] for j in chunk)])
        lines += [text[0].rstrip(), rule, *(line.rstrip() for line in text[1:])]
    return lines


def variant_lines(
    rankings: Sequence[VariantRanking], width: int = 80, names: Names = NO_NAMES
) -> list[str]:
    """The terminal section: per dataset a table of the variants and one line per verdict.

    Every line fits ``width`` columns; untrusted names are made inert.
    """
    lines: list[str] = []
    for r in rankings:
        lines += [""] if lines else []
        lines += _wrap(f"variants of {dataset_label(r.dataset, names)}: {_head(r)}:", width)
        lines += _grid(r, width)
        lines += _wrap("pass and win rates in %, bounds in points; * shown only, not deciding",
                       width)
        for text in _verdict_texts(r):
            lines += _wrap(text, width, "  ", "    ")
    return lines


def _verdict_texts(r: VariantRanking) -> list[str]:
    """One plain sentence per variant, pairwise result, note and left-out list."""
    texts = [f"{terminal_text(v.variant, 40)}: {v.outcome}: {v.reason}" for v in r.variants]
    texts += [f"best on {x.text()}" for x in r.leaders]
    texts += [_pairwise_text(p) for p in r.pairwise]
    texts += [f"note: {r.note}"] if r.note else []
    if r.unpaired:
        listed = ", ".join(r.unpaired[:LIST_LIMIT]) + (", ..." * (len(r.unpaired) > LIST_LIMIT))
        left = plural(len(r.unpaired), 'case')
        texts.append(f"{left} left out (not run for every variant): {listed}")
    return texts


def variants_markdown(rankings: Sequence[VariantRanking], names: Names = NO_NAMES) -> str:
    """The pull-request section: per dataset a table of the variants and who goes online."""
    blocks = []
    for r in rankings:
        headers = ["rank", "variant", "outcome",
                   *(md_cell(m.name, 80) + ("" if m.gated else "\\*") for m in r.metrics),
                   "online experiment?"]
        rows = [[str(v.rank), md_cell(v.variant, 80), f"{ICONS[v.outcome]} {v.outcome}",
                 *(_value_text(x, m) for x, m in zip(v.values, r.metrics, strict=True)),
                 v.online] for v in r.variants]
        align = ["---:", "---", "---", *["---:"] * len(r.metrics), "---"]
        chosen = ", ".join(f"**{md_text(v.variant, 80)}**" + " (control)" * (v.outcome == "control")
                           for v in r.variants if v.outcome in ("control", "non-inferior"))
        maybe = [f"**{md_text(v.variant, 80)}**" for v in r.variants if v.outcome == "undecided"]
        if maybe:
            chosen += f"; only if cheap (undecided offline): {', '.join(maybe)}"
        texts = _verdict_texts(r)
        blocks.append("\n".join([
            f"**{md_text(dataset_label(r.dataset, names), 80)}**: {md_text(_head(r), None)}.", "",
            *("| " + " | ".join(row) + " |" for row in [headers, align, *rows]), "",
            f"Worth an online experiment: {chosen}.", "",
            *(f"- {ICONS[v.outcome]} **{md_text(v.variant, 80)}** ({v.outcome}): "
              f"{md_text(v.reason, None)}" for v in r.variants),
            *(f"- {md_text(t, None)}" for t in texts[len(r.variants):]), "",
            "Pass and win rates in %, bounds in percentage points; \\* shown only, not "
            "deciding.",
        ]))
    return "\n\n".join(blocks)
