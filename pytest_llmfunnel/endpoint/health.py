"""What a failed judge request says about the endpoint, and when to stop asking it.

Every failed attempt becomes a :class:`Fault`: a short cause, whether a retry
can help, the server's own message and, for the faults that mean the endpoint
*as configured* cannot work, the fix that fits.

:class:`EndpointHealth` holds the fail-fast rule. Until the endpoint has
given one successful answer, a fault that says the configuration is wrong
ends the batch at once: every later request fails without being sent, with
the same one reason, so a dead endpoint costs seconds whatever the dataset
size. The faults that count:

* **401 / 403**: the key is wrong (a 403 that names the model: the model);
* **404**, or a 400/404/422 whose message says the model is unknown or
  invalid: the base URL or the model name;
* **connection refused, unknown host**: the base URL, or the server is not
  running; these must have lasted ``unreachable_after`` seconds, or one
  request must have used up its retries, so a server still starting gets a
  moment.

A model error ends only the requests for that model (a judge may name its
own); the others end every request. Once an answer arrived (for the model,
for a model error) the rule is off: the endpoint demonstrably works, so later
faults are handled as usual (401 and 404 are not retried, so they stay cheap).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypedDict

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.endpoint.formats import names_the_format
from pytest_llmfunnel.endpoint.retry import Clock
from pytest_llmfunnel.tallies import EndpointErrorJSON

Redact = Callable[[str], str]

Scope = Literal["endpoint", "model"]

_MODEL_ERROR = re.compile(
    r"model_not_found|invalid[ _]model|unknown[ _]model|no such model|model[ _]not[ _]found"
    r"|\bmodel\b[^.\n]{0,80}?\b(?:not found|does not exist|doesn't exist|is not valid"
    r"|is invalid|is unknown|is not available|not available|not supported|not exist)",
    re.IGNORECASE,
)
_MENTIONS_MODEL = re.compile(r"\bmodel\b", re.IGNORECASE)


class EndpointReport(TypedDict):
    """Why the endpoint was given up (``reasons``), the requests not sent, the first
    error of each cause (``errors``) and what was learned about it (``notes``)."""

    reasons: list[str]
    not_sent: int
    errors: dict[str, EndpointErrorJSON]
    notes: list[str]


@dataclass(frozen=True)
class Fault:
    """One failed attempt, classified.

    ``fix`` is set for faults that mean the endpoint as configured cannot
    work (see the module docs); ``scope`` says whether they concern the whole
    endpoint or one model; ``unreachable`` marks connection refused or an
    unknown host, which must last a moment before they count.
    """

    cause: str
    retryable: bool
    detail: str
    wait: float | None = None  # what the server asked for, if anything
    format_rejected: bool = False  # the error names the response format (see endpoint.formats)
    status: int | None = None  # the HTTP status, when there was one
    fix: str | None = None
    scope: Scope = "endpoint"
    unreachable: bool = False


def classify_status(
    code: int, message: str, *, base_url: str, model: str, wait: float | None,
    format_sent: bool,
) -> Fault:
    """The fault an HTTP error status with the server's ``message`` means.

    ``format_sent``: the request carried a ``response_format``; an error that
    names it is not retried as it is (see :mod:`pytest_llmfunnel.endpoint.formats`).
    """
    detail = f"HTTP {code}: {message}"
    if format_sent and names_the_format(code, message):
        return Fault("bad_request", False, detail, format_rejected=True)
    if code == 429:
        return Fault("rate_limited", True, detail, wait)
    if code == 408:
        return Fault("timeout", True, detail)
    if code == 409 or code >= 500:
        return Fault("server_error", True, detail, wait)
    model_fix = (
        f"check the model name {model!r} (--llm-funnel-model, or the judge's model=...): "
        f"is it one that {base_url} serves?"
    )
    if code in (401, 403):
        if code == 403 and _MENTIONS_MODEL.search(message):
            return Fault("auth", False, detail, fix=model_fix + " Does the key have access?",
                         scope="model")
        return Fault("auth", False, detail,
                     fix=f"check the API key (LLM_FUNNEL_API_KEY or OPENAI_API_KEY) for {base_url}")
    if code in (400, 404, 422) and _MODEL_ERROR.search(message):
        return Fault("bad_request", False, detail, fix=model_fix, scope="model")
    if code == 404:
        return Fault(
            "bad_request", False, detail,
            fix=f"check the base URL {base_url} (--llm-funnel-base-url; most servers "
            f"want it to end in /v1) and the model {model!r}",
        )
    return Fault("bad_request", False, detail)


def _same(text: str) -> str:
    return text


def server_message(body: object, fallback: str, *, redact: Redact = _same) -> str:
    """The error text an endpoint sent, from an OpenAI-shaped body or whatever it sent.

    Redacted before it is shortened: a key cut in two would escape redaction.
    """
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message: str = body["message"]
    elif isinstance(body, str):
        message = body
    elif isinstance(body, dict):  # not OpenAI-shaped, e.g. {"detail": ...}
        message = json.dumps(body, default=str)
    else:
        message = fallback
    return truncate(redact(message).strip(), 300) or "(no message)"


def connection_fault(exc: BaseException, *, base_url: str, redact: Redact = _same) -> Fault:
    """The fault of an attempt that got no HTTP answer at all (its detail redacted, then cut)."""
    chain = _chain(exc)
    refused = next((e for e in chain if isinstance(e, ConnectionRefusedError)), None)
    unknown = next((e for e in chain if isinstance(e, socket.gaierror)), None)
    if unknown is not None:
        detail = f"unknown host ({unknown.strerror or unknown})"
        fix = f"check the host name in the base URL {base_url} (--llm-funnel-base-url)"
        return Fault("connection", True, detail, fix=fix, unreachable=True)
    if refused is not None or any(type(e).__name__ == "ConnectError" for e in chain):
        reason = "connection refused" if refused is not None else "could not connect"
        cause = exc.__cause__
        if refused is None and cause is not None and str(cause):
            reason += f" ({type(cause).__name__}: {truncate(redact(str(cause)), 200)})"
        fix = (
            f"check the base URL {base_url} (--llm-funnel-base-url) and that the server "
            "is running"
        )
        return Fault("connection", True, reason, fix=fix, unreachable=True)
    cause = exc.__cause__
    if cause is not None and str(cause):
        shown = truncate(redact(str(cause)), 200)
        return Fault("connection", True, f"connection failed ({type(cause).__name__}: {shown})")
    return Fault("connection", True, "connection failed")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@dataclass(frozen=True)
class EndpointDown:
    """Why the endpoint (or one model on it) was given up: the fault and the fix."""

    cause: str
    detail: str
    fix: str
    scope: Scope
    model: str

    def describe(self, base_url: str) -> str:
        what = (
            f"the judge endpoint {base_url}"
            if self.scope == "endpoint"
            else f"the judge model {self.model!r} at {base_url}"
        )
        return f"{what} gave no usable answer ({self.detail}); {self.fix}"


class EndpointHealth:
    """The fail-fast rule for an endpoint that never answered (see the module docs).

    Args:
        unreachable_after: seconds connection failures must have lasted,
            counted from the start of the first failed attempt, before they
            end the batch.
        clock: monotonic seconds (tests inject a fake).
    """

    def __init__(self, *, unreachable_after: float = 2.0, clock: Clock = time.monotonic) -> None:
        self._unreachable_after = unreachable_after
        self._clock = clock
        self._answered_models: set[str] = set()
        self._failing_since: float | None = None
        self._down: EndpointDown | None = None
        self._down_models: dict[str, EndpointDown] = {}
        self.not_sent = 0

    @property
    def answered(self) -> bool:
        """Whether any request got a successful answer."""
        return bool(self._answered_models)

    def down_for(self, model: str) -> EndpointDown | None:
        """Why requests for ``model`` are no longer sent, or None."""
        return self._down or self._down_models.get(model)

    @property
    def downs(self) -> list[EndpointDown]:
        """Every reason given so far (the endpoint's first, then per model)."""
        return ([self._down] if self._down else []) + list(self._down_models.values())

    def now(self) -> float:
        return self._clock()

    def retry_wait(self, fault: Fault, wait: float) -> float:
        """``wait``, capped at half the window while connection failures are being timed.

        So the decision comes on time: with a doubling backoff, the attempt
        that would see the window pass could otherwise come many seconds late.
        """
        if fault.unreachable and not self.answered:
            return min(wait, self._unreachable_after / 2)
        return wait

    def succeeded(self, model: str) -> None:
        self._answered_models.add(model)
        self._failing_since = None

    def failed(
        self, fault: Fault, *, model: str, started: float, retries_left: bool
    ) -> EndpointDown | None:
        """Record a failed attempt begun at ``started``; the reason to stop, if it is one now."""
        known = self.down_for(model)
        if known is not None:
            return known
        if fault.fix is None:
            return None
        if fault.scope == "model":
            if model in self._answered_models:
                return None
        elif self.answered:
            return None
        if fault.unreachable:
            since = started if self._failing_since is None else min(self._failing_since, started)
            self._failing_since = since
            if retries_left and self._clock() - since < self._unreachable_after:
                return None
        down = EndpointDown(fault.cause, fault.detail, fault.fix, fault.scope, model)
        if fault.scope == "model":
            self._down_models[model] = down
        else:
            self._down = down
        return down

    def to_json(self, base_url: str) -> EndpointReport:
        """What a run reports once: each reason and how many requests were not sent."""
        return {"reasons": [d.describe(base_url) for d in self.downs], "not_sent": self.not_sent,
                "errors": {}, "notes": []}
