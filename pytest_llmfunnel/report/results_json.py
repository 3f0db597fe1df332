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
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

import pytest_llmfunnel.record as rec
from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.escape import json_text
from pytest_llmfunnel.flip import Flip, FlipValue
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.record import RunResult
from pytest_llmfunnel.report.completeness import Extent
from pytest_llmfunnel.report.labels import funnel_names
from pytest_llmfunnel.report.shard_entry import ShardEntry
from pytest_llmfunnel.report.summary import ReportData, summarize
from pytest_llmfunnel.store.versioned_file import FileFormat, VersionedFileError, read_versioned

SCHEMA_VERSION = 1
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


class Decision(_Model):
    """The gate's verdict on one (dataset, metric) pair; numbers are null when not comparable."""

    dataset: str = Field(description="The eval test's node id.")
    metric: str = Field(description="Metric name.")
    n: int = Field(description="Cases paired with the baseline.")
    baseline_mean: float | None = Field(description="Baseline mean (a pass rate is a share).")
    current_mean: float | None = Field(description="Current mean.")
    diff: float | None = Field(description="current - baseline.")
    bound: float | None = Field(description="One-sided confidence bound of diff at `level`.")
    p_value: float | None = Field(description="One-sided p-value of the deciding test.")
    p_adjusted: float | None = Field(description="Holm-adjusted p-value across the session.")
    mde: float | None = Field(description="Minimum detectable effect (80% power).")
    decision: Literal["ok", "improved", "regressed", "not comparable"] = Field(
        description="The verdict."
    )
    reason: str = Field(description="Why, in words.")
    test: str = Field(description="The test that decided (tango-score, paired-t, ...).")
    flips: list[int] | None = Field(
        description="[worse, better] case counts for pass/fail metrics, else null."
    )
    gated: bool = Field(description="Whether the metric can fail the build.")
    level: float | None = Field(description="Holm level the p-value was compared with.")
    tolerance: float = Field(description="Smallest change that matters, in the metric's units.")

    @classmethod
    def from_gate(cls, d: GateDecision) -> Decision:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return cls(
            dataset=d.dataset, metric=d.metric, n=d.n, baseline_mean=num(d.baseline_mean),
            current_mean=num(d.current_mean), diff=num(d.diff), bound=num(d.bound),
            p_value=num(d.p_value), p_adjusted=num(d.p_adjusted), mde=num(d.mde),
            decision=d.decision, reason=d.reason, test=d.test,
            flips=None if d.flips is None else list(d.flips), gated=d.gated,
            level=num(d.level), tolerance=d.tolerance,
        )

    def to_gate(self) -> GateDecision:
        def num(v: float | None) -> float:
            return math.nan if v is None else v

        return GateDecision(
            self.dataset, self.metric, self.n, num(self.baseline_mean), num(self.current_mean),
            num(self.diff), num(self.bound), num(self.p_value), num(self.p_adjusted),
            num(self.mde), self.decision, self.reason, self.test,
            None if self.flips is None else (self.flips[0], self.flips[1]),
            self.gated, num(self.level), self.tolerance,
        )


class FlipEntry(_Model):
    """A case whose verdict on a metric changed against the baseline."""

    dataset: str = Field(description="The eval test's node id.")
    case: str = Field(description="Case id.")
    variant: str = Field(description="Output variant.")
    metric: str = Field(description="Metric that flipped.")
    stage: str = Field(description="Stage behind the metric.")
    before: bool | float | str | None = Field(description="Baseline value (pass/fail or score).")
    after: bool | float | str | None = Field(description="Current value.")
    reason: str | None = Field(description="The judge's or check's reason for the current value.")
    output_excerpt: str | None = Field(description="The start of the current output.")

    @classmethod
    def from_flip(cls, f: Flip) -> FlipEntry:
        def value(v: FlipValue) -> FlipValue:
            return float(v) if isinstance(v, int) and not isinstance(v, bool) else v

        return cls(
            dataset=f.dataset, case=f.case, variant=f.variant, metric=f.metric, stage=f.stage,
            before=value(f.before), after=value(f.after), reason=f.reason,
            output_excerpt=f.output_excerpt,
        )

    def to_flip(self) -> Flip:
        """The flip as the reports read it (direction and severity are not in the file)."""
        return Flip(self.dataset, self.case, self.variant, self.metric, self.stage,
                    self.before, self.after, self.reason, self.output_excerpt)


class SettingsSummary(_Model):
    """The settings needed to interpret the results. Never holds a key or an endpoint."""

    judge: str = Field(description="Judge choice: auto, openai or offline.")
    judge_label: str = Field(description="Who gave the verdicts, in words (offline, lockfile).")
    model: str | None = Field(description="Judge model name (null for the offline judge).")
    cache: str = Field(description="Verdict cache mode.")
    alpha: float = Field(description="Significance level of the gate.")
    tolerance: float = Field(description="Default tolerance of the gate.")
    gate_mode: str = Field(description="superiority or non-inferiority.")
    seed: int = Field(description="Seed of random choices.")

    @classmethod
    def from_settings(cls, settings: Settings, judge_label: str) -> SettingsSummary:
        return cls(
            judge="offline" if settings.use_offline_judge else settings.judge,
            judge_label=judge_label,
            model=None if settings.use_offline_judge else settings.model,
            cache=settings.cache, alpha=settings.alpha, tolerance=settings.tolerance,
            gate_mode=settings.gate_mode, seed=settings.seed,
        )


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
        warnings=list(warnings), shard=shard,
    )


def to_json(document: ResultsDocument) -> str:
    """The document as stable JSON: sorted keys, two-space indent, a final newline."""
    data = document.model_dump(mode="json", exclude_none=False)
    for optional in ("created_at", "completeness", "shard"):  # left out unless known
        if data.get(optional) is None:
            data.pop(optional, None)
    # Only structured outputs and failed target calls add these: plain files stay as they were.
    for entry in [*data["cases"], *(c["baseline"] or {} for c in data["cases"]), *data["datasets"]]:
        for key, unset in (("structured", None), ("target_errors", 0), ("funnel", "")):
            if key in entry and entry[key] == unset:
                del entry[key]
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
