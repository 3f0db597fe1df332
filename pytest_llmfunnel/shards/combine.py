"""Read the JSON results of a run's CI shards, check that they belong together, combine them.

Each shard (``pytest --llm-funnel --llm-funnel-shard=I/N --llm-funnel-json=…``)
wrote its records and a ``shard`` entry
(:mod:`pytest_llmfunnel.report.shard_entry`). Shards are merged only when
they are of one run and one split (the same run id and N, each I once), ran
the same pytest-llmfunnel with the same settings, judges, datasets and
baseline files, and no case is in two of them; anything else is refused with
a :class:`ShardMismatch` that names the files and what differs.

A shard that is missing, or whose run did not finish, is not an error: the
combined :class:`Completeness` is then *incomplete* and says which shard and
which cases, so the gate decides nothing and the merge cannot pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_llmfunnel.completeness import Completeness, DatasetCount
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.report.results_json import ResultsDocument, load_results
from pytest_llmfunnel.report.shard_entry import ShardDataset, ShardEntry, shard_of
from pytest_llmfunnel.wording import plural

LISTED = 10  # case ids named per problem; the rest are counted


class ShardMismatch(ValueError):
    """Shard files that cannot be merged; the message names them and what differs."""


@dataclass(frozen=True)
class Shard:
    """One shard's results file, read."""

    path: Path
    document: ResultsDocument
    entry: ShardEntry

    @property
    def name(self) -> str:
        return f"shard {self.entry.index} of {self.entry.count} ({self.path})"


@dataclass(frozen=True)
class Combined:
    """The shards of one run, with their records in dataset order and their extent."""

    shards: tuple[Shard, ...]
    records: tuple[CaseRecord, ...]
    completeness: Completeness
    datasets: dict[str, ShardDataset]  # eval test → as the shards collected it

    @property
    def first(self) -> Shard:
        return self.shards[0]


def read_shards(paths: Sequence[Path]) -> list[Shard]:
    """Load every file; refuse one that is not a shard's results."""
    shards = []
    for path in paths:
        document = load_results(path)
        if document.shard is None:
            raise ShardMismatch(
                f"{path}: not a shard's results (written without --llm-funnel-shard=I/N); "
                "run each shard with --llm-funnel-shard and --llm-funnel-json"
            )
        shards.append(Shard(path, document, document.shard))
    if not shards:
        raise ShardMismatch("no shard results given: pass the --llm-funnel-json file of each shard")
    return sorted(shards, key=lambda s: s.entry.index)


def combine(paths: Sequence[Path]) -> Combined:
    """The shards' records and extent, once :func:`check` found they belong together."""
    shards = read_shards(paths)
    check(shards)
    datasets = {d.name: d for d in shards[0].entry.datasets}
    positions = {name: {case: i for i, case in enumerate(d.ids)} for name, d in datasets.items()}
    records = [CaseRecord.from_json(c.model_dump()) for s in shards for c in s.document.cases]

    def place(record: CaseRecord) -> tuple[str, int, str]:  # as a live run orders them
        where = positions.get(record.dataset, {})
        return record.dataset, where.get(record.case, len(where)), record.variant

    records.sort(key=place)
    return Combined(tuple(shards), tuple(records), extent(shards, datasets), datasets)


def check(shards: Sequence[Shard]) -> None:
    """Raise :class:`ShardMismatch` unless the shards are distinct parts of one run."""
    first = shards[0]
    seen: dict[int, Shard] = {}
    for shard in shards:
        entry = shard.entry
        if entry.count != first.entry.count:
            raise ShardMismatch(
                f"shards of different splits: {shard.path} is shard {entry.index} of "
                f"{entry.count}, {first.path} is shard {first.entry.index} of {first.entry.count}"
            )
        if entry.index in seen:
            raise ShardMismatch(
                f"shard {entry.index} of {entry.count} is given twice: {seen[entry.index].path} "
                f"and {shard.path}"
            )
        seen[entry.index] = shard
        if entry.run_id != first.entry.run_id:
            raise ShardMismatch(
                f"shards of different runs: {first.path} is of run {first.entry.run_id}, "
                f"{shard.path} of run {entry.run_id}; merge the shards of one CI run"
            )
        _same(first, shard, "pytest-llmfunnel version", first.document.tool_version,
              shard.document.tool_version)
        mine = shard.document.settings.model_dump(exclude={"judge_label"})
        theirs = first.document.settings.model_dump(exclude={"judge_label"})
        for key in sorted(mine):
            _same(first, shard, f"setting {key}", theirs[key], mine[key])
        ours, other = first.entry.gate.model_dump(), entry.gate.model_dump()
        for key in sorted(ours):
            _same(first, shard, f"setting {key}", ours[key], other[key])
        _same(first, shard, "eval tests", [d.name for d in first.entry.datasets],
              [d.name for d in entry.datasets])
        for a, b in zip(first.entry.datasets, entry.datasets, strict=True):
            for key in ("path", "ids", "units", "baseline", "baseline_from", "baseline_sha256",
                        "control"):
                what = "baseline file" if key.startswith("baseline") else f"dataset ({key})"
                _same(first, shard, f"{a.name}: {what}", getattr(a, key), getattr(b, key))
    _one_place(shards)
    _same_stages(shards)


