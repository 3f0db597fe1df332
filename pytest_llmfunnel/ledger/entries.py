"""The ledger's lines: an offline run of one eval test and variant, or an online outcome.

A ledger is JSON Lines, one entry per line, keys in a stable (sorted) order
so two branches that each append merge as plain added lines. Each line names
its ``kind`` and the ``schema`` version it was written with; a reader refuses
a newer schema by name instead of misreading it.

Schema 2 records the variant ranking's outcome (``outcome``: control,
non-inferior, clearly worse or undecided; per metric the stated ``margin``
and the cases a tighter one needs) where schema 1 wrote a place (``ranking``:
best, candidate or discarded). Schema 1 lines are still read as they were.

Secrets have no field here: the judge is named by model and prompt version
(a hash of the request it sends), never by its endpoint or key.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSION = 2
# The ranking's word for a variant (variants.outcomes.Outcome), and which of them
# deserve an online experiment: "promoted offline".
OUTCOMES = ("control", "non-inferior", "undecided", "clearly worse")
PROMOTING = ("control", "non-inferior")
Decision = Literal["win", "loss", "flat"]
DECISIONS: tuple[Decision, ...] = ("win", "loss", "flat")


class LedgerError(ValueError):
    """A ledger line or file that cannot be read; the message names file and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricEntry(_Strict):
    """One metric of a run: its value with a 95% interval, and what the gate or ranking said.

    ``diff`` is this run minus ``against`` (``baseline``, or the variant it was
    ranked against), the difference the gate or the ranking decided on. Against
    a variant, ``decision`` is the ranking's verdict on this metric
    (non-inferior, clearly worse or undecided), ``margin`` the margin it was
    decided at (in the metric's units), ``cases_needed`` the cases the
    tolerance would need when the margin is wider, and ``decide_at`` the cases
    that would decide an undecided one.
    """

    name: str
    kind: Literal["binary", "score"]
    gated: bool
    n: int
    value: float | None
    low: float | None
    high: float | None
    diff: float | None = None
    against: str | None = None
    decision: str | None = None
    margin: float | None = None
    cases_needed: int | None = None
    decide_at: int | None = None


class Cost(_Strict):
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None


class RunEntry(_Strict):
    """One eval test and variant in one ``--llm-funnel`` run."""

    kind: Literal["run"] = "run"
    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")
    run_id: str
    time: str  # ISO 8601, UTC
    commit: str | None
    branch: str | None
    test: str  # the eval test (dataset key)
    variant: str
    cases: int
    dataset_fingerprint: str
    judges: dict[str, str]  # judge stage -> "model · prompt <hash>"
    metrics: list[MetricEntry]
    decision: str  # the gate's word for this test: passed, regressed, not comparable, ...
    ranking: str | None = None  # schema 1 only: best, candidate or discarded
    # The ranking's outcome, when the test has variants (schema 2), against ``control``.
    outcome: Literal["control", "non-inferior", "undecided", "clearly worse"] | None = None
    control: str | None = None
    promoted: bool | None  # passed the gate / deserves an online experiment; None: not decided
    cost: Cost
    duration: float  # seconds, of the whole run

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def metric(self, name: str) -> MetricEntry | None:
        return next((m for m in self.metrics if m.name == name), None)

    @property
    def offline(self) -> str:
        """What the offline funnel said: the ranking's outcome, else promoted or not."""
        if self.outcome is not None:
            return self.outcome
        return {True: "promoted", False: "not promoted", None: "not decided"}[self.promoted]

    @property
    def margin(self) -> float | None:
        """The widest margin a ranking comparison of this entry was decided at."""
        return max((m.margin for m in self.metrics if m.margin is not None), default=None)

    @property
    def cases_needed(self) -> int | None:
        """The most cases one of its comparisons would need at the tolerance."""
        return max((m.cases_needed for m in self.metrics if m.cases_needed is not None),
                   default=None)


class OnlineEntry(_Strict):
    """What an online A/B experiment found for one variant."""

    kind: Literal["online"] = "online"
    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")
    run_id: str  # this line's own id (dedup across merged files)
    time: str
    variant: str
    experiment: str
    metric: str
    effect: float
    low: float | None = None
    high: float | None = None
    decision: Decision
    test: str | None = None  # the eval test, when a variant name is used by several
    control: str | None = None  # the variant the experiment compared against

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Entry = Annotated[RunEntry | OnlineEntry, Field(discriminator="kind")]
_ENTRY: TypeAdapter[RunEntry | OnlineEntry] = TypeAdapter(Entry)


def to_line(entry: RunEntry | OnlineEntry) -> str:
    """One entry as one JSON line (with its newline), keys sorted, no spaces to diff on."""
    data = entry.model_dump(mode="json", by_alias=True)
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def from_line(text: str) -> RunEntry | OnlineEntry:
    """Parse one line; raise :class:`LedgerError` with what is wrong (no file or line yet)."""
    try:  # the fast path: pydantic parses and validates in one go (a long ledger is read whole)
        entry = _ENTRY.validate_json(text)
    except ValidationError:
        pass  # say what is wrong, below
    else:
        if entry.schema_ <= SCHEMA_VERSION:
            return entry
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LedgerError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise LedgerError("not a JSON object")
    version = data.get("schema")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise LedgerError(
            f"written with ledger schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}: upgrade pytest-llmfunnel"
        )
    try:
        return _ENTRY.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the line"
        raise LedgerError(f"{where}: {first['msg']}") from None
