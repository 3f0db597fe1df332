"""The whole pull-request report of a run: the Markdown body and what the run's end added.

One function for the live session and for ``llmfunnel gate`` (which merges
CI shards), so the two write the same report for the same records and
decisions: the body of :func:`.markdown.render_markdown`, then the judge
changes, the variant ranking and the conftest sections above its footer, and
the calibration with human labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.escape import md_text
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.record import CaseRecord, RunResult
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.report.labels import NO_NAMES, Names, funnel_names
from pytest_llmfunnel.report.sections import sections_markdown

if TYPE_CHECKING:
    from pytest_llmfunnel.gate.decision import GateDecision
    from pytest_llmfunnel.report.results_json import ResultsDocument


def pr_report(
    run: RunResult,
    records: Sequence[CaseRecord],
    decisions: Sequence[GateDecision],
    flips: Iterable[Flip],
    out: Conclusion,
    *,
    judge_label: str,
    missing: Sequence[str],
    cost: Callable[[int, int], float | None] | None,
    completeness: Completeness | None,
    warnings: Sequence[str],
    require_calibration: bool = False,
) -> str:
    """The pull-request report, with the variant ranking when a dataset has variants.

    Args:
        run, records: the funnel counts and the per-case records.
        decisions, flips, missing: the gate's decisions, flipped cases and eval
            tests without a baseline file.
        out: what the end of the run added (rankings, judge changes, sections,
            calibration).
        judge_label, cost, completeness, warnings: as for ``render_markdown``.
        require_calibration: whether judges without human agreement are not gated.
    """
    # Start-up choice: the Markdown renderer loads only when a report is written.
    from pytest_llmfunnel.report.markdown import render_markdown

    text = render_markdown(
        run, decisions, flips, judge_label=judge_label, records=records,
        missing_baselines=missing, cost=cost, completeness=completeness, warnings=warnings,
    )
    ranking = "\n\n".join(
        p for p in (variants_markdown(out, funnel_names(records)), sections_markdown(out.sections))
        if p
    )
    if out.judge_changes:
        # Start-up choice: loaded only when a judge changed.
        from pytest_llmfunnel.gate.judge_change import judge_change_markdown

        ranking = "\n\n".join(p for p in (judge_change_markdown(out.judge_changes), ranking) if p)
    if out.calibration is not None:
        # Start-up choice: the calibration report loads only with human labels.
        from pytest_llmfunnel.report.calibration import calibration_markdown, distrust_lines

        ranking = "\n".join([ranking, *calibration_markdown(*out.calibration)]).strip()
        lines = distrust_lines(out.calibration[0], required=require_calibration)
        text = _first(text, [f"> ⚠️ {md_text(w, None)}" for w in lines])
    if ranking:
        marker = "\n---\n"
        head, sep, tail = text.rpartition(marker)
        text = f"{head.rstrip()}\n\n{ranking}\n{sep}{tail}" if sep else f"{text}\n{ranking}\n"
    return text


def document_report(document: ResultsDocument) -> str:
    """The pull-request report of a saved results file, as the run that wrote it drew it."""
    data = document.report_data()
    extra = document.end_of_run
    return pr_report(
        data.run, data.records, data.decisions, data.flips,
        extra.to_conclusion() if extra is not None else Conclusion(),
        judge_label=data.judge_label, missing=data.missing_baselines,
        cost=document.settings.cost, completeness=data.completeness, warnings=data.warnings,
        require_calibration=extra is not None and extra.require_calibration,
    )


def variants_markdown(out: Conclusion, names: Names = NO_NAMES) -> str:
    """The variant ranking section ('' when no dataset has several variants)."""
    if not out.rankings:
        return ""
    # Start-up choice: the variant report loads only when there are variants.
    from pytest_llmfunnel.report.variants import variants_markdown as render

    return render(out.rankings, names)


def _first(text: str, lines: list[str]) -> str:
    """The report with ``lines`` right under its title, before everything else."""
    if not lines:
        return text
    head, sep, rest = text.partition("\n## ")
    if not sep:
        return "\n\n".join([*lines, text])
    title, _, body = rest.partition("\n")
    return f"{head}{sep}{title}\n\n" + "\n>\n".join(lines) + f"\n{body}"
