"""The per-case record, and the aggregation of records into a run's funnel counts.

A test item carries its case's :class:`CaseRecord` on its report, so the
controller process sees every case's result whether or not xdist ran the item
elsewhere; :class:`RunResult` is rebuilt from those records. The record is
the one structure every report, the gate, the review slice and the variants
read, from the funnel to the files.

The record is a frozen, slotted dataclass: a run keeps one per case (and one
per stage of it), so it must be small, and nothing reads it by string key.
It crosses two real boundaries, each through one explicit pair of functions:

* the xdist wire: a worker puts :meth:`CaseRecord.to_json` on the report, the
  controller reads it back with :meth:`CaseRecord.from_json`;
* the files (the JSON results, the baseline): the same pair, the file
  models in :mod:`pytest_llmfunnel.report.results_json` giving the format
  its documentation.

:meth:`CaseRecord.from_json` validates what it is given and names the field
that is unknown, missing or of the wrong type.

``status`` is one of ``passed``, ``failed``, ``measured`` (a scorer without a
threshold, or a pairwise comparison) and ``error`` (the stage could not decide;
never a pass or a fail).

A pairwise comparison (``pair`` set: the two variants compared, the one it
was made from first) appears on the records of both variants it compares,
its score from each variant's own point of view (+1 wins, 0 tie, -1 loses);
its requests, cache hits and tokens are counted on the first variant's record
only, so sums over records stay true. It is present on a dropped variant too
(a walkover: the promoted side wins without a request). Cache misses are not
on the records: they are counted per process
(:class:`pytest_llmfunnel.tallies.Tallies`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.models import (
    CaseResult,
    StageCounts,
    StageKind,
    StageResult,
    StageStatus,
    Usage,
)
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.record_json import BaselineJSON, CaseJSON, StageJSON
from pytest_llmfunnel.wording import plural

# A bound on one stage's reason, against a runaway judge answer: far above any
# real reasoning, so the reports show every reason whole (wrapped, never cut).
REASON_LIMIT = 8000
# Keys of the top-level record that its nested ``baseline`` does not repeat.
_OWN_KEYS = ("dataset", "path", "tags", "input", "funnel")


class RecordError(ValueError):
    """A record that cannot be read; the message names the field."""


@dataclass(frozen=True, slots=True)
class StageFacts:
    """What a stage of a funnel is, the same on every case: its scale and threshold."""

    scale: tuple[float, float] | None = None  # a rubric judge's score scale
    threshold: float | None = None  # the pass threshold in force, if the stage has one


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage's outcome on one case.

    ``threshold`` is the one the stage decided with (``None`` for a check, a
    measuring scorer or a pairwise judge), ``scale`` a rubric judge's score
    scale, ``pair`` the two variants a pairwise comparison compared (the one
    it was made from first), ``judge`` the judge's identity (model and prompt
    hash). ``requests``, ``cache_hits`` and the tokens count judge requests.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    stage: str
    kind: StageKind
    status: StageStatus
    gating: bool
    must: bool
    score: float | None
    samples: tuple[float, ...]
    reason: str
    judge: str | None
    requests: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    scale: tuple[float, float] | None = None
    threshold: float | None = None
    pair: tuple[str, str] | None = None
    reused: bool = False

    @property
    def pairwise(self) -> bool:
        return self.pair is not None

    @property
    def decided(self) -> bool:
        """A pass or a fail (not a measurement, not an error)."""
        return self.status in ("passed", "failed")

    def to_json(self) -> StageJSON:
        data: StageJSON = {
            "stage": self.stage, "kind": self.kind, "status": self.status,
            "gating": self.gating, "must": self.must, "score": self.score,
            "samples": self.samples, "reason": self.reason, "judge": self.judge,
            "scale": self.scale, "threshold": self.threshold,
            "requests": self.requests, "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
        }
        if self.pair is not None:  # only comparisons carry it: no key per rubric stage
            data["pair"] = self.pair
        if self.reused:  # only reused verdicts carry it
            data["reused"] = True
        return data


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One case (and variant) of one dataset, as the funnel left it.

    ``dataset`` is the eval test (its node id), ``path`` the dataset file
    relative to the rootdir, ``fingerprint`` the sha256 of the case's input,
    context and expected (not its output). ``output`` is ``None`` when the
    target failed (``error`` says why); ``dropped_at`` names the gating stage
    that stopped promotion; ``stages`` are in funnel order, those after a drop
    absent. ``baseline`` is the baseline's stored output re-evaluated with the
    current stages: a record of the same dataset, path, tags and input.
    ``input`` is the case's input as text (a chat input one ``role: content``
    line per message), so a report can show what the case asked. ``output`` is
    the output's text; ``structured`` the whole output when it carries more
    (chunks, tool calls, ...). ``target_errors`` counts the target calls that
    failed (a target error on its own, or some of several target repeats);
    ``repeat_outputs`` the digest of each target repeat's output, in repeat
    order, when the target was called more than once.
    ``funnel`` is the funnel's ``name=`` ("" without one): reports label the
    eval test with it.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    dataset: str
    path: str
    case: str
    variant: str
    fingerprint: str
    tags: tuple[str, ...]
    output: str | None
    promoted: bool
    dropped_at: str | None
    error: str | None
    stages: tuple[StageRecord, ...]
    baseline: CaseRecord | None = None
    structured: Output | None = None
    target_errors: int = 0
    input: str = ""
    repeat_outputs: tuple[str, ...] = ()
    funnel: str = ""

    def stage(self, name: str) -> StageRecord | None:
        """The outcome of the stage called ``name``, if the case reached it."""
        for s in self.stages:
            if s.stage == name:
                return s
        return None

    def to_json(self) -> CaseJSON:
        """The record as JSON-able data: the xdist wire form and the files' form.

        Arrays stay tuples (JSON writes them as arrays); the nested ``baseline``
        leaves out ``dataset``, ``path``, ``tags`` and ``input``, which are the record's own.
        """
        data: CaseJSON = {
            "dataset": self.dataset, "path": self.path, "tags": self.tags, "input": self.input,
            "case": self.case, "variant": self.variant, "fingerprint": self.fingerprint,
            "output": self.output, "promoted": self.promoted, "dropped_at": self.dropped_at,
            "error": self.error, "stages": [s.to_json() for s in self.stages],
            "baseline": None if self.baseline is None else self.baseline._own(),
        }
        self._extras(data)
        if self.funnel:  # only when named: an unnamed funnel's record keeps its form
            data["funnel"] = self.funnel
        return data

    def _own(self) -> BaselineJSON:
        data: BaselineJSON = {
            "case": self.case, "variant": self.variant, "fingerprint": self.fingerprint,
            "output": self.output, "promoted": self.promoted, "dropped_at": self.dropped_at,
            "error": self.error, "stages": [s.to_json() for s in self.stages],
        }
        self._extras(data)
        return data

    def _extras(self, data: BaselineJSON) -> None:
        # Only when set, so a plain output's record keeps the form it always had.
        if self.structured is not None:
            data["structured"] = self.structured.model_dump(mode="json", exclude_defaults=True)
        if self.target_errors:
            data["target_errors"] = self.target_errors
        if self.repeat_outputs:
            data["repeat_outputs"] = self.repeat_outputs

    @classmethod
    def from_json(cls, data: object) -> CaseRecord:
        """Read :meth:`to_json`'s form back, or raise :class:`RecordError` naming the field."""
        if not isinstance(data, Mapping):
            raise RecordError(f"a case record must be a JSON object, got {type(data).__name__}")
        baseline = data.get("baseline")
        if isinstance(baseline, Mapping):
            for key in _OWN_KEYS:
                if key in baseline:
                    raise RecordError(f"record field 'baseline.{key}': not expected in a "
                                      "baseline record (it is the record's own)")
            own = {key: data[key] for key in _OWN_KEYS if key in data}
            data = {**data, "baseline": {**baseline, **own}}
        try:
            return _adapter().validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"record field '{'.'.join(str(p) for p in e['loc'])}': {_message(e)}"
                for e in exc.errors()[:3]
            )
            raise RecordError(problems) from None


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "missing"
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown field"
    return f"{error['msg']}, got {error['input']!r}"


