"""The OpenAI-compatible judge backend: limits, retries, timeouts and redaction.

Built on the official ``openai`` SDK with its own retries switched off
(``max_retries=0``): we retry here so that a 429 slows the whole pool through
an :class:`~pytest_llmfunnel.endpoint.retry.AdaptiveLimiter`, ``Retry-After`` is
honoured, and every attempt is counted.

Response formats. What ``response_format`` goes out, and the ``auto``
fallback when an endpoint refuses one, live in
:mod:`pytest_llmfunnel.endpoint.formats`; the backend applies the choice to
every body it sends and answers ``supports_json_schema`` from it. The first
error of each kind is kept (:mod:`pytest_llmfunnel.endpoint.notices`) for the
session summary, beside the format note.

Nothing from the endpoint carries the API key further: answer content, the
model name and every fault detail pass through one
:class:`~pytest_llmfunnel.redact.Redactor` as they arrive, and error messages
are built here (not copied from the SDK exception, which is also not chained).

A dead endpoint fails fast (the rule is in :mod:`pytest_llmfunnel.endpoint.health`), and a
request presumed hung (:class:`~pytest_llmfunnel.endpoint.retry.StallEstimate`) stops counting
against the concurrency limit, so hung requests do not hold up the rest.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import replace
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from pytest_llmfunnel.endpoint.backoff import backoff_delay
from pytest_llmfunnel.endpoint.backoff import retry_after_seconds as _retry_after
from pytest_llmfunnel.endpoint.formats import FormatChoice, ResponseFormat
from pytest_llmfunnel.endpoint.health import (
    EndpointDown,
    EndpointHealth,
    EndpointReport,
    Fault,
    classify_status,
    connection_fault,
    server_message,
)
from pytest_llmfunnel.endpoint.identity import EndpointIdentity
from pytest_llmfunnel.endpoint.notices import ErrorLog
from pytest_llmfunnel.endpoint.retry import (
    AdaptiveLimiter,
    BackendStats,
    Clock,
    LimiterClosed,
    Sleep,
    StallEstimate,
    StopSignal,
)
from pytest_llmfunnel.endpoint.wire import ClientPerLoop, completion_from
from pytest_llmfunnel.funnel.backend import Completion, JudgeCallError, JudgeRequest
from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.redact import Redactor
from pytest_llmfunnel.redact import redact as redact  # its former home
from pytest_llmfunnel.wording import plural


class OpenAIJudgeBackend(EndpointIdentity):
    """A :class:`~pytest_llmfunnel.funnel.backend.JudgeBackend` for any OpenAI-compatible endpoint.

    Args:
        model: the model name; filled into bodies that do not name one.
        base_url: the endpoint, e.g. ``https://api.openai.com/v1``.
        api_key: the key (the caller reads it from the environment); never logged.
        timeout: seconds per attempt.
        max_retries: retries after the first attempt for transient faults.
        concurrency: the most requests in flight at once.
        min_concurrency: the floor 429s cannot push the limit below (default: a quarter).
        max_concurrency: the most the limit grows to while the endpoint keeps up
            (default: ``concurrency``, no growth; see :class:`AdaptiveLimiter`).
        backoff_base: first backoff ceiling in seconds (doubles per retry, full jitter).
        backoff_max: largest backoff ceiling.
        max_wait: cap on a server-requested ``Retry-After``.
        recover_after: successes per +1 step of the limit after a 429.
        stall_after: seconds after which a request in flight stops counting
            against the limit (default: estimated from recent answers, at
            most half of ``timeout``).
        unreachable_after: seconds connection failures must last, with no
            answer yet, before the endpoint is given up.
        json_schema: False to send JSON mode from the start (``response_format``
            ``json_object``; kept for callers that predate ``response_format``).
        response_format: ``auto``, ``json_schema``, ``json_object`` or ``prompt``
            (see :mod:`pytest_llmfunnel.endpoint.formats`).
        seed: seed for the jitter (tests).
        clock, sleep: monotonic time and the backoff sleep (tests inject fakes).
        wall_clock: seconds since the epoch, to read a ``Retry-After`` HTTP date.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 6,
        concurrency: int = 16,
        min_concurrency: int | None = None,
        max_concurrency: int | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_wait: float = 60.0,
        recover_after: int = 8,
        stall_after: float | None = None,
        unreachable_after: float = 2.0,
        json_schema: bool = True,
        response_format: ResponseFormat = "auto",
        seed: int | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._redact = Redactor.for_key(api_key, model=model, base_url=self._base_url)
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_wait = max_wait
        if not json_schema and response_format in ("auto", "json_schema"):
            response_format = "json_object"
        self.formats = FormatChoice(response_format)
        self.errors = ErrorLog()
        self._rng = random.Random(seed)
        self._clock = clock or time.monotonic
        self.stall = StallEstimate(stall_after or timeout / 2, minimum=stall_after or 0.5)
        self._sleep = sleep
        self._wall_clock = wall_clock or time.time
        self.limiter = AdaptiveLimiter(
            concurrency, floor=min_concurrency, recover_after=recover_after,
            ceiling=max_concurrency,
        )
        self.health = EndpointHealth(unreachable_after=unreachable_after, clock=self._clock)
        self._stop = StopSignal()
        self._clients = ClientPerLoop(self._base_url, api_key, timeout)
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self._failures = 0

    # -- JudgeBackend (identity, base_url and model: EndpointIdentity) ------------
    @property
    def supports_json_schema(self) -> bool:
        """Whether judges render ``json_schema`` bodies: False only for a fixed simpler format.

        A step down under ``auto`` rewrites bodies on the wire instead, so keys stay put.
        """
        return self.formats.json_schema

    @property
    def stats(self) -> BackendStats:
        return BackendStats(
            requests=self._requests,
            retries=self._retries,
            rate_limited=self._rate_limited,
            failures=self._failures,
            max_in_flight=self.limiter.max_in_flight,
            current_limit=self.limiter.current,
        )

    def __repr__(self) -> str:
        return f"OpenAIJudgeBackend({self.identity!r})"

    def stop(self) -> None:
        """Let no new attempt start; waiting calls raise ``JudgeCallError("cancelled")``.

        Safe to call from any thread (a signal handler, a pytest hook). Requests
        already on the wire finish normally.
        """
        self._stop.set()
        self.limiter.close()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    async def aclose(self) -> None:
        """Close the HTTP connection pool of the current event loop."""
        await self._clients.aclose()

    async def complete(self, request: JudgeRequest) -> Completion:
        """Send ``request.body`` as-is; retry transient faults; raise JudgeCallError at the end."""
        body = dict(request.body)
        body.setdefault("model", self._model)
        if body.get("stream"):
            raise JudgeCallError("bad_request", "judge requests cannot stream; drop 'stream'")
        model = str(body["model"])
        retries = 0
        format_retries = 0  # resends in a simpler format; free of the retry budget
        attempted = False
        while True:
            self._check_usable(model, sent_before=attempted)
            sent = self.formats.adapt(body)
            started = self.health.now()
            fault, completion = await self._attempt(sent, model, sent_before=attempted)
            attempted = True
            if fault is not None:  # before it can reach a message, or a traceback's locals
                fault = replace(fault, detail=self._redact(fault.detail))
            if completion is not None:
                self.formats.accepted(sent)
                return completion
            assert fault is not None
            if fault.status is not None and format_retries < 2 and self.formats.rejected(
                sent, fault.status, fault.detail
            ):
                format_retries += 1
                continue
            if fault.format_rejected and fault.fix is None:
                fault = replace(fault, fix=self.formats.fix(sent, fault.status or 0, fault.detail))
            attempts = retries + 1 + format_retries
            retries_left = fault.retryable and retries < self._max_retries
            down = self.health.failed(
                fault, model=model, started=started, retries_left=retries_left
            )
            if down is not None:
                self._failures += 1
                self._stop.ring()  # requests sleeping before a retry end now
                self.limiter.wake_all()  # and so do those waiting for a slot
                raise self._failed(down.cause, self._down_message(down, attempts), fault)
            if not retries_left:
                self._failures += 1
                raise self._failed(fault.cause, self._message(fault, attempts), fault)
            wait = self.health.retry_wait(fault, self._wait_for(fault, retries))
            retries += 1
            self._retries += 1
            await self._pause(wait, model)

    # -- internals -------------------------------------------------------------
    def _failed(self, cause: str, message: str, fault: Fault) -> JudgeCallError:
        """The error ending a request; its kind's first server message is kept for the summary."""
        self.errors.record(cause, fault.detail)
        return JudgeCallError(cause, message)

    async def _pause(self, seconds: float, model: str) -> None:
        """Sleep before a retry; a stop or the endpoint being given up cuts it short.

        Giving up one model wakes every sleeper: one for another model retries early.
        """
        await self._stop.sleep(seconds, self._sleep)
        self._check_usable(model, sent_before=True)

    async def _attempt(
        self, body: JSONObject, model: str, *, sent_before: bool = False
    ) -> tuple[Fault | None, Completion | None]:
        try:
            ticket = await self.limiter.acquire(
                lambda: self._check_usable(model, sent_before=sent_before)
            )
        except LimiterClosed:
            raise self._cancelled() from None
        stalled = False

        def stall() -> None:
            nonlocal stalled
            stalled = True
            self.limiter.stall()

        timer = asyncio.get_running_loop().call_later(self.stall.seconds, stall)
        began = self._clock()
        try:
            self._requests += 1
            response = await self._send(body)
        except openai.APIStatusError as exc:
            if exc.status_code == 429:
                self._rate_limited += 1
                self.limiter.rate_limited(ticket)
            elif exc.status_code == 503:
                self.limiter.overloaded()
            return self._classify_status(exc, body), None
        except openai.APITimeoutError:
            return Fault("timeout", True, f"no answer within {self._timeout:g} s"), None
        except openai.APIConnectionError as exc:
            return connection_fault(exc, base_url=self._base_url, redact=self._redact), None
        except openai.APIResponseValidationError:
            return Fault("server_error", True, "the response was not a chat completion"), None
        except openai.OpenAIError as exc:  # SDK-side trouble: retrying will not help
            return Fault("bad_request", False, f"{type(exc).__name__}: {exc}"), None
        finally:
            timer.cancel()
            self.limiter.release(stalled=stalled)
        completion = completion_from(response, str(body.get("model", self._model)))
        if completion is not None:  # nothing the endpoint wrote goes further unredacted
            content = completion.content
            completion = replace(
                completion,
                content=self._redact.json_text(content) if isinstance(content, str) else None,
                model=self._redact(completion.model),
            )
        if completion is None:
            return Fault("empty_choices", True, "empty choice list in the response"), None
        self.limiter.succeeded(latency=self._clock() - began)
        self.health.succeeded(model)
        self.stall.observe(self._clock() - began)
        return None, completion

    async def _send(self, body: JSONObject) -> Any:
        client = await self._clients.get()
        # The body goes out as it is, vendor keys and all, through the client's
        # documented request for any endpoint (``client.post``): the SDK's
        # connection pool, timeout, headers and errors, without ``create``
        # checking and copying every parameter again, which cost 0.8 ms of CPU
        # per request (2.08 ms against 1.29 ms, 1,000 requests at 32 in flight).
        return await client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    def _classify_status(self, exc: openai.APIStatusError, body: JSONObject) -> Fault:
        code = exc.status_code
        fault = classify_status(
            code,
            server_message(exc.body, exc.message, redact=self._redact),
            base_url=self._base_url,
            model=str(body.get("model", self._model)),
            wait=(
                _retry_after(exc.response.headers, now=self._wall_clock())
                if code in (429, 503)
                else None
            ),
            format_sent="response_format" in body,
        )
        return replace(fault, status=code)

    def _wait_for(self, fault: Fault, retries: int) -> float:
        if fault.wait is not None:
            return min(fault.wait, self._max_wait)
        return backoff_delay(retries, base=self._backoff_base, cap=self._backoff_max, rng=self._rng)

    def _message(self, fault: Fault, attempts: int) -> str:
        tries = plural(attempts, "attempt")
        text = f"judge request to {self.identity} failed after {tries}: {fault.detail}"
        if fault.fix is not None:
            text += f"; {fault.fix}"
        elif fault.cause in ("rate_limited", "timeout", "server_error", "connection"):
            text += "; raise the timeout or max_retries, or lower the judge concurrency"
        return self._redact(text)

    def _down_message(self, down: EndpointDown, attempts: int) -> str:
        tries = plural(attempts, "attempt")
        text = (
            f"{down.describe(self._base_url)}. Gave up after {tries} with no successful "
            "answer yet; the remaining judge requests are not sent"
        )
        return self._redact(text)

    def _check_usable(self, model: str, *, sent_before: bool = False) -> None:
        """Raise when stopped, or when the endpoint (or this model) was given up.

        ``sent_before``: the request went out at least once already, so it is
        given up rather than counted among the requests never sent.
        """
        if self._stop.is_set():
            raise self._cancelled()
        down = self.health.down_for(model)
        if down is not None:
            if not sent_before:
                self.health.not_sent += 1
            what = "given up after earlier attempts" if sent_before else "not sent"
            raise JudgeCallError(
                down.cause, self._redact(f"{what}: {down.describe(self._base_url)}")
            )

    @property
    def endpoint_report(self) -> EndpointReport:
        """Why the endpoint was given up and how many requests were not sent; the
        first error of each kind (``errors``) and the response-format note (``notes``),
        all redacted."""
        data = self.health.to_json(self._base_url)
        data["reasons"] = [self._redact(r) for r in data["reasons"]]
        data["errors"] = {
            cause: {**entry, "message": self._redact(entry["message"])}
            for cause, entry in self.errors.to_json().items()
        }
        note = self.formats.note
        data["notes"] = [self._redact(note)] if note else []
        return data

    def _cancelled(self) -> JudgeCallError:
        return JudgeCallError("cancelled", f"judge calls to {self.identity} were cancelled")

