"""A baseline built from a run's per-case records, and merged into an existing one.

The file format, reading and writing are :mod:`pytest_llmfunnel.gate.baseline_file`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping

from pytest_llmfunnel.gate.baseline_file import (
    DEFAULT_VARIANT,
    Baseline,
    BaselineCase,
    BaselineError,
    BaselineHeader,
    BaselineMetrics,
    BaselineOutcome,
    BaselineStage,
    BaselineStageTally,
)
from pytest_llmfunnel.record import CaseRecord, StageRecord
from pytest_llmfunnel.wording import plural


def _most_common(values: Iterable[str]) -> str | None:
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None


def _case_line(record: CaseRecord) -> BaselineCase:
    return BaselineCase(
        case=record.case,
        variant=record.variant or DEFAULT_VARIANT,
        fingerprint=record.fingerprint,
        output=record.output,
        structured=record.structured,
        promoted=record.promoted,
        dropped_at=record.dropped_at,
        error=record.error,
        stages={s.stage: _outcome(s, record.repeat_outputs) for s in record.stages},
        repeat_outputs=record.repeat_outputs,
    )


def _outcome(stage: StageRecord, repeat_outputs: tuple[str, ...]) -> BaselineOutcome:
    # With target repeats a judge's samples are kept: the reduced score of
    # each repeat is what an unchanged case reuses (see baseline_side).
    sampled = bool(repeat_outputs) and stage.kind == "judge" and stage.pair is None
    samples = stage.samples if sampled else None
    return BaselineOutcome(status=stage.status, score=stage.score, samples=samples)


def _summary(cases: Collection[BaselineCase]) -> BaselineMetrics:
    """Descriptive counts for the header (the gate recomputes what it needs)."""
    stages: dict[str, BaselineStageTally] = {}
    scores: dict[str, list[float]] = {}
    for case in cases:
        for name, outcome in case.stages.items():
            counts = stages.setdefault(
                name, BaselineStageTally(passed=0, failed=0, measured=0, error=0))
            counts[outcome.status] += 1
            if outcome.score is not None:
                scores.setdefault(name, []).append(outcome.score)
    for name, values in scores.items():
        stages[name]["mean_score"] = round(sum(values) / len(values), 6)
    promoted = sum(c.promoted for c in cases)
    return {
        "cases": len(cases),
        "promoted": promoted,
        "promotion_rate": round(promoted / len(cases), 6) if cases else None,
        "stages": stages,
    }


def baseline_from_records(
    records: Iterable[CaseRecord],
    *,
    judges: Mapping[str, str] | None = None,
    scales: Mapping[str, tuple[float, float]] | None = None,
    dataset: str | None = None,
    path: str | None = None,
) -> Baseline:
    """Build the baseline of one eval test from its per-case records.

    Args:
        records: the records of one eval test (see :mod:`pytest_llmfunnel.record`).
        judges: judge identity per stage; by default the identity the records carry.
        scales: ``(low, high)`` per scored stage, when the records do not carry it.
        dataset, path: override the eval test key and dataset path of the records.
    """
    records = list(records)
    keys = {r.dataset for r in records if r.dataset}
    if len(keys) > 1:
        raise ValueError(f"records of several eval tests given: {sorted(keys)}; pass one")
    dataset = dataset or (keys.pop() if keys else "")
    if not dataset:
        raise ValueError("no eval test key: pass dataset=")
    if path is None:
        path = next((r.path for r in records if r.path), "")
    stages: dict[str, BaselineStage] = {}
    seen_judges: dict[str, list[str]] = {}
    lines: dict[tuple[str, str], BaselineCase] = {}
    for record in records:
        for s in record.stages:
            name = s.stage
            if name not in stages:
                scale = (scales or {}).get(name) or s.scale
                stages[name] = BaselineStage(
                    kind=s.kind, gating=s.gating,
                    scale=scale,
                )
            if s.kind == "judge" and s.judge:
                seen_judges.setdefault(name, []).append(s.judge)
        line = _case_line(record)
        lines[line.key] = line  # a rerun of the same case replaces the earlier record
    for name, scale in (scales or {}).items():
        if name in stages:
            stages[name] = stages[name].model_copy(update={"scale": tuple(scale)})
    identities = {n: v for n, ids in seen_judges.items() if (v := _most_common(ids))}
    identities.update(judges or {})
    cases = tuple(sorted(lines.values(), key=lambda c: c.key))
    header = BaselineHeader(
        dataset=dataset, path=path, judges=identities, stages=stages, metrics=_summary(cases)
    )
    return Baseline(header=header, cases=cases)


def check_partial_update(
    dataset_ids: Collection[str], selected_ids: Collection[str], merge: bool,
    *, dataset: str = "",
) -> str | None:
    """The refusal message when a partial selection would overwrite a whole baseline.

    Updating from a selection that is a strict subset of the dataset's case ids
    (``-k``, ``--lf``, one parametrized id) would silently drop the other cases
    from the baseline; it is refused unless merging was asked for.
    """
    full, chosen = set(dataset_ids), set(selected_ids)
    if merge or not chosen < full:
        return None
    name = f" of {dataset}" if dataset else ""
    return (
        f"refusing to update the baseline{name} from {len(chosen)} of {plural(len(full), 'case')}: "
        f"this run selected only part of the dataset (-k, --lf, a single test id), and "
        f"writing it would drop the other {plural(len(full - chosen), 'case')}. Run the whole eval "
        f"test, or add --llm-funnel-merge-baseline to merge the selected cases into the "
        f"existing baseline."
    )


def _merged_stages(
    old: Mapping[str, BaselineStage], new: Mapping[str, BaselineStage]
) -> dict[str, BaselineStage]:
    """New stage infos win, but a known scale is not forgotten for want of a new one."""
    out = dict(old)
    for name, info in new.items():
        if info.scale is None and name in old:
            info = info.model_copy(update={"scale": old[name].scale})
        out[name] = info
    return out


def merge(
    existing: Baseline,
    new_records: Iterable[CaseRecord],
    selected_ids: Collection[str],
    *,
    dataset_ids: Collection[str] | None = None,
    judges: Mapping[str, str] | None = None,
    scales: Mapping[str, tuple[float, float]] | None = None,
) -> Baseline:
    """Replace the selected cases of ``existing`` with the new records' lines.

    Cases outside ``selected_ids`` keep their stored lines; a selected case
    without a new record is removed; with ``dataset_ids``, cases no longer in
    the dataset are removed too. Raises BaselineError when a judge changed: a
    merged file would mix two judges' verdicts under one identity.
    """
    new = baseline_from_records(
        new_records, judges=judges, scales=scales, dataset=existing.header.dataset
    )
    old_judges, new_judges = existing.header.judges, new.header.judges
    for name in sorted(set(old_judges) & set(new_judges)):
        if old_judges[name] != new_judges[name]:
            raise BaselineError(
                f"cannot merge into the baseline of {existing.header.dataset}: judge "
                f"{name!r} changed ({old_judges[name]} → {new_judges[name]}), so the kept "
                f"cases' verdicts would no longer match the header. Update the whole "
                f"baseline: run the full eval test with --llm-funnel-update-baseline."
            )
    selected = set(selected_ids)
    present = None if dataset_ids is None else set(dataset_ids)
    keep = [
        c for c in existing.cases
        if c.case not in selected and (present is None or c.case in present)
    ]
    cases = tuple(sorted([*keep, *new.cases], key=lambda c: c.key))
    header = existing.header.model_copy(
        update={
            "path": new.header.path or existing.header.path,
            "judges": {**old_judges, **new_judges},
            "stages": _merged_stages(existing.header.stages, new.header.stages),
            "metrics": _summary(cases),
        }
    )
    return Baseline(header=header, cases=cases)