def _same(first: Shard, shard: Shard, what: str, expected: object, got: object) -> None:
    if expected != got:
        shown = (lambda v: v) if len(repr(expected)) < 80 else (lambda v: "…")
        raise ShardMismatch(
            f"shards of different runs or settings: {what} is {shown(expected)!r} in "
            f"{first.path} but {shown(got)!r} in {shard.path}"
        )


def _one_place(shards: Sequence[Shard]) -> None:
    """No (eval test, case, variant) in two shards."""
    where: dict[tuple[str, str, str], Path] = {}
    for shard in shards:
        for case in shard.document.cases:
            key = (case.dataset, case.case, case.variant)
            if key in where:
                raise ShardMismatch(
                    f"case {case.case!r} of {case.dataset} is in two shards: {where[key]} and "
                    f"{shard.path}; were the shards selected with the same --llm-funnel-shard?"
                )
            where[key] = shard.path


def _same_stages(shards: Sequence[Shard]) -> None:
    """Every stage of an eval test is the same stage (kind, judge, threshold) in every shard."""
    found: dict[tuple[str, str], tuple[str, Path]] = {}
    for shard in shards:
        for case in shard.document.cases:
            sides = [case.stages] + ([case.baseline.stages] if case.baseline else [])
            for stage in (s for side in sides for s in side):
                facts = (f"{stage.kind} (gating={stage.gating}, must={stage.must}, "
                         f"judge={stage.judge}, scale={stage.scale}, threshold={stage.threshold})")
                key = (case.dataset, stage.stage)
                known = found.setdefault(key, (facts, shard.path))
                if known[0] != facts:
                    raise ShardMismatch(
                        f"shards of different settings: stage {stage.stage!r} of {case.dataset} "
                        f"is {known[0]} in {known[1]} but {facts} in {shard.path}"
                    )


def extent(shards: Sequence[Shard], datasets: dict[str, ShardDataset]) -> Completeness:
    """How much of the run the shards cover: summed counts, and every shard that fell short."""
    count = shards[0].entry.count
    evaluated: dict[str, int] = {}
    selected: dict[str, int] = {}
    for one in shards:
        for case in one.document.cases:
            evaluated[case.dataset] = evaluated.get(case.dataset, 0) + 1
        for d in one.entry.datasets:
            selected[d.name] = selected.get(d.name, 0) + d.selected
    counts = tuple(  # as a live run counts (pytest_glue.selection.completeness_of)
        DatasetCount(name, evaluated.get(name, 0), selected=selected.get(name, 0),
                     total=datasets[name].units if name in datasets else None)
        for name in sorted(set(evaluated) | {n for n, k in selected.items() if k})
    )
    problems = []
    present = {s.entry.index: s for s in shards}
    for index in range(1, count + 1):
        shard = present.get(index)
        if shard is None:
            cases = _cases_of(index, count, datasets.values(), done=set())
            problems.append(
                f"shard {index} of {count} is missing: {plural(len(cases), 'case')} never ran"
                + _listed(cases)
            )
            continue
        extent_ = shard.document.completeness
        if extent_ is not None and extent_.status == "incomplete":
            done = {(c.dataset, c.case) for c in shard.document.cases}
            cases = _cases_of(index, count, datasets.values(), done=done)
            problems.append(
                f"shard {index} of {count} did not finish ({extent_.stopped}): "
                f"{plural(len(cases), 'case')} not evaluated" + _listed(cases)
            )
    return Completeness(counts, "; ".join(problems) or None)


def _cases_of(
    index: int, count: int, datasets: Iterable[ShardDataset], *, done: set[tuple[str, str]]
) -> list[str]:
    """The case ids shard ``index`` was given and did not evaluate, dataset by dataset."""
    return [
        case for d in datasets for case in d.ids
        if (d.name, case) not in done and shard_of(d.name, case, count) == index
    ]


def _listed(cases: Sequence[str]) -> str:
    if not cases:
        return ""
    more = f", … ({len(cases) - LISTED} more)" if len(cases) > LISTED else ""
    return f" ({', '.join(cases[:LISTED])}{more})"
