"""One gate decision for a run's CI shards, and the files the unsharded run would write.

The combined records (:mod:`.combine`) go through what the end of a live
session does with its own: the baselines the shards read, one
:func:`pytest_llmfunnel.gate.compare.compare` call (so Holm runs across every
gated metric of every shard), the judge changes, the variant ranking, the
share of errors; then the same renderers write the JSON results and the
pull-request report. For the same records the bytes are the unsharded run's.
What cannot be merged is said in ``docs/ci.md``: ``pytest_llmfunnel_report_sections``
hooks do not run here, and a judge endpoint's notes are each shard's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.baseline_file import Baseline, BaselineError, load_baseline
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.report.pr_report import pr_report
from pytest_llmfunnel.report.results_extras import EndOfRun
from pytest_llmfunnel.report.results_json import ResultsDocument, build_document
from pytest_llmfunnel.report.shard_entry import file_sha256
from pytest_llmfunnel.report.summary import judge_label
from pytest_llmfunnel.shards.combine import Combined, ShardMismatch, combine
from pytest_llmfunnel.wording import plural

EXIT_PASSED = 0
EXIT_FAILED = 1  # a regression, a missing baseline, too many errors, failed tests, or incomplete


@dataclass
class Merged:
    """The one decision over all shards, its two files, and why it fails if it does."""

    document: ResultsDocument
    report: str
    combined: Combined
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        incomplete = self.document.status == "incomplete"
        return EXIT_FAILED if self.failures or incomplete else EXIT_PASSED


def merge(paths: Sequence[Path], *, rootdir: Path) -> Merged:
    """Merge the shards' results files and gate them as one run.

    Args:
        paths: each shard's ``--llm-funnel-json`` file, in any order.
        rootdir: the project's root (where pytest ran), for the baseline files.

    Raises :class:`ShardMismatch` for shards that do not belong together, and
    :class:`pytest_llmfunnel.report.results_json.ResultsError` for a file that
    cannot be read.
    """
    combined = combine(paths)
    first = combined.first
    gate_settings = first.entry.gate
    settings = Settings(
        alpha=gate_settings.alpha, tolerance=gate_settings.tolerance,
        gate_mode=gate_settings.gate_mode, max_error_share=gate_settings.max_error_share,
        seed=gate_settings.seed, price_in=gate_settings.price_in,
        price_out=gate_settings.price_out,
    )
    records = list(combined.records)
    run = RunResult.from_records(records)
    out = Conclusion()
    failures: list[str] = []
    scope = combined.completeness
    if scope.status != "incomplete":
        gate(combined, settings, rootdir, out)
        out.rankings = rank(combined, settings)
    else:
        failures.append(f"llm-funnel: {scope.phrase()}")
    failures += [
        f"{s.name}: pytest exited with status {s.entry.pytest_status} (tests failed)"
        for s in combined.shards if s.entry.pytest_status == 1
    ]
    if run.cases and run.error_share > settings.max_error_share:
        failures.append(
            f"llm-funnel: {run.errors} of {plural(run.cases, 'case')} ended in a judge or target "
            f"error ({run.error_share:.1%}), above llm_funnel_max_error_share="
            f"{settings.max_error_share:g}; fix the endpoint or raise the share."
        )
    failures += out.failures
    result = out.gate
    decisions: Sequence[GateDecision] = result.decisions if result else ()
    flips: list[Flip] = [f for d in result.datasets for f in d.flips] if result else []
    missing = result.missing_baselines if result else ()
    notes = [n for s in combined.shards for n in s.entry.endpoint_notes]
    warnings = list(dict.fromkeys(notes)) + (list(result.warnings) if result else [])
    label = judge_label(records, cache_mode=first.document.settings.cache)
    document = build_document(
        records, decisions, flips,
        settings=first.document.settings.model_copy(update={"judge_label": label}),
        tool_version=first.document.tool_version, missing_baselines=missing,
        completeness=scope, warnings=warnings,
        end_of_run=EndOfRun.from_conclusion(  # the ranking and judge changes, as a run writes
            out, require_calibration=any(s.document.end_of_run is not None and
                                         s.document.end_of_run.require_calibration
                                         for s in combined.shards)),
    )
    report = pr_report(
        run, records, decisions, flips, out, judge_label=label, missing=missing,
        cost=settings.cost, completeness=scope, warnings=warnings,
    )
    return Merged(document, report, combined, failures, out.notes)


def gate(combined: Combined, settings: Settings, rootdir: Path, out: Conclusion) -> None:
    """Gate the combined records against the baseline files the shards read."""
    names = sorted({r.dataset for r in combined.records})
    baselines: dict[str, Baseline | None] = {}
    for name in names:
        meta = combined.datasets.get(name)
        if meta is None or meta.baseline is None:
            continue  # no gate for this eval test
        path = rootdir / meta.baseline
        if file_sha256(path) != meta.baseline_sha256:
            state = "is not there" if path.exists() is False else "differs"
            raise ShardMismatch(
                f"{path}: the baseline file {state} from the one the shards read; run the "
                "merge on the commit the shards ran on (check out the repository first)"
            )
        if meta.baseline_sha256 is None:
            # Start-up choice: the session's messages (and pytest) load only for a missing file.
            from pytest_llmfunnel.pytest_glue.end_of_run import CI_NO_BASELINE, NO_BASELINE_YET
            from pytest_llmfunnel.pytest_glue.paths import create_command, in_ci

            words = {"name": name, "command": create_command(name), "path": meta.baseline}
            if in_ci():
                out.failures.append(CI_NO_BASELINE.format(**words))
            elif meta.baseline_from == "default":
                out.notes.append(NO_BASELINE_YET.format(**words))
            else:
                baselines[name] = None
            continue
        try:
            baselines[name] = load_baseline(path)
        except BaselineError as exc:
            out.failures.append(str(exc))
    if not baselines:
        return
    # Start-up choice: the gate's statistics load only when a baseline is compared.
    from pytest_llmfunnel.gate.compare import compare
    from pytest_llmfunnel.gate.judge_change import judge_changes

    records = list(combined.records)
    out.judge_changes = judge_changes(records, baselines)
    out.gate = compare(
        records, baselines, alpha=settings.alpha, tolerance=settings.tolerance,
        mode=settings.gate_mode, max_error_share=settings.max_error_share, seed=settings.seed,
        dataset_ids={name: combined.datasets[name].ids for name in names
                     if name in combined.datasets},
    )
    if out.gate.fails:
        out.failures.append(out.gate.message())
    for name in out.gate.missing_baselines:
        out.failures.append(f"  expected at: {combined.datasets[name].baseline}")


def rank(combined: Combined, settings: Settings) -> list[object]:
    """The variant ranking of every dataset with several variants, as a live run ranks."""
    variants: dict[str, set[str]] = {}
    for record in combined.records:
        variants.setdefault(record.dataset, set()).add(record.variant)
    if all(len(names) < 2 for names in variants.values()):
        return []
    # Start-up choice: the variant statistics load only when there are variants.
    from pytest_llmfunnel.variants.ranking import rank_variants

    return list(rank_variants(
        combined.records, alpha=settings.alpha, tolerance=settings.tolerance, seed=settings.seed,
        control=settings.variant_control, controls={
            name: d.control for name, d in combined.datasets.items() if d.control},
    ))
