"""The OpenAI-compatible judge backend: limits, retries, timeouts and redaction.

Built on the official ``openai`` SDK with its own retries switched off
(``max_retries=0``): we retry here so that a 429 slows the whole pool through
an :class:`~pytest_llmfunnel.retry.AdaptiveLimiter`, ``Retry-After`` is
honoured, and every attempt is counted.

JSON-schema fallback. Some OpenAI-compatible endpoints answer
``response_format: {"type": "json_schema", ...}`` with HTTP 400. When that
happens the backend switches itself, permanently, to JSON mode: it rewrites
``response_format`` to ``{"type": "json_object"}`` on this request (retried
once at no cost to the retry budget) and on every later one, and
``supports_json_schema`` turns False. The caller keeps keying its cache by the
body it rendered: on a given endpoint the rewrite is a fixed function of that
body, so one key still always means one body sent, and a re-run, which renders
the schema body again, hits the cache instead of paying again. Judges that
want a stricter prompt in JSON mode may read ``supports_json_schema`` and
render differently; their keys then change with it, which is also correct.
To make the sent body and the key identical from the first request, pass
``json_schema=False`` for an endpoint known to reject schemas.

Errors never carry the API key: messages are built here (not copied from the
SDK exception, which is also not chained) and passed through :func:`redact`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import random
import re
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

import openai

from pytest_llmfunnel.backend import Completion, JudgeCallError, JudgeRequest
from pytest_llmfunnel.models import Usage
from pytest_llmfunnel.retry import AdaptiveLimiter, LimiterClosed, StopSignal, backoff_delay
from pytest_llmfunnel.retry import retry_after_seconds as _retry_after
from pytest_llmfunnel.wording import plural

_SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"),
)
_JSON_SCHEMA_HINT = re.compile(r"response_format|json_schema", re.IGNORECASE)
_NO_KEY = "no-key"  # the SDK insists on a key; local servers ignore it


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret and anything shaped like a key replaced by ``***``.

    Covers the literal secrets (longest first, so a secret containing another
    is removed whole), ``sk-...`` tokens and ``Bearer ...`` credentials.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _SECRET_PATTERNS[0].sub("sk-***", text)
    return _SECRET_PATTERNS[1].sub("Bearer ***", text)


@dataclass(frozen=True)
class BackendStats:
    """Counters of one backend: attempts sent, retries, 429s and peak concurrency."""

    requests: int
    retries: int
    rate_limited: int
    failures: int
    max_in_flight: int
    current_limit: int


@dataclass(frozen=True)
class _Fault:
    """One failed attempt, classified."""

    cause: str
    retryable: bool
    detail: str
    wait: float | None = None  # what the server asked for, if anything
    json_schema_rejected: bool = False


class OpenAIJudgeBackend:
    """A :class:`~pytest_llmfunnel.backend.JudgeBackend` for any OpenAI-compatible endpoint.

    Args:
        model: the model name; filled into bodies that do not name one.
        base_url: the endpoint, e.g. ``https://api.openai.com/v1``.
        api_key: the key (the caller reads it from the environment); never logged.
        timeout: seconds per attempt.
        max_retries: retries after the first attempt for transient faults.
        concurrency: the most requests in flight at once.
        backoff_base: first backoff ceiling in seconds (doubles per retry, full jitter).
        backoff_max: largest backoff ceiling.
        max_wait: cap on a server-requested ``Retry-After``.
        recover_after: successes per +1 step of the limit after a 429.
        json_schema: False to send JSON mode from the start (see the module docs).
        seed: seed for the jitter (tests).
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
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_wait: float = 60.0,
        recover_after: int = 8,
        json_schema: bool = True,
        seed: int | None = None,
    ) -> None:
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_wait = max_wait
        self._json_schema = json_schema
        self._rng = random.Random(seed)
        self.limiter = AdaptiveLimiter(concurrency, recover_after=recover_after)
        self._stop = StopSignal()
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._keeper: AsyncGenerator[None, None] | None = None
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self._failures = 0

    # -- JudgeBackend ----------------------------------------------------------
    @property
    def identity(self) -> str:
        return f"openai-compatible {self._model} @ {self._base_url}"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def model(self) -> str:
        return self._model

    @property
    def supports_json_schema(self) -> bool:
        """False once the endpoint rejected ``json_schema`` (or when configured so)."""
        return self._json_schema

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
        keeper, self._keeper = self._keeper, None
        self._client = None
        self._client_loop = None
        if keeper is not None:
            await keeper.aclose()

    async def complete(self, request: JudgeRequest) -> Completion:
        """Send ``request.body`` as-is; retry transient faults; raise JudgeCallError at the end."""
        body = dict(request.body)
        body.setdefault("model", self._model)
        if body.get("stream"):
            raise JudgeCallError("bad_request", "judge requests cannot stream; drop 'stream'")
        retries = 0
        schema_retry_used = False
        while True:
            self._check_stopped()
            sent = self._adapt(body)
            fault, completion = await self._attempt(sent)
            if completion is not None:
                return completion
            assert fault is not None
            if fault.json_schema_rejected and not schema_retry_used:
                schema_retry_used = True
                self._json_schema = False
                continue
            if not fault.retryable or retries >= self._max_retries:
                self._failures += 1
                attempts = retries + 1 + int(schema_retry_used)
                raise JudgeCallError(fault.cause, self._message(fault, attempts))
            wait = self._wait_for(fault, retries)
            retries += 1
            self._retries += 1
            if not await self._stop.sleep(wait):
                self._check_stopped()

    # -- internals -------------------------------------------------------------
    def _adapt(self, body: dict[str, Any]) -> dict[str, Any]:
        fmt = body.get("response_format")
        if not self._json_schema and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return {**body, "response_format": {"type": "json_object"}}
        return body

    async def _attempt(self, body: dict[str, Any]) -> tuple[_Fault | None, Completion | None]:
        try:
            ticket = await self.limiter.acquire()
        except LimiterClosed:
            raise self._cancelled() from None
        try:
            self._requests += 1
            response = await self._send(body)
        except openai.APIStatusError as exc:
            if exc.status_code == 429:
                self._rate_limited += 1
                self.limiter.rate_limited(ticket)
            return self._classify_status(exc, body), None
        except openai.APITimeoutError:
            return _Fault("timeout", True, f"no answer within {self._timeout:g} s"), None
        except openai.APIConnectionError as exc:
            return _Fault("connection", True, _connection_detail(exc)), None
        except openai.APIResponseValidationError:
            return _Fault("server_error", True, "the response was not a chat completion"), None
        except openai.OpenAIError as exc:  # SDK-side trouble: retrying will not help
            return _Fault("bad_request", False, f"{type(exc).__name__}: {exc}"), None
        finally:
            self.limiter.release()
        completion = self._completion(response, body)
        if completion is None:
            return _Fault("empty_choices", True, "empty choice list in the response"), None
        self.limiter.succeeded()
        return None, completion

    async def _send(self, body: dict[str, Any]) -> Any:
        known, extra = _split_body(body)
        client = await self._openai()
        return await client.chat.completions.create(**known, extra_body=extra or None)

    async def _openai(self) -> openai.AsyncOpenAI:
        # The SDK's connection pool belongs to one event loop, so each loop gets
        # its own client. It is held open by an async generator: asyncio.run()
        # (and any loop owner calling shutdown_asyncgens) closes open async
        # generators at the end, which closes the pool on its own loop, so an
        # ad-hoc asyncio.run(backend.complete(...)) leaves no socket behind.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            client = openai.AsyncOpenAI(
                base_url=self._base_url,
                api_key=self._api_key or _NO_KEY,
                max_retries=0,
                timeout=self._timeout,
            )
            keeper = _hold_open(client)
            await keeper.__anext__()
            self._client, self._client_loop, self._keeper = client, loop, keeper
        return self._client

    def _completion(self, response: Any, body: dict[str, Any]) -> Completion | None:
        choices = getattr(response, "choices", None)
        if not choices:
            return None
        choice = choices[0]
        message = getattr(choice, "message", None)
        usage = getattr(response, "usage", None)
        return Completion(
            content=getattr(message, "content", None),
            finish_reason=getattr(choice, "finish_reason", None),
            usage=Usage(
                prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            ),
            model=getattr(response, "model", None) or str(body.get("model", self._model)),
        )

    def _classify_status(self, exc: openai.APIStatusError, body: dict[str, Any]) -> _Fault:
        code = exc.status_code
        detail = f"HTTP {code}: {_server_message(exc)}"
        wait = _retry_after(exc.response.headers) if code in (429, 503) else None
        if code == 429:
            return _Fault("rate_limited", True, detail, wait)
        if code == 408:
            return _Fault("timeout", True, detail)
        if code == 409 or code >= 500:
            return _Fault("server_error", True, detail, wait)
        if code in (401, 403):
            return _Fault("auth", False, f"{detail} (check the API key for {self._base_url})")
        fmt = body.get("response_format")
        if (
            code in (400, 422)
            and isinstance(fmt, dict)
            and fmt.get("type") == "json_schema"
            and _JSON_SCHEMA_HINT.search(detail)
        ):
            return _Fault("bad_request", False, detail, json_schema_rejected=True)
        if code == 404:
            detail += f" (check the base URL {self._base_url} and the model {self._model!r})"
        return _Fault("bad_request", False, detail)

    def _wait_for(self, fault: _Fault, retries: int) -> float:
        if fault.wait is not None:
            return min(fault.wait, self._max_wait)
        return backoff_delay(retries, base=self._backoff_base, cap=self._backoff_max, rng=self._rng)

    def _message(self, fault: _Fault, attempts: int) -> str:
        tries = plural(attempts, "attempt")
        text = f"judge request to {self.identity} failed after {tries}: {fault.detail}"
        if fault.cause in ("rate_limited", "timeout", "server_error", "connection"):
            text += "; raise the timeout or max_retries, or lower the judge concurrency"
        return redact(text, [self._api_key])

    def _check_stopped(self) -> None:
        if self._stop.is_set():
            raise self._cancelled()

    def _cancelled(self) -> JudgeCallError:
        return JudgeCallError("cancelled", f"judge calls to {self.identity} were cancelled")


