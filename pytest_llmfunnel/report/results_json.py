"""The JSON results of a run: a documented, versioned schema, writing and reading.

One :class:`ResultsDocument` holds everything a later tool needs to redraw
the reports or pick a review slice without re-running anything: the settings
that matter for interpretation (never a key), funnel counts, every case
record, the gate's decisions and the flipped cases. ``schema_version`` is
bumped whenever a field changes meaning or disappears; new optional fields
keep the version. :func:`to_json` is byte-for-byte stable for equal content
(sorted keys, no timestamp unless one is given), so two runs' files can be
diffed. ``docs/json-schema.md`` is generated from these models by
:func:`.results_schema_doc.schema_markdown`, and a test keeps the two in step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

import pytest_llmfunnel.record as rec
from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.escape import json_text
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.completeness import Extent
from pytest_llmfunnel.report.labels import funnel_names
from pytest_llmfunnel.report.results_entries import Decision, FlipEntry, SettingsSummary
from pytest_llmfunnel.report.results_extras import EndOfRun, finite_json
from pytest_llmfunnel.report.shard_entry import ShardEntry
from pytest_llmfunnel.report.summary import ReportData, summarize
from pytest_llmfunnel.store.versioned_file import FileFormat, VersionedFileError, read_versioned

SCHEMA_VERSION = 1
__all__ = ["Decision", "FlipEntry", "SettingsSummary"]  # re-exported: part of the format
TOOL = "pytest-llmfunnel"


class ResultsError(VersionedFileError):
    """A results file that cannot be read; the message names the file and what to do."""


RESULTS_FORMAT = FileFormat(
    noun="results file", short="results", marker_key="tool", marker=TOOL,
    version_key="schema_version", version=SCHEMA_VERSION, error=ResultsError, lines=False,
    create="write one with pytest --llm-funnel --llm-funnel-json={path}",
    fix="re-run pytest to write it again",
    upgrade=f"use the {TOOL} version that wrote it, or re-run pytest to write the file again",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compact_output(value: Output | None) -> object:  # as records have it: no defaults
    return None if value is None else value.model_dump(mode="json", exclude_defaults=True)


# The file models are named *Entry: each documents and validates a file entry;
# the program reads the in-memory type (record.StageRecord, CaseRecord, Flip).
class StageEntry(_Model):
    """One stage's outcome on one case."""

    stage: str = Field(description="Stage name, unique within its funnel.")
    kind: Literal["check", "scorer", "judge"] = Field(description="What kind of stage it is.")
    status: Literal["passed", "failed", "measured", "error"] = Field(
        description="passed/failed; measured for a score without threshold; error when the "
        "stage could not decide (never counted as a pass or a fail)."
    )
    gating: bool = Field(description="Whether failing this stage stops promotion.")
    must: bool = Field(description="Whether failing this stage fails the test item.")
    score: float | None = Field(description="The stage's score, if it gives one.")
    samples: list[float] = Field(description="Every judge sample behind the score (repeats).")
    reason: str = Field(description="Why, in one line (the judge's whole reasoning).")
    judge: str | None = Field(description="Identity of the judge that answered, for judge stages.")
    scale: list[float] | None = Field(
        default=None, description="The judge's score scale [low, high], for rubric judges."
    )
    threshold: float | None = Field(
        default=None, description="The pass threshold the stage decided with (rubric judges, "
        "scorers with a threshold); null for checks, measuring scorers and comparisons."
    )
    pair: list[str] | None = Field(
        default=None,
        description="For a pairwise comparison, the two variants compared, the one it was "
        "made from first (the comparison appears on both variants' records; it counts once, "
        "on the first one's).",
    )
    requests: int = Field(description="Judge requests sent (cache misses).")
    cache_hits: int = Field(description="Judge answers served from the verdict cache.")
    prompt_tokens: int = Field(description="Prompt tokens of the requests sent.")
    completion_tokens: int = Field(description="Completion tokens of the requests sent.")
    reused: bool = Field(
        default=False, description="The baseline's stored verdict, reused because the output, "
        "the judge and its prompt are unchanged: no request was sent.",
    )


class BaselineEntry(_Model):
    """The baseline's stored output, re-evaluated with the current stages."""

    case: str = Field(description="Case id.")
    variant: str = Field(default="default", description="Output variant.")
    fingerprint: str = Field(default="", description="sha256 of input, context and expected.")
    output: str | None = Field(default=None, description="The baseline's output.")
    promoted: bool = Field(description="Whether the baseline output passed every gating stage.")
    dropped_at: str | None = Field(default=None, description="Gating stage that stopped it.")
    error: str | None = Field(default=None, description="Why no output was available.")
    stages: list[StageEntry] = Field(description="Stage outcomes, in funnel order.")
    structured: Output | None = Field(default=None, description="As a case's `structured`.")
    target_errors: int = Field(default=0, description="As a case's `target_errors`.")
    repeat_outputs: list[str] = Field(default=[], description="As a case's `repeat_outputs`.")

    _compact = field_serializer("structured")(lambda self, v: _compact_output(v))


