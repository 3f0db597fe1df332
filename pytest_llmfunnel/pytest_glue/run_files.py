"""The files a session writes at its end: Markdown report, JSON results, review slice,
verdict lockfile.

The first three are built from the same records and gate decisions the
terminal summary shows, so what a reviewer reads in the pull request is what CI
decided; the lockfile holds the verdicts the run used. Every file is written
atomically; the GitHub job summary is appended to, as
GitHub expects.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmfunnel import __version__
from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.dataset.load import DatasetError, load_dataset
from pytest_llmfunnel.display import shown_path as display_path
from pytest_llmfunnel.endpoint.factory import make_store
from pytest_llmfunnel.pytest_glue.paths import shown_path, step_summary_path
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.report.pr_report import pr_report
from pytest_llmfunnel.report.summary import judge_label

if TYPE_CHECKING:
    from pytest_llmfunnel.models import Case
    from pytest_llmfunnel.report.shard_entry import ShardEntry


def write_outputs(fs: FunnelSession, out: Conclusion) -> None:
    """Write what the settings ask for; each written file adds a note."""
    settings = fs.settings
    summary = step_summary_path()
    scope = fs.completeness
    # An incomplete run reports even when no case got as far as its item: an
    # old report must not be left to say the gate passed.
    if not (fs.records or scope.status == "incomplete"):
        return
    if not (settings.report or settings.json or settings.review or summary):
        return
    gate = out.gate
    decisions = gate.decisions if gate else ()
    flips = [f for d in gate.datasets for f in d.flips] if gate else []
    missing = gate.missing_baselines if gate else ()
    label = verdict_label(fs)
    if settings.report or summary:
        text = markdown(fs, out, decisions, flips, missing, label)
        if settings.report:
            atomic_write(Path(settings.report), text)
            out.notes.append(f"report written: {shown_path(str(settings.report), fs)}")
        if summary is not None:
            with summary.open("a", encoding="utf-8") as handle:
                handle.write(text + "\n")
    if settings.json:
        # Start-up choice: the JSON results model loads only when asked for.
        from pytest_llmfunnel.report.results_extras import EndOfRun
        from pytest_llmfunnel.report.results_json import (
            SettingsSummary,
            build_document,
            write_results,
        )

        document = build_document(
            fs.records, decisions, flips, settings=SettingsSummary.from_settings(settings, label),
            tool_version=__version__, missing_baselines=missing, completeness=scope,
            warnings=report_warnings(fs, out), shard=shard_entry(fs),
            end_of_run=EndOfRun.from_conclusion(
                out, require_calibration=settings.require_calibration),
        )
        write_results(document, settings.json)
        out.notes.append(f"JSON results written: {shown_path(str(settings.json), fs)}")
    if settings.review and fs.records:
        out.notes.append(review(fs, [(f.case, f.variant) for f in flips
                                     if f.direction == "worse"]))


def shard_entry(fs: FunnelSession) -> ShardEntry | None:
    """What ``llmfunnel gate`` needs of this run, when it is a shard (else None)."""
    settings = fs.settings
    if settings.shard is None:
        return None
    # Start-up choice: the shard models load only when the run is a shard.
    from pytest_llmfunnel.report.shard_entry import (
        GateSettings,
        ShardDataset,
        ShardEntry,
        file_sha256,
    )

    root = fs.config.rootpath
    datasets = []
    for name, meta in sorted(fs.spec_meta.items()):
        baseline = None if meta.baseline is None else Path(meta.baseline)
        datasets.append(ShardDataset(
            name=name, path=meta.path, ids=list(meta.ids), units=meta.units,
            selected=meta.selected or 0,
            baseline=None if baseline is None else display_path(str(baseline), root),
            baseline_from=meta.baseline_from,
            baseline_sha256=file_sha256(baseline) if baseline is not None else None,
            control=meta.control,
        ))
    return ShardEntry(
        index=settings.shard[0], count=settings.shard[1], run_id=run_id(settings.run_id),
        pytest_status=fs.pytest_status,
        gate=GateSettings(
            alpha=settings.alpha, tolerance=settings.tolerance, gate_mode=settings.gate_mode,
            max_error_share=settings.max_error_share, seed=settings.seed,
            price_in=settings.price_in, price_out=settings.price_out,
        ),
        datasets=datasets, endpoint_notes=fs.tallies.endpoint_notes(),
    )


def run_id(given: str | None) -> str | None:
    """The run a shard belongs to: given, else the CI system's own run (and attempt)."""
    if given:
        return given
    github = os.environ.get("GITHUB_RUN_ID", "").strip()
    if github:
        return f"github:{github}.{os.environ.get('GITHUB_RUN_ATTEMPT', '1').strip()}"
    gitlab = os.environ.get("CI_PIPELINE_ID", "").strip()
    return f"gitlab:{gitlab}" if gitlab else None


