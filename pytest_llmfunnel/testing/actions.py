"""Scripted answers for the loopback judge server: what it does with one request.

An :class:`Action` is one answer (a completion, an HTTP error, a hang, a
dropped connection); the helpers build the kinds real endpoints produce, so a
test reads as the sequence of events it stages::

    srv.script([status(429, retry_after=0.1), truncated(), verdict(5)])

:func:`hashed_verdicts` is a default answer for many cases at once, and
:func:`completion_body` is the ``chat.completion`` object a non-error answer
becomes. Kept apart from the server so a script can be built, and a body
checked, without starting one.

Standard library only, so it runs wherever the package does.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pytest_llmfunnel.jsontypes import JSONObject

ActionKind = Literal["ok", "status", "hang", "close", "empty_choices"]
DEFAULT_CONTENT = '{"reasoning": "ok", "score": 4}'


@dataclass(frozen=True)
class Action:
    """What the server does with one chat-completions request (build with the helpers)."""

    kind: ActionKind
    content: str | None = DEFAULT_CONTENT
    finish_reason: str = "stop"
    status: int = 200
    retry_after: float | str | None = None
    retry_after_ms: float | None = None
    message: str = ""
    seconds: float = 0.0


def ok(content: str | None = DEFAULT_CONTENT, finish_reason: str = "stop") -> Action:
    """A normal completion with ``content``."""
    return Action("ok", content=content, finish_reason=finish_reason)


def verdict(score: float, reasoning: str = "ok") -> Action:
    """A completion whose content is the JSON verdict ``{"reasoning", "score"}``."""
    return ok(json.dumps({"reasoning": reasoning, "score": score}))


def status(
    code: int,
    retry_after: float | str | None = None,
    *,
    retry_after_ms: float | None = None,
    message: str = "",
) -> Action:
    """An HTTP error with an OpenAI-style error body and optional Retry-After headers."""
    return Action(
        "status",
        status=code,
        retry_after=retry_after,
        retry_after_ms=retry_after_ms,
        message=message or f"simulated HTTP {code}",
    )


def hang(seconds: float, then: str | None = DEFAULT_CONTENT) -> Action:
    """Send nothing for ``seconds`` (to trip a read timeout), then answer ``then``."""
    return Action("hang", content=then, seconds=seconds)


def close() -> Action:
    """Drop the connection without sending any response."""
    return Action("close")


def truncated() -> Action:
    """A completion cut off by the token limit: ``finish_reason="length"``, half a JSON."""
    return ok('{"reasoning": "the answer starts well but', finish_reason="length")


def garbage(content: str = "not json") -> Action:
    """A well-formed completion whose content is not the JSON the judge asked for."""
    return ok(content)


def empty_choices() -> Action:
    """A well-formed completion with an empty ``choices`` list."""
    return Action("empty_choices")


def hashed_verdicts(low: int = 1, high: int = 5) -> Callable[[JSONObject], Action]:
    """A default answer whose score is a hash of the last user message, in ``[low, high]``.

    Deterministic, so a repeated prompt always gets the same score, and spread
    over the scale, so statistics over many cases are not degenerate.
    """

    def answer(body: JSONObject) -> Action:
        text = last_user_message(body)
        digest = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)
        return verdict(low + digest % (high - low + 1), reasoning="hashed")

    return answer


def random_verdicts(
    seed: int, low: int = 1, high: int = 5
) -> Callable[[JSONObject], Action]:
    """A default answer whose score is a seeded random draw in ``[low, high]``.

    A noisy judge: the same prompt asked twice may get different scores, as
    from a real model sampling at a temperature above zero. The draws are one
    seeded sequence, so a test that sends its requests in a fixed order sees
    the same scores on every run. Like an endpoint that enforces structured
    output, it answers only scores the request's schema admits: when the
    schema lists the allowed scores (``enum``), the draw is one of them.
    """
    rng = random.Random(seed)
    lock = threading.Lock()

    def answer(body: JSONObject) -> Action:
        allowed = _allowed_scores(body)
        with lock:
            score = rng.choice(allowed) if allowed else rng.randint(low, high)
        return verdict(score, reasoning="random")

    return answer


def _allowed_scores(body: JSONObject) -> list[Any]:
    """The ``enum`` of the ``score`` property in a ``json_schema`` response format, if any."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    score = (schema.get("properties") or {}).get("score") or {}
    allowed = score.get("enum")
    return list(allowed) if isinstance(allowed, list) else []


def last_user_message(body: JSONObject) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


# What ``JudgeServer(fault_rate=...)`` answers at random: faults a client should retry.
TRANSIENT_FAULTS = (status(429), status(429, retry_after=0), status(500), status(502), status(503))


def completion_body(body: JSONObject, action: Action) -> JSONObject:
    """A chat.completion object answering ``body`` as ``action`` says."""
    content = action.content or ""
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    completion_tokens = max(1, len(content) // 4)
    choices = [
        {
            "index": 0,
            "message": {"role": "assistant", "content": action.content},
            "finish_reason": action.finish_reason,
            "logprobs": None,
        }
    ]
    return {
        "id": f"chatcmpl-{hashlib.sha256(content.encode()).hexdigest()[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or "test-judge"),
        "choices": [] if action.kind == "empty_choices" else choices,
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_words + completion_tokens,
        },
    }


# -- what real servers answered (recorded; see benchmarks/real_endpoints.py) --------
# llama-cpp-python's server answers ``response_format: json_schema`` with a 500.
LLAMA_CPP_PYTHON_SCHEMA_ERROR = status(500, message="response_format not supported")
_LITELLM_TAIL = (
    "\n\nLiteLLM: model group 'judge' failed with the error above. No fallback was attempted."
)


def litellm_upstream(code: int, message: str) -> Action:
    """The error LiteLLM's proxy returns when the server behind it failed with ``message``.

    The proxy keeps the status of 400, 404 and 500 answers and wraps the text.
    """
    kind = {400: "BadRequestError", 404: "NotFoundError"}.get(code, "InternalServerError")
    prefix = f"litellm.{kind}: " + ("InternalServerError: " if code >= 500 else "")
    return status(code, message=f"{prefix}OpenAIException - {message}{_LITELLM_TAIL}")


def litellm_cooldown() -> Action:
    """LiteLLM's 429 once the server behind it failed and is cooling down (no Retry-After)."""
    return status(
        429,
        message="No deployments available for selected model, Try again in 5 seconds. All "
        "deployments for selected model are in cooldown. Passed model=judge.",
    )


def litellm_no_db() -> Action:
    """LiteLLM's answer to an unknown key when the proxy runs without a database."""
    return status(400, message="No connected db.")
