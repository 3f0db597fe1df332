"""The data that crosses module boundaries: cases, verdicts and results.

Pydantic models are used where data crosses a boundary (dataset rows, judge
answers, files on disk); frozen dataclasses for what only lives in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The hashing helpers and Role live a layer down (output.py needs them too);
# they are re-exported here, where the rest of the package has always found them.
from pytest_llmfunnel.jsontypes import canonical_json as canonical_json
from pytest_llmfunnel.jsontypes import sha256_json as sha256_json
from pytest_llmfunnel.jsontypes import sha256_text as sha256_text
from pytest_llmfunnel.output import Output, ToolCall
from pytest_llmfunnel.output import Role as Role

# One set of field names per combination given, shared by the instances of
# frozen models (see _FrozenModel).
_GIVEN_FIELDS: dict[frozenset[str], set[str]] = {}


class _FrozenModel(BaseModel):
    """A frozen model whose instances share the set of field names they were given.

    Pydantic keeps, on every instance, the set of fields given explicitly (it
    serves ``model_dump(exclude_unset=True)``): 730 bytes once five or more
    are given, about half of what a case costs beyond its text, and a run
    keeps a Case and a Verdict per case. A frozen instance never changes that
    set, so all instances given the same fields can point at one.
    """

    model_config = ConfigDict(frozen=True)

    def model_post_init(self, context: Any, /) -> None:
        given = self.__pydantic_fields_set__
        shared = _GIVEN_FIELDS.setdefault(frozenset(given), given)
        if shared is not given:
            object.__setattr__(self, "__pydantic_fields_set__", shared)


class ChatMessage(_FrozenModel):
    """One message of a chat-style input."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class Turn(_FrozenModel):
    """One scripted user turn of a conversation case, with what its reply should hold.

    ``expected`` is the reply's reference text and ``expected_tool_calls`` the
    calls the reply should make; a per-turn stage sees them as the turn's own
    ``expected`` and ``expected_tool_calls`` metadata.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    expected: str | None = None
    expected_tool_calls: tuple[ToolCall, ...] | None = None


class Case(_FrozenModel):
    """One row of a dataset.

    ``outputs`` holds pre-logged outputs by variant name: a plain ``output``
    column becomes the variant ``"default"``; columns ``output_<name>`` become
    variant ``<name>``. An output is a string, or an :class:`Output` when it
    carries more than text (an ``Output`` with only ``text`` is kept as its
    string, so a plain output is the same whichever way it was written).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    input: str | tuple[ChatMessage, ...]
    expected: str | None = None
    context: str | None = None
    outputs: dict[str, str | Output] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # A conversation: the scripted user turns, and what the user wants from it.
    turns: tuple[Turn, ...] = ()
    goal: str | None = None

    @field_validator("outputs")
    @classmethod
    def _plain_as_text(cls, value: dict[str, str | Output]) -> dict[str, str | Output]:
        if all(isinstance(v, str) for v in value.values()):
            return value
        return {k: v.text if isinstance(v, Output) and v.is_plain else v for k, v in value.items()}

    @property
    def output(self) -> str | Output | None:
        """The pre-logged output of the default (or only) variant, if any."""
        if "default" in self.outputs:
            return self.outputs["default"]
        if len(self.outputs) == 1:
            return next(iter(self.outputs.values()))
        return None

    def input_text(self) -> str:
        """The input as plain text (chat messages rendered ``role: content``)."""
        if isinstance(self.input, str):
            return self.input
        return "\n".join(f"{m.role}: {m.content}" for m in self.input)

    def fingerprint(self) -> str:
        """sha256 of what defines the case (input, context, expected), not its output."""
        payload: dict[str, object] = {
            "input": self.input
            if isinstance(self.input, str)
            else [m.model_dump() for m in self.input],
            "context": self.context,
            "expected": self.expected,
        }
        if self.turns or self.goal is not None:
            # Only conversations add these, so other cases keep their fingerprints.
            payload["turns"] = [t.model_dump(exclude_defaults=True) for t in self.turns]
            payload["goal"] = self.goal
        return sha256_json(payload)


class Usage(_FrozenModel):
    """Token usage of one or more judge requests."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        # Cache hits add nothing: keep one object instead of a new one per case.
        if not (other.prompt_tokens or other.completion_tokens):
            return self
        if not (self.prompt_tokens or self.completion_tokens):
            return other
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


#: No tokens: the usage of a cache hit (shared, as Usage is immutable).
NO_USAGE = Usage()


class Verdict(_FrozenModel):
    """What a judge says about one output on one criterion.

    ``error`` set means the judge could not give a verdict: ``score`` and
    ``passed`` are then ``None`` and the case counts neither as pass nor fail.
    """

    criterion: str
    judge: str
    score: float | None = None
    passed: bool | None = None
    reasoning: str = ""
    samples: tuple[float, ...] = ()
    usage: Usage = NO_USAGE
    requests: int = 0
    cache_hits: int = 0
    error: str | None = None
    reused: bool = False  # the baseline's stored verdict of this same output, not asked

    @property
    def is_error(self) -> bool:
        return self.error is not None


StageKind = Literal["check", "scorer", "judge"]
StageStatus = Literal["passed", "failed", "measured", "error"]


# Results are slotted: a run holds one per stage and case, many at once.
@dataclass(frozen=True, slots=True)
class StageResult:
    """The outcome of one stage on one case.

    ``status`` is ``measured`` for a scorer that only measures; ``error`` when
    the stage could not decide (a judge error, a user callable that raised).
    """

    stage: str
    kind: StageKind
    status: StageStatus
    gating: bool
    score: float | None = None
    reason: str = ""
    verdict: Verdict | None = None
    must: bool = False
    # A pairwise comparison: the two variants compared, the one it was made from first.
    pair: tuple[str, str] | None = None

    @property
    def passed(self) -> bool:
        """True only for a pass: a failure, an error or a measurement is not one."""
        return self.status == "passed"

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """All stage results for one case and variant.

    ``dropped_at`` names the gating stage that stopped promotion; ``None`` for a
    promoted case. ``error`` is set when no output could be produced (a target
    that raised, timed out or returned something that is not an output).
    ``output`` is the output's text; ``structured`` the whole :class:`Output`
    when it has more than text.
    """

    case_id: str
    variant: str
    output: str | None
    stages: tuple[StageResult, ...]
    promoted: bool
    dropped_at: str | None = None
    error: str | None = None
    # The whole output when it carries more than text (``output`` is its text).
    structured: Output | None = None
    # How many target calls failed for this case (each repeat is a call).
    target_errors: int = 0
    # With target repeats: Output.digest() of each repeat's output, in repeat order.
    repeat_outputs: tuple[str, ...] = ()

    @property
    def whole_output(self) -> Output | None:
        """The output with its structure (``None`` when no output was produced)."""
        if self.structured is not None:
            return self.structured
        return None if self.output is None else Output(text=self.output)

    @property
    def failed_stages(self) -> tuple[StageResult, ...]:
        return tuple(s for s in self.stages if s.status == "failed")

    @property
    def error_stages(self) -> tuple[StageResult, ...]:
        return tuple(s for s in self.stages if s.status == "error")

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed_stages and not self.error_stages

    def stage(self, name: str) -> StageResult | None:
        for result in self.stages:
            if result.stage == name:
                return result
        return None


@dataclass
class StageCounts:
    """Funnel counts for one stage over one run."""

    cases_in: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    requests: int = 0
    cache_hits: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    reused: int = 0  # verdicts reused from the baseline (unchanged output, same judge)