class CaseEntry(_Model):
    """One case (and variant) of one dataset, as the funnel left it."""

    dataset: str = Field(description="The eval test that ran the dataset (its node id).")
    path: str = Field(description="Dataset file, relative to the rootdir.")
    case: str = Field(description="Case id, unique within the dataset.")
    variant: str = Field(description='Output variant ("default" unless the dataset has several).')
    fingerprint: str = Field(description="sha256 of input, context and expected (not the output).")
    tags: list[str] = Field(description="The case's tags.")
    input: str = Field(default="", description="The case's input as text (a chat input: one "
                       "'role: content' line per message).")
    output: str | None = Field(description="The output judged; null when the target failed.")
    promoted: bool = Field(description="Whether the case passed every gating stage.")
    dropped_at: str | None = Field(description="Name of the gating stage that stopped it.")
    error: str | None = Field(description="Target error (raised or timed out).")
    stages: list[StageEntry] = Field(
        description="Stage outcomes in funnel order; stages after a drop are absent."
    )
    baseline: BaselineEntry | None = Field(
        default=None, description="The baseline's output re-evaluated, when there is a baseline."
    )
    structured: Output | None = Field(
        default=None, description="The whole output when it carried more than text: "
        "`text`, retrieved `context` chunks (`text`, `id`, `source`, `score`), `tool_calls` "
        "(`name`, `arguments`, `result`), `messages`, `usage`, `latency_s`, `cost`, "
        "`metadata` (fields left at their defaults are omitted); omitted for a plain output."
    )
    target_errors: int = Field(default=0, description="Failed target calls; omitted when 0.")
    repeat_outputs: list[str] = Field(
        default=[], description="With target repeats: the digest of each repeat's output, in "
        "repeat order (what baseline reuse compares); omitted without repeats."
    )
    funnel: str = Field(default="", description="The funnel's `name=`, which the reports "
                        "label the eval test with; omitted when the funnel has none.")

    _compact = field_serializer("structured")(lambda self, v: _compact_output(v))


class StageCountsEntry(_Model):
    """Funnel counts of one stage over one dataset."""

    stage: str = Field(description="Stage name.")
    cases_in: int = Field(description="Cases that reached the stage.")
    passed: int = Field(description="Cases that passed (or were measured).")
    failed: int = Field(description="Cases that failed.")
    errors: int = Field(description="Cases on which the stage could not decide.")
    requests: int = Field(description="Judge requests sent.")
    cache_hits: int = Field(description="Judge answers from the cache.")
    reused: int = Field(
        default=0, description="Verdicts reused from the baseline (unchanged output, judge and "
        "prompt): neither asked nor read from the cache.",
    )
    prompt_tokens: int = Field(description="Prompt tokens.")
    completion_tokens: int = Field(description="Completion tokens.")


class DatasetSummary(_Model):
    """Funnel counts of one dataset (one eval test)."""

    name: str = Field(description="The eval test's node id.")
    funnel: str = Field(default="", description="The funnel's `name=`, which the reports "
                        "label the eval test with; omitted when the funnel has none.")
    cases: int = Field(description="Cases run (one per case and variant).")
    promoted: int = Field(description="Cases that passed every gating stage.")
    errors: int = Field(description="Cases with a target or stage error.")
    stages: list[StageCountsEntry] = Field(description="Per stage counts, in funnel order.")
    target_errors: int = Field(default=0, description="Failed target calls (apart from judge "
                               "errors and failed checks); omitted when 0.")


