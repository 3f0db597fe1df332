"""The data that crosses module boundaries: cases, verdicts and results.

Pydantic models are used where data crosses a boundary (dataset rows, judge
answers, files on disk); frozen dataclasses for what only lives in memory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool", "developer"]


class ChatMessage(BaseModel):
    """One message of a chat-style input."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class Case(BaseModel):
    """One row of a dataset.

    ``outputs`` holds pre-logged outputs by variant name: a plain ``output``
    column becomes the variant ``"default"``; columns ``output_<name>`` become
    variant ``<name>``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    input: str | tuple[ChatMessage, ...]
    expected: str | None = None
    context: str | None = None
    outputs: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()

    @property
    def output(self) -> str | None:
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
        payload = {
            "input": self.input
            if isinstance(self.input, str)
            else [m.model_dump() for m in self.input],
            "context": self.context,
            "expected": self.expected,
        }
        return sha256_json(payload)


class Usage(BaseModel):
    """Token usage of one or more judge requests."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Verdict(BaseModel):
    """What a judge says about one output on one criterion.

    ``error`` set means the judge could not give a verdict: ``score`` and
    ``passed`` are then ``None`` and the case counts neither as pass nor fail.
    """

    model_config = ConfigDict(frozen=True)

    criterion: str
    judge: str
    score: float | None = None
    passed: bool | None = None
    reasoning: str = ""
    samples: tuple[float, ...] = ()
    usage: Usage = Field(default_factory=Usage)
    requests: int = 0
    cache_hits: int = 0
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return self.error is not None


StageKind = Literal["check", "scorer", "judge"]
StageStatus = Literal["passed", "failed", "measured", "error"]


@dataclass(frozen=True)
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

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class CaseResult:
    """All stage results for one case and variant.

    ``dropped_at`` names the gating stage that stopped promotion; ``None`` for a
    promoted case. ``error`` is set when no output could be produced (a target
    that raised or timed out).
    """

    case_id: str
    variant: str
    output: str | None
    stages: tuple[StageResult, ...]
    promoted: bool
    dropped_at: str | None = None
    error: str | None = None

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


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form every hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