def write_lockfile(fs: FunnelSession, out: Conclusion, *, unfinished: str | None) -> None:
    """Export the verdicts this run used to ``--llm-funnel-export-lockfile``.

    The keys come from every process's store (workers send theirs with their
    counters); the verdicts are read back from the cache, where each one was
    found or stored. A run that did not finish (``unfinished`` says why: an
    interrupt, a crashed worker) writes nothing, so it cannot replace a good
    lockfile with part of one. A verdict missing from the cache (it was
    cleared during the run) fails the session and leaves the old file as it was.
    """
    # Start-up choice: the lockfile modules load only when a lockfile is exported.
    from pytest_llmfunnel.store.lockfile import LockfileError, export_lockfile
    from pytest_llmfunnel.store.verdict_cache import SecretInValueError, VerdictStore

    path = fs.settings.export_lockfile
    assert path is not None
    shown = shown_path(str(path), fs)
    if unfinished is not None:
        out.notes.append(f"lockfile not written: {unfinished} ({shown} is unchanged)")
        return
    store = make_store(replace(fs.settings, cache="read-only"))
    assert isinstance(store, VerdictStore)  # the settings refuse an export without a cache
    try:
        with store:
            count = export_lockfile(store, path, keys=fs.tallies.verdict_keys)
    except (LockfileError, SecretInValueError, OSError) as exc:
        out.failures.append(f"llm-funnel: cannot write the lockfile {shown}: {exc}")
        return
    out.notes.append(f"lockfile written: {shown} ({count} verdict{'' if count == 1 else 's'})")


def verdict_label(fs: FunnelSession) -> str:
    """Who gave the verdicts, in words (the offline rule-based judge, a model, replay)."""
    return judge_label(fs.records, cache_mode=fs.settings.cache)


def markdown(
    fs: FunnelSession, out: Conclusion, decisions: Any, flips: Any, missing: Any, label: str
) -> str:
    """The pull-request report (the same function draws a merge of CI shards)."""
    return pr_report(
        fs.run_result(), fs.records, decisions, flips, out, judge_label=label, missing=missing,
        cost=fs.settings.cost, completeness=fs.completeness, warnings=report_warnings(fs, out),
        require_calibration=fs.settings.require_calibration,
    )


def report_warnings(fs: FunnelSession, out: Conclusion) -> list[str]:
    """What the terminal warns about that the report files must say too."""
    found = fs.tallies.endpoint_notes()
    if out.gate is not None:
        found += list(out.gate.warnings)
    return found


def review(fs: FunnelSession, flips: list[tuple[str, str]]) -> str:
    """Choose and export the human-review slice; the note says what was written."""
    # Start-up choice: the review modules load only when a review slice is asked for.
    from pytest_llmfunnel.review.label_files import export_review
    from pytest_llmfunnel.review.slice import select_review_slice

    settings = fs.settings
    assert settings.review is not None
    chosen = select_review_slice(
        fs.records, budget=settings.review_budget, seed=settings.seed, flips=flips
    )
    export_review(
        chosen, settings.review, cases_by_id=_cases(fs),
        show_verdicts=settings.review_show_verdicts,
    )
    return f"review slice written: {shown_path(str(settings.review), fs)}: {chosen.summary()}"


def _cases(fs: FunnelSession) -> dict[str, Case]:
    """Input, context and expected for the labellers, from the datasets this run read."""
    cases: dict[str, Case] = {}
    for spec in fs.specs.values():
        for case in spec.dataset.cases:
            cases.setdefault(case.id, case)
    if cases:
        return cases
    # Under xdist the controller collected nothing: read the files the records name.
    for meta in fs.spec_meta.values():
        try:
            dataset = load_dataset(fs.config.rootpath / meta.path, columns=meta.columns)
        except (OSError, DatasetError, KeyError):
            continue
        for case in dataset.cases:
            cases.setdefault(case.id, case)
    return cases