@functools.cache
def _adapter() -> TypeAdapter[CaseRecord]:
    # Built on first use: a run without xdist or files never reads a record back.
    return TypeAdapter(CaseRecord)


def build_record(
    result: CaseResult, dataset: str, *, path: str = "", fingerprint: str = "",
    tags: tuple[str, ...] = (), judges: Mapping[str, str] | None = None,
    facts: Mapping[str, StageFacts] | None = None, baseline: CaseRecord | None = None,
    input: str = "",
    funnel: str = "",
) -> CaseRecord:
    """The record of one case from the funnel's result.

    ``judges`` gives each judge stage's identity (model and prompt hash, see
    :func:`pytest_llmfunnel.gate.baseline_side.judge_identities`), ``facts``
    each stage's scale and threshold (see
    :func:`pytest_llmfunnel.gate.baseline_side.stage_facts`).
    """
    judges = judges or {}
    facts = facts or {}
    return CaseRecord(
        dataset=dataset,
        path=path,
        case=result.case_id,
        variant=result.variant,
        fingerprint=fingerprint,
        tags=tags,  # the case's own tuple, shared
        output=result.output,
        promoted=result.promoted,
        dropped_at=result.dropped_at,
        error=result.error,
        stages=tuple(_stage(s, judges, facts) for s in result.stages),
        baseline=baseline,
        structured=result.structured,
        target_errors=result.target_errors,
        input=input,
        repeat_outputs=result.repeat_outputs,
        funnel=funnel,
    )


