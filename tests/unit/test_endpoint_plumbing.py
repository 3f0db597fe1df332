"""The judge backend's plumbing without a network: redaction, retry helpers, the limiter,
the stop signal and the fail-fast rule (their HTTP behaviour: integration/test_client.py
and integration/test_faults.py).
"""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from pytest_llmfunnel.endpoint.backoff import backoff_delay, http_date, retry_after_seconds
from pytest_llmfunnel.endpoint.client import redact
from pytest_llmfunnel.endpoint.health import EndpointHealth, Fault, classify_status
from pytest_llmfunnel.endpoint.retry import (
    AdaptiveLimiter,
    LimiterClosed,
    StallEstimate,
    StopSignal,
)


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
    setter = threading.Thread(target=signal.set)

    async def never_ends(seconds: float) -> None:
        setter.start()  # the sleeper is registered: set the signal from another thread
        await asyncio.Event().wait()

    async def scenario() -> bool:
        # Only the other thread's set() can end this sleep; wait_for is a safety net.
        return await asyncio.wait_for(signal.sleep(10, never_ends), 60)

    assert asyncio.run(scenario()) is False
    setter.join()
    assert signal.is_set()


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
