"""The judge backend's plumbing: redaction, retry helpers, the limiter, body pass-through.

Network behaviour runs against the loopback server through the real SDK; the
fault scenarios live in ``test_faults.py``.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend, redact
from pytest_llmfunnel.endpoint.factory import LazyOpenAIBackend
from pytest_llmfunnel.endpoint.health import EndpointHealth, Fault, classify_status
from pytest_llmfunnel.endpoint.retry import (
    AdaptiveLimiter,
    LimiterClosed,
    StallEstimate,
    StopSignal,
    backoff_delay,
    http_date,
    retry_after_seconds,
)
from pytest_llmfunnel.funnel.backend import JudgeBackend, JudgeCallError, JudgeRequest
from pytest_llmfunnel.models import Usage
from pytest_llmfunnel.testing import JudgeServer, hang, status

KEY = "sk-unit-test-0123456789"
SCHEMA = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": {"type": "object"}}}


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as srv:
        yield srv


def make_backend(srv: JudgeServer, **kwargs: Any) -> OpenAIJudgeBackend:
    settings: dict[str, Any] = {"timeout": 5.0, "backoff_base": 0.01, "seed": 0}
    settings.update(kwargs)
    return OpenAIJudgeBackend("judge-1", srv.base_url, KEY, **settings)


def request(srv: JudgeServer, text: str = "hi", **extra: Any) -> JudgeRequest:
    body = {"model": "judge-1", "messages": [{"role": "user", "content": text}], **extra}
    return JudgeRequest(body=body, base_url=srv.base_url)


# -- redact ----------------------------------------------------------------------
def test_redact_removes_given_secrets_and_key_shaped_tokens() -> None:
    text = "key abc123secret, header Authorization: Bearer tok.en-1 and sk-live_ABCdef123456 end"
    cleaned = redact(text, ["abc123secret", None, ""])
    assert cleaned == "key ***, header Authorization: Bearer *** and sk-*** end"


def test_redact_removes_a_longer_secret_whole_before_a_shorter_one() -> None:
    assert redact("x=longsecret9", ["secret", "longsecret9"]) == "x=***"


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "HTTP 500: task-runner overloaded; ask again"
    assert redact(text, ["unrelated"]) == text


# -- retry helpers ---------------------------------------------------------------
def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (10, 30.0)]:
        delays = [backoff_delay(attempt, base=0.5, cap=30.0, rng=rng) for _ in range(2000)]
        assert min(delays) >= 0.0 and max(delays) <= ceiling
        # uniform on [0, ceiling]: the mean is ceiling/2 (sd of the mean ~0.65% of ceiling)
        assert abs(sum(delays) / len(delays) - ceiling / 2) < 0.03 * ceiling


def test_retry_after_reads_seconds_milliseconds_and_http_dates() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.25"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "150", "retry-after": "9"}) == 0.15
    assert retry_after_seconds({"retry-after": "-3"}) == 0.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    now = 1_700_000_000.0
    assert retry_after_seconds({"retry-after": http_date(30, now=now)}, now=now) == 30.0
    assert retry_after_seconds({"retry-after": http_date(-30, now=now)}, now=now) == 0.0


# -- limiter ---------------------------------------------------------------------
def test_limiter_halves_once_per_generation_and_recovers_additively() -> None:
    limiter = AdaptiveLimiter(16, recover_after=2)

    async def scenario() -> list[int]:
        tickets = [await limiter.acquire() for _ in range(4)]
        for ticket in tickets:  # four 429s from one burst count as one event
            limiter.rate_limited(ticket)
            limiter.release()
        trace = [limiter.current]
        ticket = await limiter.acquire()
        limiter.rate_limited(ticket)  # a request started after the decrease halves again
        limiter.release()
        trace.append(limiter.current)
        for _ in range(6):
            limiter.succeeded()
        trace.append(limiter.current)
        for _ in range(100):
            limiter.succeeded()
        trace.append(limiter.current)
        return trace

    assert asyncio.run(scenario()) == [8, 4, 7, 16]


def test_limiter_never_goes_below_one() -> None:
    limiter = AdaptiveLimiter(2)

    async def scenario() -> int:
        for _ in range(5):
            limiter.rate_limited(await limiter.acquire())
            limiter.release()
        return limiter.current

    assert asyncio.run(scenario()) == 1


def test_limiter_bounds_concurrency_and_shrinking_takes_effect() -> None:
    limiter = AdaptiveLimiter(4)
    peak = 0

    async def work(shrink: bool) -> None:
        nonlocal peak
        ticket = await limiter.acquire()
        peak = max(peak, limiter.in_flight)
        await asyncio.sleep(0.01)
        if shrink:
            limiter.rate_limited(ticket)
        limiter.release()

    async def scenario() -> None:
        nonlocal peak
        await asyncio.gather(*(work(False) for _ in range(20)))
        assert peak == 4
        await work(True)
        peak = 0
        await asyncio.gather(*(work(False) for _ in range(20)))
        assert peak == 2

    asyncio.run(scenario())
    assert limiter.max_in_flight == 4 and limiter.in_flight == 0


def test_limiter_hands_a_slot_on_when_a_waiter_is_cancelled() -> None:
    limiter = AdaptiveLimiter(1)

    async def scenario() -> int:
        await limiter.acquire()
        first = asyncio.create_task(limiter.acquire())
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # wakes `first`...
        first.cancel()  # ...which is cancelled before it runs
        await asyncio.wait_for(second, timeout=1)
        return limiter.in_flight

    assert asyncio.run(scenario()) == 1


def test_closing_the_limiter_fails_waiters() -> None:
    limiter = AdaptiveLimiter(1)

    async def scenario() -> None:
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.close()
        with pytest.raises(LimiterClosed):
            await waiter

    asyncio.run(scenario())


def test_stop_signal_interrupts_a_sleep_from_another_thread() -> None:
    signal = StopSignal()

    async def scenario() -> tuple[bool, float]:
        threading.Timer(0.05, signal.set).start()
        started = time.monotonic()
        completed = await signal.sleep(10)
        return completed, time.monotonic() - started

    completed, elapsed = asyncio.run(scenario())
    assert not completed and elapsed < 2


def test_limiter_halving_stops_at_the_floor_and_recovers_one_step_at_a_time() -> None:
    limiter = AdaptiveLimiter(16, recover_after=3)  # the floor defaults to a quarter: 4
    explicit = AdaptiveLimiter(16, floor=6)

    async def scenario() -> list[int]:
        for lim in (limiter, explicit):
            for _ in range(6):  # six 429s, each after the last decrease
                lim.rate_limited(await lim.acquire())
                lim.release()
        trace = [limiter.current, explicit.current]
        for _ in range(3 * 5):
            limiter.succeeded()
            trace.append(limiter.current)
        return trace

    trace = asyncio.run(scenario())
    assert trace[:2] == [4, 6] and limiter.floor == 4 and explicit.floor == 6
    # +1 after every third success, from the floor back up
    assert trace[2:] == [4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9]
    assert AdaptiveLimiter(2).floor == 1 and AdaptiveLimiter(3, floor=8).floor == 3
    with pytest.raises(ValueError, match="floor"):
        AdaptiveLimiter(4, floor=0)


def test_a_stalled_request_gives_its_slot_to_the_next_but_the_cap_holds() -> None:
    limiter = AdaptiveLimiter(2)

    async def scenario() -> list[object]:
        await limiter.acquire()
        await limiter.acquire()
        third = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        trace: list[object] = [third.done()]
        limiter.stall()  # one of the two is hung: the third may start
        await asyncio.sleep(0)
        trace += [third.done(), limiter.in_flight, limiter.stalled]
        limiter.stall()
        limiter.stall()  # all three hung: a fourth may start, to twice the limit...
        await limiter.acquire()
        fifth = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        trace += [limiter.in_flight, fifth.done()]  # ...and no further
        limiter.release(stalled=True)
        await asyncio.sleep(0)
        trace += [fifth.done(), limiter.in_flight, limiter.stalled]
        return trace

    assert asyncio.run(scenario()) == [False, True, 3, 1, 4, False, True, 4, 2]


def test_a_request_is_presumed_hung_after_a_multiple_of_the_slowest_recent_answer() -> None:
    estimate = StallEstimate(30.0, minimum=0.5, factor=3.0, window=4)
    trace = [estimate.seconds]  # no answer yet: the ceiling
    for seconds in (0.01, 0.02, 0.4, 0.01, 0.01, 0.01, 0.01, 4.0, 20.0):
        estimate.observe(seconds)
        trace.append(round(estimate.seconds, 6))
    # at least the minimum; 3x the slowest of the last four; never past the ceiling
    assert trace == [30.0, 0.5, 0.5, 1.2, 1.2, 1.2, 1.2, 0.5, 12.0, 30.0]


def test_a_waiter_woken_by_wake_all_can_give_up_through_its_check() -> None:
    limiter = AdaptiveLimiter(1)
    reasons: list[str] = []

    def check() -> None:
        if reasons:
            raise RuntimeError(reasons[0])

    async def scenario() -> None:
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire(check))
        await asyncio.sleep(0)
        assert not waiter.done()
        reasons.append("endpoint given up")
        limiter.wake_all()
        with pytest.raises(RuntimeError, match="endpoint given up"):
            await waiter
        assert limiter.in_flight == 1 and not limiter._waiters

    asyncio.run(scenario())


def test_stop_signal_sleeps_through_an_injected_sleep_and_a_ring_cuts_it_short() -> None:
    signal = StopSignal()
    asked: list[float] = []

    async def instant(seconds: float) -> None:
        asked.append(seconds)

    async def forever(seconds: float) -> None:
        asked.append(seconds)
        await asyncio.Event().wait()

    async def scenario() -> list[bool]:
        done = [await signal.sleep(7.5, instant)]
        sleeper = asyncio.create_task(signal.sleep(1000, forever))
        await asyncio.sleep(0)
        signal.ring()  # wakes the sleeper without setting the flag
        done.append(await asyncio.wait_for(sleeper, 5))
        done.append(signal.is_set())
        return done

    assert asyncio.run(scenario()) == [True, True, False]
    assert asked == [7.5, 1000]


# -- the fail-fast rule ------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


AUTH = Fault("auth", False, "HTTP 401: bad key", fix="check the API key")
MODEL = Fault("bad_request", False, "HTTP 404: no such model", fix="check the model", scope="model")
REFUSED = Fault("connection", True, "connection refused", fix="check the URL", unreachable=True)
FLAKY = Fault("server_error", True, "HTTP 503: busy")


def test_a_wrong_setting_before_any_answer_gives_the_endpoint_up_at_once() -> None:
    health = EndpointHealth(clock=FakeClock())
    assert health.failed(FLAKY, model="m", started=0, retries_left=True) is None
    down = health.failed(AUTH, model="m", started=0, retries_left=False)
    assert down is not None and (down.cause, down.scope, down.fix) == ("auth", "endpoint",
                                                                       "check the API key")
    assert health.down_for("m") is down and health.down_for("other") is down
    assert down.describe("http://h/v1") == (
        "the judge endpoint http://h/v1 gave no usable answer (HTTP 401: bad key); "
        "check the API key"
    )
    # the first reason stays the reason
    assert health.failed(MODEL, model="m", started=0, retries_left=False) is down


def test_after_an_answer_the_rule_is_off() -> None:
    health = EndpointHealth(clock=FakeClock())
    health.succeeded("m")
    for fault in (AUTH, MODEL, REFUSED):
        assert health.failed(fault, model="m", started=0, retries_left=False) is None
    assert health.downs == []


def test_a_model_error_ends_only_that_model_and_only_before_it_answered() -> None:
    health = EndpointHealth(clock=FakeClock())
    health.succeeded("good")
    assert health.failed(MODEL, model="good", started=0, retries_left=False) is None
    down = health.failed(MODEL, model="bad", started=0, retries_left=False)
    assert down is not None and down.scope == "model"
    assert health.down_for("bad") is down and health.down_for("good") is None
    assert down.describe("http://h/v1").startswith("the judge model 'bad' at http://h/v1 ")


def test_connection_failures_count_once_they_lasted_or_a_request_used_its_retries() -> None:
    clock = FakeClock()
    health = EndpointHealth(unreachable_after=2.0, clock=clock)
    started = clock.now
    clock.now += 0.25
    assert health.failed(REFUSED, model="m", started=started, retries_left=True) is None
    clock.now += 1.5  # a later attempt of another request, 1.75 s after the first began
    assert health.failed(REFUSED, model="m", started=clock.now - 0.25, retries_left=True) is None
    clock.now += 0.25  # 2 s since the first failed attempt began
    down = health.failed(REFUSED, model="m", started=clock.now, retries_left=True)
    assert down is not None and down.detail == "connection refused"

    quick = EndpointHealth(unreachable_after=2.0, clock=clock)
    assert quick.failed(REFUSED, model="m", started=clock.now, retries_left=False) is not None


def test_while_connection_failures_are_timed_a_retry_waits_at_most_half_the_window() -> None:
    health = EndpointHealth(unreachable_after=2.0, clock=FakeClock())
    assert health.retry_wait(REFUSED, 16.0) == 1.0
    assert health.retry_wait(FLAKY, 16.0) == 16.0  # other faults keep their backoff
    health.succeeded("m")
    assert health.retry_wait(REFUSED, 16.0) == 16.0  # it answered once: usual backoff


def test_an_answer_resets_the_connection_failure_window() -> None:
    clock = FakeClock()
    health = EndpointHealth(unreachable_after=2.0, clock=clock)
    assert health.failed(REFUSED, model="m", started=clock.now, retries_left=True) is None
    health.succeeded("m")  # the server came up
    clock.now += 60
    assert health.failed(REFUSED, model="m", started=clock.now, retries_left=True) is None


@pytest.mark.parametrize(
    ("code", "message", "fix", "scope"),
    [
        (401, "Incorrect API key provided", "check the API key", "endpoint"),
        (403, "Forbidden", "check the API key", "endpoint"),
        (403, "Project does not have access to model judge-1", "check the model name",
         "model"),
        (404, "Not Found", "check the base URL", "endpoint"),
        (404, "The model `judge-1` does not exist or you do not have access to it.",
         "check the model name", "model"),
        (404, 'model "judge-1" not found, try pulling it first', "check the model name",
         "model"),
        (400, "Invalid model name passed in model=judge-1", "check the model name", "model"),
        (422, "Unknown model: judge-1", "check the model name", "model"),
        (400, "This model's maximum context length is 8192 tokens", None, "endpoint"),
        (400, "'response_format' of type 'json_schema' is not supported with this model.",
         None, "endpoint"),
        (429, "slow down", None, "endpoint"),
        (500, "model not found upstream", None, "endpoint"),
    ],
)
def test_which_status_codes_mean_a_wrong_setting(
    code: int, message: str, fix: str | None, scope: str
) -> None:
    fault = classify_status(
        code, message, base_url="http://h/v1", model="judge-1", wait=None, format_sent=True
    )
    assert (fault.fix is not None and fix is not None and fix in fault.fix) or (
        fault.fix is None and fix is None
    )
    assert fault.scope == scope
    assert fault.detail == f"HTTP {code}: {message}"


def test_backoff_waits_go_through_the_injected_sleep(server: JudgeServer) -> None:
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    server.script([status(429, retry_after=45), status(503, retry_after=20), status(500)])
    backend = make_backend(server, sleep=sleep, backoff_base=8.0, backoff_max=8.0)
    assert asyncio.run(backend.complete(request(server))).content is not None
    assert asked[:2] == [45, 20] and 0 <= asked[2] <= 8.0 and len(asked) == 3
    assert server.stats.requests == 4


# -- backend -------------------------------------------------------------------
def test_backend_satisfies_the_protocol_and_never_shows_the_key(server: JudgeServer) -> None:
    backend: JudgeBackend = make_backend(server)
    assert backend.identity == f"openai-compatible judge-1 @ {server.base_url}"
    assert backend.base_url == server.base_url
    assert backend.model == "judge-1"
    assert backend.supports_json_schema
    assert KEY not in repr(backend) and KEY not in backend.identity


def test_trailing_slash_is_normalised(server: JudgeServer) -> None:
    backend = OpenAIJudgeBackend("m", server.base_url + "/", KEY)
    assert backend.base_url == server.base_url


def test_body_is_sent_as_is_with_vendor_keys(server: JudgeServer) -> None:
    backend = make_backend(server)
    body_extra = {"temperature": 0, "seed": 3, "top_k": 5, "chat_template_kwargs": {"a": 1}}
    completion = asyncio.run(backend.complete(request(server, "score me", **body_extra)))
    (received,) = server.requests
    assert received.body == {
        "model": "judge-1",
        "messages": [{"role": "user", "content": "score me"}],
        **body_extra,
    }
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert completion.content == '{"reasoning": "ok", "score": 4}'
    assert completion.finish_reason == "stop"
    assert completion.model == "judge-1"
    assert completion.usage == Usage(prompt_tokens=2, completion_tokens=7)
    assert backend.stats.requests == 1 and backend.stats.retries == 0


def test_a_body_without_a_model_gets_the_backend_model(server: JudgeServer) -> None:
    backend = make_backend(server)
    bare = JudgeRequest(body={"messages": [{"role": "user", "content": "x"}]}, base_url="")
    asyncio.run(backend.complete(bare))
    assert server.requests[0].body == {
        "model": "judge-1",
        "messages": [{"role": "user", "content": "x"}],
    }


def test_streaming_bodies_are_refused_before_sending(server: JudgeServer) -> None:
    with pytest.raises(JudgeCallError) as err:
        asyncio.run(make_backend(server).complete(request(server, stream=True)))
    assert err.value.cause == "bad_request"
    assert server.stats.requests == 0


def test_json_schema_rejection_switches_to_json_mode_for_good() -> None:
    with JudgeServer(reject_json_schema=True) as srv:
        backend = make_backend(srv, max_retries=0)

        async def scenario() -> None:
            first = await backend.complete(request(srv, "a", response_format=SCHEMA))
            second = await backend.complete(request(srv, "b", response_format=SCHEMA))
            assert first.content == second.content == '{"reasoning": "ok", "score": 4}'

        asyncio.run(scenario())
        formats = [r.body["response_format"] if r.body else None for r in srv.requests]
    assert formats == [SCHEMA, {"type": "json_object"}, {"type": "json_object"}]
    assert backend.formats.current == "json_object"
    assert backend.stats.requests == 3 and backend.stats.retries == 0


def test_json_schema_false_sends_json_mode_from_the_start(server: JudgeServer) -> None:
    backend = make_backend(server, json_schema=False)
    asyncio.run(backend.complete(request(server, response_format=SCHEMA)))
    assert server.requests[0].body is not None
    assert server.requests[0].body["response_format"] == {"type": "json_object"}


def test_a_400_unrelated_to_the_schema_is_not_retried(server: JudgeServer) -> None:
    server.script([status(400, message="messages must not be empty")])
    backend = make_backend(server)
    with pytest.raises(JudgeCallError) as err:
        asyncio.run(backend.complete(request(server, response_format=SCHEMA)))
    assert err.value.cause == "bad_request"
    assert "messages must not be empty" in str(err.value)
    assert backend.supports_json_schema and server.stats.requests == 1


def test_stop_cancels_calls_waiting_for_a_retry(server: JudgeServer) -> None:
    server.script([status(503, retry_after=30)])
    backend = make_backend(server)

    async def scenario() -> None:
        call = asyncio.create_task(backend.complete(request(server)))
        while server.stats.requests == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        backend.stop()
        with pytest.raises(JudgeCallError) as err:
            await asyncio.wait_for(call, timeout=2)
        assert err.value.cause == "cancelled"
        with pytest.raises(JudgeCallError, match="cancelled"):
            await backend.complete(request(server))

    asyncio.run(scenario())
    assert server.stats.requests == 1 and backend.stopped


def test_stop_cancels_calls_waiting_for_a_slot(server: JudgeServer) -> None:
    server.script([hang(0.3)])
    backend = make_backend(server, concurrency=1)

    async def scenario() -> list[str]:
        calls = [asyncio.create_task(backend.complete(request(server, str(i)))) for i in range(3)]
        while server.stats.requests == 0:
            await asyncio.sleep(0.01)
        backend.stop()
        results = await asyncio.gather(*calls, return_exceptions=True)
        return [r.cause if isinstance(r, JudgeCallError) else "done" for r in results]

    # the request already on the wire completes; the two waiting for a slot do not start
    assert asyncio.run(scenario()) == ["done", "cancelled", "cancelled"]
    assert server.stats.requests == 1


def test_backend_can_be_reused_across_event_loops(server: JudgeServer) -> None:
    backend = make_backend(server)
    for text in ["first loop", "second loop"]:
        assert asyncio.run(backend.complete(request(server, text))).content is not None
    assert server.stats.requests == 2


# -- the lazily built backend ------------------------------------------------------
def lazy_backend(srv: JudgeServer, **kwargs: Any) -> LazyOpenAIBackend:
    settings: dict[str, Any] = {"timeout": 5.0, "backoff_base": 0.01, "seed": 0}
    settings.update(kwargs)
    return LazyOpenAIBackend("judge-1", srv.base_url + "/", KEY, **settings)


def test_lazy_backend_answers_like_the_real_one_before_building_it(server: JudgeServer) -> None:
    lazy: JudgeBackend = lazy_backend(server, json_schema=False)
    real = make_backend(server, json_schema=False)
    described = [(b.identity, b.base_url, b.model, b.supports_json_schema) for b in (lazy, real)]
    assert described[0] == described[1] == (
        f"openai-compatible judge-1 @ {server.base_url}", server.base_url, "judge-1", False
    )
    assert isinstance(lazy, LazyOpenAIBackend) and lazy.built is None
    assert KEY not in repr(lazy)


def test_lazy_backend_builds_on_the_first_request_and_keeps_the_settings() -> None:
    with JudgeServer(reject_json_schema=True) as srv:
        backend = lazy_backend(srv, max_retries=0)
        assert backend.supports_json_schema
        completion = asyncio.run(backend.complete(request(srv, "a", response_format=SCHEMA)))
        built = backend.built
        assert built is not None and backend.backend() is built
        assert completion.content == '{"reasoning": "ok", "score": 4}'
        # the endpoint's rejection of json_schema changes the wire, not what judges render
        assert backend.supports_json_schema and built.formats.current == "json_object"
        assert built.stats.requests == 2
        assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_lazy_backend_stopped_before_its_first_request_sends_nothing(
    server: JudgeServer,
) -> None:
    backend = lazy_backend(server)
    backend.stop()
    with pytest.raises(JudgeCallError) as err:
        asyncio.run(backend.complete(request(server)))
    assert err.value.cause == "cancelled"
    assert server.stats.requests == 0
    asyncio.run(backend.aclose())


def test_making_the_openai_backend_does_not_import_the_sdk() -> None:
    script = (
        "import sys\n"
        "from pytest_llmfunnel.config import Settings\n"
        "from pytest_llmfunnel.endpoint.factory import make_backend\n"
        "backend = make_backend(Settings(base_url='http://127.0.0.1:9/v1', api_key='k'))\n"
        "print(type(backend).__name__, backend.identity, 'openai' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == [
        "LazyOpenAIBackend", "openai-compatible", "gpt-4o-mini", "@", "http://127.0.0.1:9/v1",
        "False",
    ]
