"""Build the judge backend and the stores a run's settings ask for.

Besides the two real backends this module holds the small wrappers a run puts
around them: :class:`LazyOpenAIBackend` (imports the SDK on the first request
actually sent), :class:`DryRunBackend` (counts what would be sent, sends
nothing), :class:`BudgetBackend` (stops starting requests past a cost) and
:class:`CountingStore` (counts cache hits and misses per stage). Each wrapper
keeps the wrapped backend's ``base_url``, so cache keys never depend on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pytest_llmfunnel.config import Settings, is_local_endpoint
from pytest_llmfunnel.endpoint.identity import EndpointIdentity
from pytest_llmfunnel.funnel.backend import (
    AnswerStore,
    CachedAnswer,
    CacheMissError,
    Completion,
    JudgeBackend,
    JudgeCallError,
    JudgeRequest,
    NullStore,
)
from pytest_llmfunnel.funnel.runner import OutputRecorder
from pytest_llmfunnel.redact import MIN_SECRET_LENGTH, placeholder_reason

if TYPE_CHECKING:
    from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
    from pytest_llmfunnel.endpoint.health import EndpointReport

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def make_backend(settings: Settings, worker_count: int = 1) -> JudgeBackend:
    """The offline reference judge, or an OpenAI-compatible client.

    ``--llm-funnel-concurrency``, ``--llm-funnel-min-concurrency`` and
    ``--llm-funnel-max-concurrency`` are totals: under xdist each worker gets its share.
    """
    if settings.use_offline_judge:
        # Start-up choice: the offline judge's rules load only when it judges.
        from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge

        return OfflineReferenceJudge()
    return LazyOpenAIBackend(
        settings.model,
        settings.base_url or OPENAI_DEFAULT_URL,
        settings.api_key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        response_format=settings.response_format,
        concurrency=max(1, settings.concurrency // max(1, worker_count)),
        min_concurrency=max(1, settings.min_concurrency // max(1, worker_count)),
        max_concurrency=max(1, settings.max_concurrency // max(1, worker_count)),
    )


def preload_client(settings: Settings) -> threading.Thread | None:
    """Start importing the ``openai`` client in a thread when this run will send requests.

    Importing the SDK takes 0.4 s to 2 s, and building its client and sending
    the first request import about 0.3 s more; a cold run needs all of it
    before its first request, so it is loaded while pytest collects (see
    :func:`will_send`; a warm run never imports the SDK at all). Returns the
    thread (join it before the process ends), or None.

    The thread imports no module of this package: pytest rewrites the asserts
    of a plugin's own modules, parsing them with :func:`ast.parse`, and two
    threads parsing at once can fail with ``SystemError: AST constructor
    recursion depth mismatch`` on CPython before 3.11.8 and 3.12.2. Only
    third-party modules, which are compiled without that step, load here.
    """
    if not will_send(settings):
        return None
    thread = threading.Thread(
        target=import_client, args=(settings,), name="llmfunnel-preload", daemon=True
    )
    thread.start()
    return thread


def will_send(settings: Settings) -> bool:
    """Whether this run is known to send judge requests before its first answer comes back.

    An OpenAI-compatible judge, nothing dry, and the cache off or not yet made.
    """
    if settings.use_offline_judge or settings.dry_run or settings.cache == "replay-only":
        return False
    return settings.cache == "off" or settings.cache_dir is None or not settings.cache_dir.exists()


def import_client(settings: Settings) -> None:
    """Import the SDK and what building its client and a first request import (no send).

    The SDK imports its HTTP transport when a client is built, its chat
    resource on first use and anyio's asyncio backend on the first request:
    about 0.3 s on top of ``import openai`` that a cold run would otherwise
    pay before its first request. The client built here never sends, holds
    no connection and belongs to no event loop, so it is simply dropped.
    """
    # A failure here is raised again, with its message, by the import on the first request.
    with contextlib.suppress(Exception):
        # Start-up choice: the SDK loads beside collection, off the critical path.
        import openai

        # Any key: this client sends nothing (wire.NO_KEY's module is ours, so not imported).
        client = openai.AsyncOpenAI(
            base_url=settings.base_url or OPENAI_DEFAULT_URL, api_key="no-key", max_retries=0
        )
        _ = client.chat.completions
        # The SDK's HTTP stack runs on anyio (its dependency, not ours), which
        # loads its asyncio backend on the first request.
        importlib.import_module("anyio._backends._asyncio")


class LazyOpenAIBackend(EndpointIdentity):
    """An OpenAI-compatible backend built on the first request that is actually sent.

    A warm re-run answers every request from the verdict cache, and importing
    the ``openai`` SDK alone takes about 0.4 s, so :mod:`pytest_llmfunnel.endpoint.client`
    is imported, and :class:`~pytest_llmfunnel.endpoint.client.OpenAIJudgeBackend` built
    with the same arguments, only when :meth:`complete` is first called. Until
    then ``identity``, ``base_url``, ``model`` and ``supports_json_schema`` are
    answered from the arguments, exactly as the built backend would answer them.
    """

    def __init__(
        self, model: str, base_url: str, api_key: str | None = None, **options: Any
    ) -> None:
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._options = options
        self._inner: OpenAIJudgeBackend | None = None
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def supports_json_schema(self) -> bool:
        if self._inner is not None:
            return self._inner.supports_json_schema
        fmt = self._options.get("response_format", "auto")
        return bool(self._options.get("json_schema", True)) and fmt in ("auto", "json_schema")

    @property
    def built(self) -> OpenAIJudgeBackend | None:
        """The real backend once a request was sent, else None."""
        return self._inner

    def backend(self) -> OpenAIJudgeBackend:
        """The real backend, built (and the SDK imported) on the first call."""
        with self._lock:
            if self._inner is None:
                # Start-up choice: the openai SDK loads on the first request sent.
                from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend

                inner = OpenAIJudgeBackend(
                    self._model, self._base_url, self._api_key, **self._options
                )
                if self._stopped:
                    inner.stop()
                self._inner = inner
            return self._inner

    async def complete(self, request: JudgeRequest) -> Completion:
        return await self.backend().complete(request)

    def stop(self) -> None:
        """As :meth:`OpenAIJudgeBackend.stop`; a backend built later starts stopped."""
        with self._lock:
            self._stopped = True
            inner = self._inner
        if inner is not None:
            inner.stop()

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    def __repr__(self) -> str:
        return f"LazyOpenAIBackend({self.identity!r})"


def endpoint_report(backend: object) -> EndpointReport | None:
    """The OpenAI-compatible backend's ``endpoint_report`` under any wrappers, once built.

    The report says why the endpoint was given up and how many requests that
    left unsent (see :mod:`pytest_llmfunnel.endpoint.health`).
    """
    for _ in range(5):  # a dry-run or budget wrapper, the lazy backend, the real one
        report = getattr(backend, "endpoint_report", None)
        if isinstance(report, dict):
            return cast("EndpointReport", report)
        backend = getattr(backend, "inner", None) or getattr(backend, "built", None)
        if backend is None:
            return None
    return None


def make_store(settings: Settings) -> AnswerStore:
    """The diskcache verdict store in the configured folder, or no store when off."""
    if settings.cache == "off" or settings.cache_dir is None:
        return NullStore()
    # Start-up choice: diskcache loads only when verdicts are cached.
    from pytest_llmfunnel.store.verdict_cache import VerdictStore

    return VerdictStore(settings.cache_dir, mode=settings.cache, secrets=_secrets(settings))


def make_output_store(settings: Settings) -> OutputRecorder | None:
    """The recorded-outputs store beside the verdicts (same folder and mode), or None."""
    if settings.cache == "off" or settings.cache_dir is None:
        return None
    # Start-up choice: diskcache loads only when outputs are recorded.
    from pytest_llmfunnel.store.verdict_cache import OutputStore

    return OutputStore(settings.cache_dir, mode=settings.cache, secrets=_secrets(settings))


def _secrets(settings: Settings) -> list[str]:
    # A placeholder key (see pytest_llmfunnel.redact) is no secret: guarding
    # it would withhold or rewrite every verdict that mentions "judge" or "x".
    if settings.api_key is None or placeholder_warning(settings) is not None:
        return []
    return [settings.api_key]


def placeholder_warning(settings: Settings) -> str | None:
    """The start-of-run warning for an API key too short or too common to redact, if any."""
    if settings.use_offline_judge:
        return None
    why = placeholder_reason(
        settings.api_key,
        model=settings.model,
        base_url=settings.base_url or OPENAI_DEFAULT_URL,
    )
    if why is None:
        return None
    return (
        f"llm-funnel: warning: the API key is treated as a placeholder, not a secret ({why}), "
        "so it is not redacted from reports and the cache; fine for a local server that "
        f"ignores keys, otherwise use the real key (at least {MIN_SECRET_LENGTH} characters)"
    )


def describe(settings: Settings) -> str:
    """The report header line: who judges, and where verdicts are cached."""
    if settings.use_offline_judge:
        judge = "offline reference judge (rule-based, not an LLM)"
    else:
        judge = f"{settings.model} @ {settings.base_url or OPENAI_DEFAULT_URL}"
    cache = "off" if settings.cache == "off" else f"{settings.cache} in {settings.cache_dir}"
    extra = "; dry run (nothing is sent)" if settings.dry_run else ""
    if not settings.use_offline_judge and is_local_endpoint(settings.base_url or ""):
        extra = f", timeout {settings.timeout:g} s (local endpoint){extra}"
    return (
        f"llm-funnel: judge {judge}; cache {cache}; concurrency {settings.concurrency}{extra}"
    )


class _Wrapper:
    """Forwards the backend interface (and stop/aclose, when present) to ``inner``."""

    def __init__(self, inner: JudgeBackend) -> None:
        self.inner = inner

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def base_url(self) -> str:
        return self.inner.base_url

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def supports_json_schema(self) -> bool:
        return self.inner.supports_json_schema

    def stop(self) -> None:
        stop = getattr(self.inner, "stop", None)
        if callable(stop):
            stop()

    async def aclose(self) -> None:
        aclose = getattr(self.inner, "aclose", None)
        if callable(aclose):
            await aclose()


class DryRunBackend(_Wrapper):
    """Refuses every request and counts it, with a token estimate for the cost.

    Only cache misses reach a backend, so ``requests`` is what a real run would
    send (before parse retries). Prompt tokens are estimated at four characters
    a token; completion tokens at the request's ``max_tokens`` (an upper bound).
    """

    def __init__(self, inner: JudgeBackend) -> None:
        super().__init__(inner)
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    async def complete(self, request: JudgeRequest) -> Completion:
        self.requests += 1
        messages = request.body.get("messages") or []
        chars = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
        self.prompt_tokens += max(1, math.ceil(chars / 4))
        self.completion_tokens += int(request.body.get("max_tokens") or 0)
        raise JudgeCallError("dry_run", "dry run: this request was counted, not sent")


class BudgetBackend(_Wrapper):
    """Starts no new request once the cost of the answers so far reaches ``budget``.

    The budget is checked when a request gets one of ``concurrency`` slots, so
    the spend overshoots by at most the requests already in flight; later ones
    fail with cause ``budget``.
    """

    def __init__(
        self,
        inner: JudgeBackend,
        budget: float,
        cost: Callable[[int, int], float | None],
        concurrency: int,
    ) -> None:
        super().__init__(inner)
        self.budget = budget
        self.spent = 0.0
        self.refused = 0
        self._cost = cost
        self._slots = asyncio.Semaphore(max(1, concurrency))

    async def complete(self, request: JudgeRequest) -> Completion:
        async with self._slots:
            if self.spent >= self.budget:
                self.refused += 1
                raise JudgeCallError(
                    "budget",
                    f"budget reached: {self.spent:.4f} of {self.budget:g} spent, so no new "
                    "judge request was started; raise --llm-funnel-budget to judge the rest",
                )
            completion = await self.inner.complete(request)
            usage = completion.usage
            self.spent += self._cost(usage.prompt_tokens, usage.completion_tokens) or 0.0
            return completion


class CountingStore:
    """An :class:`AnswerStore` that counts hits and misses per stage into ``counts``.

    ``counts`` maps a stage name to ``{"hits": n, "misses": n}``; a replay-only
    miss counts as a miss before the error goes on.
    """

    def __init__(self, inner: AnswerStore, counts: dict[str, dict[str, int]]) -> None:
        self.inner = inner
        self.counts = counts

    def _tally(self, stage: str, what: str) -> None:
        entry = self.counts.setdefault(stage, {"hits": 0, "misses": 0})
        entry[what] += 1

    def get(self, request: JudgeRequest, *, case_id: str, stage: str) -> CachedAnswer | None:
        try:
            answer = self.inner.get(request, case_id=case_id, stage=stage)
        except CacheMissError:
            self._tally(stage, "misses")
            raise
        self._tally(stage, "misses" if answer is None else "hits")
        return answer

    def put(
        self, request: JudgeRequest, answer: CachedAnswer, *, case_id: str, stage: str
    ) -> None:
        self.inner.put(request, answer, case_id=case_id, stage=stage)

    @property
    def explain(self) -> Any:
        """The wrapped store's ``explain`` (None when it cannot explain)."""
        return getattr(self.inner, "explain", None)