_NO_FACTS = StageFacts()


def _stage(
    s: StageResult, judges: Mapping[str, str], facts: Mapping[str, StageFacts]
) -> StageRecord:
    v = s.verdict
    known = facts.get(s.stage, _NO_FACTS)
    return StageRecord(
        stage=s.stage,
        kind=s.kind,
        status=s.status,
        gating=s.gating,
        must=s.must,
        score=s.score,
        samples=v.samples if v else (),
        reason=_short(s.reason),
        judge=judges.get(s.stage) or (v.judge if v else None),
        requests=v.requests if v else 0,
        cache_hits=v.cache_hits if v else 0,
        prompt_tokens=v.usage.prompt_tokens if v else 0,
        completion_tokens=v.usage.completion_tokens if v else 0,
        scale=known.scale,  # one tuple per stage, shared by every record
        threshold=None if s.pair is not None else known.threshold,
        pair=s.pair,
        reused=bool(v and v.reused),
    )


def status_of(record: CaseRecord) -> str:
    """``ok``, ``llm-failed`` or ``llm-error`` for one record."""
    if record.error or any(s.status == "error" for s in record.stages):
        return "llm-error"
    if any(s.status == "failed" for s in record.stages):
        return "llm-failed"
    return "ok"


def describe_problems(record: CaseRecord) -> list[str]:
    """One line per failed or errored stage: what happened and why."""
    lines = []
    if record.error:
        lines.append(f"target: error: {record.error}")
    for s in record.stages:
        if s.status in ("failed", "error"):
            score = "" if s.score is None else f" (score {s.score:g})"
            lines.append(f"{s.stage}: {s.status}{score}: {s.reason}")
    return lines


def input_text(value: str | Sequence[Any]) -> str:
    """A case's input as a report shows it: the text, or one ``role: content`` line per message."""
    if isinstance(value, str):
        return value
    return "\n".join(f"{getattr(m, 'role', '')}: {getattr(m, 'content', m)}" for m in value)


def _short(text: str) -> str:
    return truncate(text, REASON_LIMIT, one_line=True)


@dataclass
class DatasetRun:
    """Funnel counts of one dataset (one eval test function) in one session."""

    name: str
    funnel: str = ""  # the funnel's name=, when given
    cases: int = 0
    promoted: int = 0
    errors: int = 0
    stages: dict[str, StageCounts] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # stage name → check/scorer/judge
    target_errors: int = 0  # target calls that failed (apart from judge and check errors)

    @property
    def judge_errors(self) -> int:  # judge stages that could not decide, over every case
        return sum(c.errors for n, c in self.stages.items() if self.kinds.get(n) == "judge")

    @property
    def failed_checks(self) -> int:  # check stages that failed, over every case
        return sum(c.failed for n, c in self.stages.items() if self.kinds.get(n) == "check")

    def target_error_note(self) -> str:
        """``"; 2 target errors (apart from 1 judge error, 3 failed checks)"``; "" without any."""
        if not self.target_errors:
            return ""
        return (f"; {plural(self.target_errors, 'target error')} (apart from "
                f"{plural(self.judge_errors, 'judge error')}, "
                f"{plural(self.failed_checks, 'failed check')})")

    def add(self, record: CaseRecord) -> None:
        self.cases += 1
        self.promoted += record.promoted
        self.errors += status_of(record) == "llm-error"
        self.target_errors += record.target_errors
        self.funnel = self.funnel or record.funnel
        for s in record.stages:
            counts = self.stages.setdefault(s.stage, StageCounts())
            self.kinds.setdefault(s.stage, s.kind)
            counts.cases_in += 1
            counts.passed += s.status in ("passed", "measured")
            counts.failed += s.status == "failed"
            counts.errors += s.status == "error"
            counts.requests += s.requests
            counts.cache_hits += s.cache_hits
            counts.reused += s.reused
            if s.prompt_tokens or s.completion_tokens:  # none on a cache hit
                counts.usage = counts.usage + Usage(
                    prompt_tokens=s.prompt_tokens, completion_tokens=s.completion_tokens
                )


@dataclass
class RunResult:
    """Every dataset's counts in a session, built from the per-case records."""

    datasets: dict[str, DatasetRun] = field(default_factory=dict)

    def add(self, record: CaseRecord) -> None:
        name = record.dataset
        self.datasets.setdefault(name, DatasetRun(name)).add(record)

    @classmethod
    def from_records(cls, records: Iterable[CaseRecord]) -> RunResult:
        run = cls()
        for record in records:
            run.add(record)
        return run

    @property
    def cases(self) -> int:
        return sum(d.cases for d in self.datasets.values())

    @property
    def errors(self) -> int:
        return sum(d.errors for d in self.datasets.values())

    @property
    def error_share(self) -> float:
        return self.errors / self.cases if self.cases else 0.0
