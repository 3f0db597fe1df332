"""The contract between judge stages and whatever answers them.

A judge stage renders a :class:`JudgeRequest` (the exact chat-completions body
it would send) and hands it to a :class:`JudgeBackend`: the OpenAI-compatible
client in :mod:`pytest_llmfunnel.endpoint.client`, or the offline reference judge in
:mod:`pytest_llmfunnel.funnel.offline_judge`. The cache sits between the two and is keyed
by :meth:`JudgeRequest.cache_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.models import Usage, sha256_json
from pytest_llmfunnel.output import Output


@dataclass(frozen=True)
class JudgeSubject:
    """The plain fields a request was rendered from.

    Not part of the cache key (the rendered ``body`` already contains them);
    the offline reference judge reads these instead of parsing its prompt.
    """

    criterion: str
    input: str
    output: str
    context: str | None = None
    expected: str | None = None
    scale_min: float = 1.0
    scale_max: float = 5.0
    # For a pairwise request: the second output, shown as "B".
    output_b: str | None = None
    # The whole output when it carries more than text (``output`` is its text).
    structured: Output | None = None


@dataclass(frozen=True)
class JudgeRequest:
    """Exactly what is sent: the chat-completions ``body``, where, and which repeat.

    ``output_digest`` is :meth:`Output.digest` of a structured output judged
    (of both, for a comparison), ``None`` for plain text: a verdict is about
    the whole output, so a changed chunk or tool call is a new key even when
    the judge's prompt shows only the text. A plain output's key is the
    body's alone, as it always was (existing caches and lockfiles stay valid).
    """

    body: JSONObject
    base_url: str
    repeat: int = 0
    subject: JudgeSubject | None = field(default=None, compare=False)
    output_digest: str | None = None

    def cache_key(self) -> str:
        """sha256 of the body, the base URL, the repeat index (and output digest); no secret."""
        keyed = {"body": self.body, "base_url": self.base_url, "repeat": self.repeat}
        if self.output_digest is not None:
            keyed["output"] = self.output_digest
        return sha256_json(keyed)


def outputs_digest(*outputs: Output) -> str | None:
    """The ``output_digest`` of a request over ``outputs``: ``None`` when none has structure."""
    if not any(o.has_structure for o in outputs):
        return None
    if len(outputs) == 1:
        return outputs[0].digest()
    return sha256_json([o.digest() for o in outputs])


@dataclass(frozen=True)
class Completion:
    """What came back for one request, before parsing."""

    content: str | None
    finish_reason: str | None
    usage: Usage
    model: str


class JudgeCallError(Exception):
    """A request that did not succeed after all retries; ``cause`` is a short label."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


class JudgeBackend(Protocol):
    """Something that answers judge requests."""

    @property
    def identity(self) -> str:
        """A human-readable name that appears on every verdict (never a secret)."""

    @property
    def base_url(self) -> str:
        """The endpoint, part of every cache key (``offline://reference`` offline)."""

    @property
    def model(self) -> str: ...

    @property
    def supports_json_schema(self) -> bool: ...

    async def complete(self, request: JudgeRequest) -> Completion:
        """Send one request, retrying transient faults; raise JudgeCallError at the end."""


class CachedAnswer(BaseModel):
    """A judge's parsed answer as stored in the cache and the lockfile.

    Pass/fail is never stored: it is derived from ``score`` and the threshold in
    force when the answer is read, so changing a threshold costs nothing.
    """

    model_config = ConfigDict(frozen=True)

    score: float
    reasoning: str = ""
    usage: Usage = Usage()
    model: str = ""
    judge: str = ""


class CacheMissError(Exception):
    """Replay-only mode found no cached answer for a request."""


class AnswerStore(Protocol):
    """Where parsed answers are cached (see :mod:`pytest_llmfunnel.store.verdict_cache`)."""

    def get(self, request: JudgeRequest, *, case_id: str, stage: str) -> CachedAnswer | None:
        """The cached answer, or None on a miss; raises CacheMissError in replay-only mode."""

    def put(
        self, request: JudgeRequest, answer: CachedAnswer, *, case_id: str, stage: str
    ) -> None:
        """Store a successfully parsed answer (never an error)."""


class NullStore:
    """A store that never hits and keeps nothing (cache mode ``off``)."""

    def get(self, request: JudgeRequest, *, case_id: str, stage: str) -> CachedAnswer | None:
        return None

    def put(
        self, request: JudgeRequest, answer: CachedAnswer, *, case_id: str, stage: str
    ) -> None:
        return None
