"""The end of a session, on the controller: baselines, the gate, and the report files.

Only the process that saw every case's record decides (the xdist controller,
or the single pytest process): it writes or updates the baseline files, or
gates the session against them, then writes the Markdown report, the JSON
results and the human-review slice that were asked for. What it did comes
back as a :class:`Conclusion` the terminal summary prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmfunnel.gate.baseline_build import baseline_from_records, check_partial_update, merge
from pytest_llmfunnel.gate.baseline_file import (
    Baseline,
    BaselineError,
    load_baseline,
    load_baseline_if_exists,
    write_baseline,
)
from pytest_llmfunnel.pytest_glue.paths import (
    STEP_SUMMARY,
    create_command,
    in_ci,
    shown_path,
)
from pytest_llmfunnel.pytest_glue.run_files import write_outputs
from pytest_llmfunnel.pytest_glue.sections import report_sections
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.pytest_glue.specs import UNKNOWN_TEST, EvalTestInfo
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.wording import plural

if TYPE_CHECKING:
    from pytest_llmfunnel.gate.compare import GateResult

__all__ = ["STEP_SUMMARY", "Conclusion", "conclude"]

NO_GATE_HINT = "no regression gate for {names}: turned off with llm_dataset(baseline=False)."
NO_BASELINE_YET = (
    "no baseline yet for {name}, so no gate: create it with `{command}` and commit "
    "{path}. In CI (the CI environment variable set) this fails the run."
)
SHARD_NOTE = (
    "shard {index} of {count}: no gate here; `llmfunnel gate` decides on the results "
    "of all {count} shards (--llm-funnel-json files)."
)
CI_NO_BASELINE = (
    "{name}: no baseline file, and in CI an eval test without one fails: create it with "
    "`{command}` and commit {path} (or opt out with llm_dataset(..., baseline=False))."
)


def conclude(fs: FunnelSession) -> Conclusion:
    """Update the baselines or gate against them; then write the report files.

    The records are in dataset order already (:meth:`ResultStore.order`).
    """
    settings = fs.settings
    out = Conclusion()
    metas = {r.dataset: fs.spec_meta.get(r.dataset, UNKNOWN_TEST) for r in fs.records}
    if settings.labels is not None:
        calibrate_judges(fs, out)
    scope = fs.completeness
    if scope.status == "incomplete":
        # Part of the selection never ran: deciding on the rest could pass a
        # regression in the cases that did not run, so nothing is decided.
        if settings.update_baseline:
            out.failures.append(
                f"baselines not written: {scope.phrase()}. Run the whole selection again "
                "to update them."
            )
    elif settings.update_baseline:
        update_baselines(fs, metas, out)
    elif settings.shard is not None:
        # One shard's cases decide nothing alone: the merge gates them all at once.
        out.notes.append(SHARD_NOTE.format(index=settings.shard[0], count=settings.shard[1]))
    else:
        gate(fs, metas, out)
    if scope.status != "incomplete":
        out.rankings = rank(fs)
    out.sections, failure = report_sections(fs.config, fs.records)
    if failure:
        out.failures.append(failure)
    write_outputs(fs, out)
    return out


def calibrate_judges(fs: FunnelSession, out: Conclusion) -> None:
    """Judge against human labels: agreement per criterion and calibrated pass rates."""
    # Start-up choice: the calibration modules load only when labels are given.
    from pytest_llmfunnel.review.calibrated_rate import calibrated_estimates
    from pytest_llmfunnel.review.calibration import calibrate
    from pytest_llmfunnel.review.label_files import ReviewFileError, import_labels
    from pytest_llmfunnel.review.slice import match_labels

    settings = fs.settings
    path = settings.labels
    assert path is not None
    try:
        labels = import_labels(path)
    except (OSError, ReviewFileError) as exc:
        out.failures.append(f"labels not read: {exc}")
        return
    matched = match_labels(labels, fs.records).summary()
    out.notes.append(f"{shown_path(str(path), fs)}: {matched}")
    out.calibration = (
        list(calibrate(fs.records, labels, accuracy_floor=settings.calibration_floor,
                       seed=settings.seed)),
        list(calibrated_estimates(fs.records, labels, None, alpha=settings.alpha)),
    )


def distrusted(fs: FunnelSession, out: Conclusion) -> dict[str, str]:
    """Judge stages whose metrics must not gate: flagged by labels, or without any labels.

    Only with ``--llm-funnel-require-calibration``; a judge no label speaks
    for is not shown to agree with people either.
    """
    if not fs.settings.require_calibration:
        return {}
    # Start-up choice: the review modules load only when calibration is required.
    from pytest_llmfunnel.review.slice import rubric_stages

    cals = out.calibration[0] if out.calibration is not None else []
    found = {c.stage: c for c in cals}
    why = {}
    for name in rubric_stages(fs.records):
        c = found.get(name)
        if c is None or c.labelled == 0:
            why[name] = "no human labels of this judge (pass --llm-funnel-labels)"
        elif c.distrust:
            why[name] = f"people disagree with this judge: {c.distrust}"
    return why


def rank(fs: FunnelSession) -> list[Any]:
    """The variant ranking of every dataset with several variants."""
    variants: dict[str, set[str]] = {}
    for record in fs.records:
        variants.setdefault(record.dataset, set()).add(record.variant)
    if all(len(names) < 2 for names in variants.values()):
        return []  # nothing to rank; the statistics stay unimported (a warm run's time)
    # Start-up choice: the variant statistics load only when there are variants.
    from pytest_llmfunnel.variants.ranking import rank_variants

    settings = fs.settings
    return list(rank_variants(
        fs.records, alpha=settings.alpha, tolerance=settings.tolerance, seed=settings.seed,
        control=settings.variant_control, controls={
            key: meta.control for key, meta in fs.spec_meta.items() if meta.control},
    ))


def gate(fs: FunnelSession, metas: Mapping[str, EvalTestInfo], out: Conclusion) -> None:
    """Compare every eval test that has a baseline file configured."""
    settings = fs.settings
    ungated = sorted(k for k, m in metas.items() if not m.baseline)
    if ungated:
        more = f" and {len(ungated) - 3} more" if len(ungated) > 3 else ""
        shown = ", ".join(ungated[:3]) + more
        out.notes.append(NO_GATE_HINT.format(names=shown))
    baselines: dict[str, Baseline | None] = {}
    ci = in_ci()
    for key, meta in sorted(metas.items()):
        if not meta.baseline:
            continue
        spec = fs.specs.get(key)
        if spec is not None and spec.baseline is not None:
            baselines[key] = spec.baseline
            continue
        try:
            baselines[key] = load_baseline_if_exists(Path(meta.baseline))
        except BaselineError as exc:
            out.failures.append(str(exc))
            continue
        if baselines[key] is not None:
            continue
        words = {"name": key, "command": create_command(key),
                 "path": shown_path(meta.baseline, fs)}
        if ci:
            del baselines[key]
            out.failures.append(CI_NO_BASELINE.format(**words))
        elif meta.baseline_from == "default":
            # Nothing was configured: a first local run evaluates and says how to gate.
            del baselines[key]
            out.notes.append(NO_BASELINE_YET.format(**words))
    if not baselines:
        return
    # Start-up choice: the gate's statistics load only when a baseline is compared.
    from pytest_llmfunnel.gate.compare import compare
    from pytest_llmfunnel.gate.judge_change import judge_changes

    out.judge_changes = judge_changes(fs.records, baselines)

    out.gate = compare(
        fs.records, baselines, alpha=settings.alpha, tolerance=settings.tolerance,
        mode=settings.gate_mode, max_error_share=settings.max_error_share, seed=settings.seed,
        dataset_ids={key: meta.ids for key, meta in metas.items()},
    )
    untrusted = distrusted(fs, out)
    if untrusted:
        out.gate = uncalibrated(out.gate, untrusted)
    if out.gate.fails:
        out.failures.append(out.gate.message())
    for name in out.gate.missing_baselines:
        out.failures.append(f"  expected at: {shown_path(metas[name].baseline or '', fs)}")


def uncalibrated(result: GateResult, untrusted: Mapping[str, str]) -> GateResult:
    """The gate with every metric of an untrusted judge made "not comparable", saying why."""
    metrics = {f"{stage} {kind}": why for stage, why in untrusted.items()
               for kind in ("pass rate", "mean score")}
    decisions = tuple(
        replace(d, decision="not comparable",
                reason=f"{metrics[d.metric]} (--llm-funnel-require-calibration)")
        if d.metric in metrics else d
        for d in result.decisions
    )
    return replace(result, decisions=decisions)


def update_baselines(
    fs: FunnelSession, metas: Mapping[str, EvalTestInfo], out: Conclusion
) -> None:
    """Write each eval test's baseline from this run (merged, when asked for)."""
    settings = fs.settings
    run = fs.run_result()
    if run.cases and run.error_share > settings.max_error_share:
        out.failures.append(
            f"baselines not written: {run.errors} of {plural(run.cases, 'case')} ended in an "
            "error; "
            "a baseline must hold verdicts, not errors. Fix the errors and update again."
        )
        return
    for key, meta in sorted(metas.items()):
        if not meta.baseline:
            out.failures.append(
                f"{key}: no baseline file to update: llm_dataset(baseline=False) turns its "
                "gate off; drop it (or name a file with baseline=...) to gate this eval test"
            )
            continue
        records = [r for r in fs.records if r.dataset == key]
        selected = {r.case for r in records}
        refusal = check_partial_update(
            meta.ids, selected, settings.merge_baseline, dataset=key
        )
        if refusal:
            out.failures.append(refusal)
            continue
        path = Path(meta.baseline)
        try:
            if settings.merge_baseline and path.exists():
                new = merge(load_baseline(path), records, selected, dataset_ids=meta.ids)
            else:
                new = baseline_from_records(records, dataset=key, path=meta.path)
        except BaselineError as exc:
            out.failures.append(f"{exc} (the file was left as it was)")
            continue
        changed = write_baseline(path, new)
        state = "written" if changed else "unchanged"
        out.notes.append(
            f"baseline {state}: {shown_path(str(path), fs)} ({plural(len(new.cases), 'case')}); "
            "commit it to gate later runs against it."
        )
