"""The default concurrency grows against a real endpoint: the SDK over loopback HTTP."""

from __future__ import annotations

import asyncio

from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
from pytest_llmfunnel.funnel.backend import JudgeRequest
from pytest_llmfunnel.testing import JudgeServer

KEY = "sk-growth-test-0123456789"


def ask_all(backend: OpenAIJudgeBackend, srv: JudgeServer, count: int) -> None:
    async def run() -> None:
        requests = [
            JudgeRequest(
                body={"model": "judge-1", "messages": [{"role": "user", "content": f"q{i}"}]},
                base_url=srv.base_url,
            )
            for i in range(count)
        ]
        await asyncio.gather(*(backend.complete(r) for r in requests))
        await backend.aclose()

    asyncio.run(run())


def test_with_work_waiting_the_limit_grows_past_the_start_and_stays_under_the_ceiling() -> None:
    with JudgeServer(latency=0.2) as srv:
        backend = OpenAIJudgeBackend(
            "judge-1", srv.base_url, KEY, concurrency=4, max_concurrency=12, timeout=30.0
        )
        ask_all(backend, srv, 40)
        # The first answer comes back while 36 requests wait: it raises the limit.
        assert 4 < backend.stats.max_in_flight <= 12
        assert srv.stats.max_inflight <= 12 and srv.stats.requests == 40


def test_a_concurrency_without_a_ceiling_stays_where_it_is() -> None:
    with JudgeServer(latency=0.2) as srv:
        backend = OpenAIJudgeBackend("judge-1", srv.base_url, KEY, concurrency=4, timeout=30.0)
        ask_all(backend, srv, 20)
        assert backend.stats.max_in_flight == 4 and backend.stats.current_limit == 4
        assert srv.stats.max_inflight <= 4
