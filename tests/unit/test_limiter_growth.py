"""The default concurrency grows while the endpoint keeps up, and halves on rate limits.

Plain tests of :class:`AdaptiveLimiter` on an event loop with simulated
answers: latencies are numbers passed in, never measured.
"""

from __future__ import annotations

import asyncio

from pytest_llmfunnel.config import GROWN_CONCURRENCY, resolve_settings
from pytest_llmfunnel.endpoint.retry import AdaptiveLimiter


async def wave(limiter: AdaptiveLimiter, demand: int, latency: float) -> list[int]:
    """``demand`` requests want a slot; each answers after ``latency`` (simulated).

    Returns the ticket of every request, in the order they got a slot.
    """
    tickets: list[int] = []

    async def one() -> None:
        ticket = await limiter.acquire()
        tickets.append(ticket)
        await asyncio.sleep(0)  # on the wire
        limiter.release()
        limiter.succeeded(latency=latency)

    await asyncio.gather(*(one() for _ in range(demand)))
    return tickets


def test_with_requests_waiting_each_quick_answer_raises_the_limit_up_to_the_ceiling() -> None:
    limiter = AdaptiveLimiter(16, ceiling=64)

    async def scenario() -> list[int]:
        seen = []
        for _ in range(4):
            await wave(limiter, 200, latency=0.3)
            seen.append(limiter.current)
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] > 16 and seen[-1] == 64
    assert limiter.max_in_flight <= 64
    assert limiter.probing


def test_without_a_ceiling_the_limit_never_grows() -> None:
    limiter = AdaptiveLimiter(16)
    asyncio.run(wave(limiter, 200, latency=0.3))
    assert limiter.current == 16 and limiter.max_in_flight == 16
    assert not limiter.probing


def test_without_requests_waiting_there_is_nothing_to_grow_for() -> None:
    limiter = AdaptiveLimiter(16, ceiling=64)
    asyncio.run(wave(limiter, 10, latency=0.3))
    assert limiter.current == 16


def test_a_slow_answer_holds_the_limit_where_it_is() -> None:
    limiter = AdaptiveLimiter(16, ceiling=64)

    async def scenario() -> None:
        await wave(limiter, 40, latency=0.3)
        reached = limiter.current
        await wave(limiter, 200, latency=0.9)  # three times the fastest: the endpoint queues
        assert limiter.current == reached
        await wave(limiter, 200, latency=0.5)  # flat again (within twice the fastest)
        assert limiter.current > reached

    asyncio.run(scenario())


def test_a_rate_limit_halves_ends_the_probing_and_recovery_stops_where_it_hit() -> None:
    limiter = AdaptiveLimiter(16, floor=4, ceiling=64, recover_after=2)

    async def scenario() -> None:
        await wave(limiter, 200, latency=0.3)
        hit = limiter.current
        assert hit > 16
        ticket = await limiter.acquire()
        limiter.release()
        limiter.rate_limited(ticket)
        assert limiter.current == hit // 2 and not limiter.probing
        for _ in range(20):
            await wave(limiter, 200, latency=0.3)
        assert limiter.current == hit  # recovered additively, and no further

    asyncio.run(scenario())


def test_rate_limits_never_push_it_below_the_floor() -> None:
    limiter = AdaptiveLimiter(16, floor=4, ceiling=64)

    async def scenario() -> None:
        for _ in range(10):
            ticket = await limiter.acquire()
            limiter.release()
            limiter.rate_limited(ticket)

    asyncio.run(scenario())
    assert limiter.current == 4


def test_the_default_concurrency_grows_and_a_concurrency_you_set_is_kept() -> None:
    assert resolve_settings({}, enabled=True, env={}).max_concurrency == GROWN_CONCURRENCY
    assert resolve_settings({}, enabled=True, env={}).concurrency < GROWN_CONCURRENCY
    set_8 = resolve_settings({"llm_funnel_concurrency": "8"}, enabled=True, env={})
    assert set_8.max_concurrency == 8
    env_set = resolve_settings({}, enabled=True, env={"LLM_FUNNEL_CONCURRENCY": "8"})
    assert env_set.max_concurrency == 8
    both = resolve_settings(
        {"llm_funnel_concurrency": "8", "llm_funnel_max_concurrency": "32"}, enabled=True, env={}
    )
    assert (both.concurrency, both.max_concurrency) == (8, 32)


def test_a_503_ends_the_growth_without_halving() -> None:
    limiter = AdaptiveLimiter(16, ceiling=64)

    async def scenario() -> None:
        await wave(limiter, 40, latency=0.3)
        reached = limiter.current
        limiter.overloaded()
        await wave(limiter, 200, latency=0.3)
        assert limiter.current == reached and not limiter.probing

    asyncio.run(scenario())