async def _hold_open(client: openai.AsyncOpenAI) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.close()


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message: str = body["message"]
    elif isinstance(body, str):
        message = body
    elif isinstance(body, dict):  # not OpenAI-shaped, e.g. {"detail": ...}
        message = json.dumps(body, default=str)
    else:
        message = exc.message
    return message.strip()[:300] or "(no message)"


def _connection_detail(exc: openai.APIConnectionError) -> str:
    cause = exc.__cause__
    if cause is not None and str(cause):
        return f"connection failed ({type(cause).__name__}: {str(cause)[:200]})"
    return "connection failed"


@functools.lru_cache(maxsize=1)
def _known_params() -> frozenset[str]:
    """The keyword parameters of the SDK's ``chat.completions.create``."""
    from openai.resources.chat.completions import AsyncCompletions

    names = set(inspect.signature(AsyncCompletions.create).parameters)
    return frozenset(names - {"self", "extra_headers", "extra_query", "extra_body", "timeout"})


def _split_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a body into the SDK's named parameters and everything else (sent as extra_body).

    The SDK's ``create`` rejects unknown keyword arguments, but endpoints accept
    vendor keys (``top_k``, ``chat_template_kwargs``...): those travel verbatim
    in ``extra_body``, so the body on the wire is exactly the body given.
    """
    known_names = _known_params()
    known = {k: v for k, v in body.items() if k in known_names}
    extra = {k: v for k, v in body.items() if k not in known_names}
    return known, extra
