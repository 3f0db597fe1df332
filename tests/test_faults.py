"""Every fault an endpoint can throw at the judge backend, over real HTTP through the SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmfunnel.backend import Completion, JudgeCallError, JudgeRequest
from pytest_llmfunnel.client import OpenAIJudgeBackend
from pytest_llmfunnel.retry import http_date
from pytest_llmfunnel.testing import (
    Action,
    JudgeServer,
    close,
    empty_choices,
    garbage,
    hang,
    hashed_verdicts,
    ok,
    refused_base_url,
    status,
    truncated,
)

KEY = "sk-fault-test-ABCDEFGH12345678"
OK_CONTENT = '{"reasoning": "ok", "score": 4}'


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as srv:
        yield srv


def make_backend(base_url: str, **kwargs: Any) -> OpenAIJudgeBackend:
    # Backoff ceilings of a few milliseconds keep retries fast; seeded jitter.
    settings: dict[str, Any] = {
        "timeout": 5.0,
        "backoff_base": 0.005,
        "backoff_max": 0.05,
        "seed": 1,
    }
    settings.update(kwargs)
    return OpenAIJudgeBackend("judge-1", base_url, KEY, **settings)


def request(base_url: str, text: str = "judge this") -> JudgeRequest:
    body = {"model": "judge-1", "messages": [{"role": "user", "content": text}]}
    return JudgeRequest(body=body, base_url=base_url)


def call(backend: OpenAIJudgeBackend, base_url: str, text: str = "x") -> Completion:
    return asyncio.run(backend.complete(request(base_url, text)))


def failure(backend: OpenAIJudgeBackend, base_url: str) -> JudgeCallError:
    with pytest.raises(JudgeCallError) as err:
        call(backend, base_url)
    return err.value


def timed(backend: OpenAIJudgeBackend, base_url: str) -> tuple[Completion, float]:
    started = time.monotonic()
    completion = call(backend, base_url)
    return completion, time.monotonic() - started


# -- rate limiting -----------------------------------------------------------------
def test_429_with_retry_after_seconds_is_honoured(server: JudgeServer) -> None:
    server.script([status(429, retry_after=0.4)])
    backend = make_backend(server.base_url)
    completion, elapsed = timed(backend, server.base_url)
    assert completion.content == OK_CONTENT
    assert 0.4 <= elapsed < 1.2
    assert (backend.stats.requests, backend.stats.retries, backend.stats.rate_limited) == (2, 1, 1)


def test_429_with_retry_after_ms_is_honoured(server: JudgeServer) -> None:
    server.script([status(429, retry_after_ms=300)])
    _, elapsed = timed(make_backend(server.base_url), server.base_url)
    assert 0.3 <= elapsed < 1.0


def test_429_with_an_http_date_is_honoured(server: JudgeServer) -> None:
    # HTTP dates have whole-second resolution: 2 s ahead means a wait in (1, 2].
    server.script([status(429, retry_after=http_date(2))])
    _, elapsed = timed(make_backend(server.base_url), server.base_url)
    assert 0.9 <= elapsed < 2.8


def test_retry_after_is_capped_by_max_wait(server: JudgeServer) -> None:
    server.script([status(429, retry_after=30)])
    _, elapsed = timed(make_backend(server.base_url, max_wait=0.2), server.base_url)
    assert 0.2 <= elapsed < 1.0


def test_429_without_retry_after_backs_off_with_jitter(server: JudgeServer) -> None:
    server.script([status(429)] * 3)
    backend = make_backend(server.base_url, backoff_base=0.05, backoff_max=1.0)
    completion, elapsed = timed(backend, server.base_url)
    assert completion.content == OK_CONTENT
    assert backend.stats.retries == 3
    assert elapsed < 0.05 + 0.1 + 0.2 + 0.5  # the sum of the three ceilings, plus slack


def test_rate_limiting_that_never_ends_gives_up_with_rate_limited(server: JudgeServer) -> None:
    server.default = lambda body: status(429, retry_after=0)
    backend = make_backend(server.base_url, max_retries=3)
    err = failure(backend, server.base_url)
    assert err.cause == "rate_limited"
    assert "4 attempts" in str(err) and "HTTP 429" in str(err)
    assert server.stats.requests == 4 and backend.stats.failures == 1


def test_a_429_halves_the_limit_and_successes_restore_it(server: JudgeServer) -> None:
    backend = make_backend(server.base_url, concurrency=8, recover_after=2)
    server.script([status(429, retry_after=0)])
    call(backend, server.base_url)  # 429 halves, then its retry is the first success
    assert backend.limiter.current == 4
    call(backend, server.base_url)
    assert backend.limiter.current == 5
    for _ in range(6):
        call(backend, server.base_url)
    assert backend.limiter.current == 8  # back at the limit, and never past it
    call(backend, server.base_url)
    assert backend.limiter.current == 8


# -- server errors -------------------------------------------------------------------
@pytest.mark.parametrize("code", [500, 502, 503, 408, 409])
def test_transient_status_codes_are_retried(server: JudgeServer, code: int) -> None:
    server.script([status(code), status(code)])
    backend = make_backend(server.base_url)
    assert call(backend, server.base_url).content == OK_CONTENT
    assert backend.stats.retries == 2 and server.stats.statuses == {str(code): 2, "200": 1}


def test_503_with_retry_after_is_honoured(server: JudgeServer) -> None:
    server.script([status(503, retry_after=0.3)])
    _, elapsed = timed(make_backend(server.base_url), server.base_url)
    assert 0.3 <= elapsed < 1.0


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (status(500), "server_error"),
        (status(502), "server_error"),
        (status(503), "server_error"),
        (close(), "connection"),
        (empty_choices(), "empty_choices"),
    ],
)
def test_a_fault_that_never_recovers_raises_its_cause(
    server: JudgeServer, fault: Action, cause: str
) -> None:
    server.default = lambda body: fault
    backend = make_backend(server.base_url, max_retries=2)
    err = failure(backend, server.base_url)
    assert err.cause == cause
    assert "3 attempts" in str(err)
    assert server.stats.requests == 3


@pytest.mark.parametrize(("code", "cause"), [(401, "auth"), (403, "auth"), (404, "bad_request")])
def test_client_errors_are_not_retried(server: JudgeServer, code: int, cause: str) -> None:
    server.script([status(code)])
    backend = make_backend(server.base_url)
    err = failure(backend, server.base_url)
    assert err.cause == cause and "1 attempt" in str(err)
    assert server.stats.requests == 1 and backend.stats.retries == 0


# -- transport faults ----------------------------------------------------------------
def test_connection_refused_is_retried_then_reported() -> None:
    base_url = refused_base_url()
    backend = make_backend(base_url, max_retries=2)
    err = failure(backend, base_url)
    assert err.cause == "connection"
    assert backend.stats.requests == 3
    assert base_url in str(err)


def test_dropped_connection_is_retried(server: JudgeServer) -> None:
    server.script([close()])
    assert call(make_backend(server.base_url), server.base_url).content == OK_CONTENT
    assert server.stats.statuses == {"closed": 1, "200": 1}


def test_read_timeout_is_retried(server: JudgeServer) -> None:
    server.script([hang(2)])
    backend = make_backend(server.base_url, timeout=0.3)
    completion, elapsed = timed(backend, server.base_url)
    assert completion.content == OK_CONTENT
    assert 0.3 <= elapsed < 1.5 and backend.stats.retries == 1


def test_a_server_that_always_hangs_times_out(server: JudgeServer) -> None:
    server.default = lambda body: hang(2)
    backend = make_backend(server.base_url, timeout=0.3, max_retries=1)
    started = time.monotonic()
    err = failure(backend, server.base_url)
    assert err.cause == "timeout" and "0.3 s" in str(err)
    assert time.monotonic() - started < 1.5


# -- answers that are not what the judge wanted: returned, parsed by the judge stage ----
def test_truncated_answer_is_returned_with_its_finish_reason(server: JudgeServer) -> None:
    server.script([truncated()])
    completion = call(make_backend(server.base_url), server.base_url)
    assert completion.finish_reason == "length"
    assert completion.content is not None and completion.content.startswith('{"reasoning"')
    assert server.stats.requests == 1


def test_garbage_content_is_returned_as_is(server: JudgeServer) -> None:
    server.script([garbage("I think it is fine")])
    completion = call(make_backend(server.base_url), server.base_url)
    assert (completion.content, completion.finish_reason) == ("I think it is fine", "stop")


def test_empty_choices_are_retried(server: JudgeServer) -> None:
    server.script([empty_choices(), ok("fine")])
    backend = make_backend(server.base_url)
    assert call(backend, server.base_url).content == "fine"
    assert backend.stats.retries == 1


# -- under load --------------------------------------------------------------------------
def test_every_answer_arrives_through_a_20_percent_fault_rate() -> None:
    with JudgeServer(fault_rate=0.2, seed=3) as srv:
        srv.default = hashed_verdicts()
        backend = make_backend(srv.base_url, concurrency=8)

        async def run_all() -> list[Completion]:
            calls = [backend.complete(request(srv.base_url, f"case {i}")) for i in range(100)]
            return await asyncio.gather(*calls)

        completions = asyncio.run(run_all())
        stats = srv.stats
    assert len(completions) == 100 and all(c.content for c in completions)
    faults = stats.requests - stats.statuses["200"]
    assert stats.statuses["200"] == 100
    assert faults >= 10  # the server really did fail a good share of the attempts
    assert backend.stats.requests == stats.requests
    assert backend.stats.retries == faults


def test_the_concurrency_limit_holds_at_the_server() -> None:
    with JudgeServer(latency=0.05) as srv:
        backend = make_backend(srv.base_url, concurrency=4)

        async def run_all() -> None:
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, str(i))) for i in range(24))
            )

        asyncio.run(run_all())
        stats = srv.stats
    assert stats.max_inflight == 4  # reached, never exceeded
    assert backend.stats.max_in_flight == 4
    assert stats.unique_prompts == 24


def test_a_429_storm_narrows_the_pool_seen_by_the_server() -> None:
    with JudgeServer(latency=0.05) as srv:
        backend = make_backend(srv.base_url, concurrency=8, recover_after=1000)
        srv.script([status(429, retry_after=0.05)] * 8)

        async def run_all() -> None:
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, str(i))) for i in range(8))
            )
            srv.reset()
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, f"b{i}")) for i in range(16))
            )

        asyncio.run(run_all())
        stats = srv.stats
    assert backend.limiter.current == 4  # one burst of eight 429s halves once
    assert stats.max_inflight == 4


# -- the key -------------------------------------------------------------------------------
def test_the_key_reaches_the_server_but_no_error(server: JudgeServer) -> None:
    echoed = f"invalid key {KEY}, header was 'Bearer {KEY}'"
    server.script([status(401, message=echoed)])
    backend = make_backend(server.base_url)
    auth_error = failure(backend, server.base_url)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.received_secrets() == {KEY}
    assert auth_error.cause == "auth" and "invalid key ***" in str(auth_error)

    server.default = lambda body: status(500, message=f"upstream saw sk-other-secret-99 {KEY}")
    server_error = failure(make_backend(server.base_url, max_retries=0), server.base_url)
    refused = failure(make_backend(refused_base_url(), max_retries=0), "")
    errors = [auth_error, server_error, refused]
    server.assert_secrets_absent(*errors, backend, backend.identity)
    for err in errors:
        assert err.__cause__ is None and err.__context__ is None  # no SDK text chained
        assert "sk-other-secret-99" not in str(err)


def test_sixty_four_slow_requests_run_side_by_side() -> None:
    with JudgeServer(latency=0.3) as srv:
        backend = make_backend(srv.base_url, concurrency=64)

        async def run_all() -> float:
            started = time.monotonic()
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, str(i))) for i in range(64))
            )
            return time.monotonic() - started

        elapsed = asyncio.run(run_all())
        stats = srv.stats
    assert stats.max_inflight == 64 and stats.statuses == {"200": 64}
    assert elapsed < 2.0  # one latency, not 64 of them in sequence
