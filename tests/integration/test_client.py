"""The judge backend's plumbing: redaction, retry helpers, the limiter, body pass-through.

Network behaviour runs against the loopback server through the real SDK; the
fault scenarios live in ``test_faults.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
from pytest_llmfunnel.endpoint.factory import LazyOpenAIBackend
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
    waits: list[float] = []

    async def scenario() -> OpenAIJudgeBackend:
        in_retry_wait = asyncio.Event()

        async def sleep(seconds: float) -> None:  # a wait only stop() can end
            waits.append(seconds)
            in_retry_wait.set()
            await asyncio.Event().wait()

        backend = make_backend(server, sleep=sleep)
        call = asyncio.create_task(backend.complete(request(server)))
        await asyncio.wait_for(in_retry_wait.wait(), 60)  # a safety net, not a measure
        backend.stop()
        with pytest.raises(JudgeCallError) as err:
            await asyncio.wait_for(call, 60)
        assert err.value.cause == "cancelled"
        with pytest.raises(JudgeCallError, match="cancelled"):
            await backend.complete(request(server))
        return backend

    backend = asyncio.run(scenario())
    assert waits == [30.0]
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