class ResultsDocument(_Model):
    """The JSON results of one pytest-llmfunnel session."""

    schema_version: Literal[1] = Field(default=1, description="Version of this schema.")
    tool: Literal["pytest-llmfunnel"] = Field(
        default="pytest-llmfunnel", description="Always pytest-llmfunnel."
    )
    tool_version: str = Field(description="pytest-llmfunnel version that wrote the file.")
    created_at: str | None = Field(
        default=None, description="ISO 8601 time of writing; omitted for reproducible files."
    )
    settings: SettingsSummary = Field(description="Settings that matter to read the results.")
    status: Literal["regressed", "not comparable", "passed", "no gate", "incomplete"] = Field(
        description="The gate's overall verdict; incomplete when the run ended early and "
        "nothing was decided (see completeness)."
    )
    headline: str = Field(description="The verdict in one sentence.")
    datasets: list[DatasetSummary] = Field(description="Funnel counts per dataset.")
    cases: list[CaseEntry] = Field(description="Every case record of the session.")
    decisions: list[Decision] = Field(
        description="The gate's decisions, one per (dataset, metric)."
    )
    flips: list[FlipEntry] = Field(description="Cases whose verdict changed against the baseline.")
    missing_baselines: list[str] = Field(
        default_factory=list, description="Datasets that had no baseline to compare with."
    )
    completeness: Extent | None = Field(
        default=None, description="How much of its evaluation the run covered: a partial or "
        "incomplete run says so here and in the headline."
    )
    warnings: list[str] = Field(
        default_factory=list, description="What a reader must not miss beside the verdict: "
        "why the judge endpoint was given up, a large share of unpaired cases."
    )
    shard: ShardEntry | None = Field(
        default=None, description="Only in a shard's file (--llm-funnel-shard): what "
        "`llmfunnel gate` needs to merge the shards into one decision."
    )
    end_of_run: EndOfRun | None = Field(
        default=None, description="What the end of the run added to its report (variant "
        "ranking, judge changes, calibration, sections); omitted when nothing."
    )

    def report_data(self) -> ReportData:
        """What the renderers need, rebuilt from the document."""
        records = [rec.CaseRecord.from_json(c.model_dump()) for c in self.cases]
        return ReportData(
            run=RunResult.from_records(records),
            records=tuple(records),
            decisions=tuple(d.to_gate() for d in self.decisions),
            flips=tuple(f.to_flip() for f in self.flips),
            missing_baselines=tuple(self.missing_baselines),
            judge_label=self.settings.judge_label,
            completeness=None if self.completeness is None else self.completeness.to_completeness(),
            warnings=tuple(self.warnings),
        )


def build_document(
    records: Iterable[rec.CaseRecord],
    decisions: Sequence[GateDecision],
    flips: Iterable[Flip],
    *,
    settings: SettingsSummary,
    tool_version: str,
    created_at: str | None = None,
    missing_baselines: Iterable[str] = (),
    completeness: Completeness | None = None,
    warnings: Iterable[str] = (),
    shard: ShardEntry | None = None,
    end_of_run: EndOfRun | None = None,
) -> ResultsDocument:
    """The results document of a session; raises pydantic's ValidationError on a bad record."""
    records = list(records)
    cases = [CaseEntry.model_validate(r.to_json()) for r in records]
    run = RunResult.from_records(records)
    datasets = [
        DatasetSummary(
            name=ds.name, funnel=ds.funnel, cases=ds.cases, promoted=ds.promoted,
            errors=ds.errors,
            target_errors=ds.target_errors,
            stages=[
                StageCountsEntry(
                    stage=name, cases_in=c.cases_in, passed=c.passed, failed=c.failed,
                    errors=c.errors, requests=c.requests, cache_hits=c.cache_hits,
                    reused=c.reused,
                    prompt_tokens=c.usage.prompt_tokens,
                    completion_tokens=c.usage.completion_tokens,
                )
                for name, c in ds.stages.items()
            ],
        )
        for ds in run.datasets.values()
    ]
    missing = list(missing_baselines)
    verdict = summarize(decisions, missing, completeness, funnel_names(records))
    return ResultsDocument(
        tool_version=tool_version, created_at=created_at, settings=settings,
        status=verdict.status, headline=verdict.headline(), datasets=datasets, cases=cases,
        decisions=[Decision.from_gate(d) for d in decisions],
        flips=[FlipEntry.from_flip(f) for f in flips], missing_baselines=missing,
        completeness=None if completeness is None else Extent.from_completeness(completeness),
        warnings=list(warnings), shard=shard, end_of_run=end_of_run,
    )


def to_json(document: ResultsDocument) -> str:
    """The document as stable JSON: sorted keys, two-space indent, a final newline."""
    data = document.model_dump(mode="json", exclude_none=False)
    for optional in ("created_at", "completeness", "shard", "end_of_run"):  # unless known
        if data.get(optional) is None:
            data.pop(optional, None)
    # Only structured outputs and failed target calls add these: plain files stay as they were.
    for entry in [*data["cases"], *(c["baseline"] or {} for c in data["cases"]), *data["datasets"]]:
        for key, unset in (
            ("structured", None), ("target_errors", 0), ("repeat_outputs", []), ("funnel", ""),
        ):
            if key in entry and entry[key] == unset:
                del entry[key]
    for entry in (data.get("shard") or {}).get("datasets", []):  # a ranking's own control
        if entry.get("control") is None:
            entry.pop("control", None)
    if "end_of_run" in data:  # its intervals may be unbounded
        data["end_of_run"] = finite_json(data["end_of_run"])
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return json_text(text) + "\n"  # C1, bidi, U+2028/9 as escapes: same value, inert text


def write_results(document: ResultsDocument, path: str | Path) -> None:
    """Write the document atomically, creating its folder."""
    atomic_write(Path(path), to_json(document))


def load_results(path: str | Path) -> ResultsDocument:
    """Read a results file, or raise :class:`ResultsError` saying what is wrong and what to do."""
    read = read_versioned(path, RESULTS_FORMAT)
    try:
        return ResultsDocument.model_validate(read.header)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise read.error(None, f"not a valid {TOOL} results file: {problems}{more}") from None
