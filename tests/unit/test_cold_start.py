"""A cold run waits for the judge, not for Python: the client loads early, requests leave early.

Tests of structure, never of time: which runs start loading the ``openai``
client beside collection, and in which order the funnel prepares and sends
requests (one turn of the event loop stands in for a connection).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.endpoint.factory import preload_client
from pytest_llmfunnel.funnel.backend import Completion, JudgeRequest
from pytest_llmfunnel.funnel.runner import Funnel, FunnelRunner, units_for
from pytest_llmfunnel.funnel.stages import judge as judges
from pytest_llmfunnel.models import Case, Usage

OPENAI = {"enabled": True, "judge": "openai", "base_url": "http://127.0.0.1:9/v1"}


def preloads(tmp_path: Path, **changes: object) -> bool:
    settings = Settings(**{**OPENAI, "cache_dir": tmp_path / "cache", **changes})  # type: ignore[arg-type]
    thread = preload_client(settings)
    if thread is not None:
        thread.join()
    return thread is not None


def test_a_run_that_will_send_loads_the_client_beside_collection(tmp_path: Path) -> None:
    assert preloads(tmp_path, cache="off")
    assert preloads(tmp_path)  # the cache folder is not made yet: every verdict misses


@pytest.mark.parametrize(
    "changes",
    [
        {"judge": "offline"},
        {"dry_run": True},
        {"cache": "replay-only"},
    ],
)
def test_a_run_that_sends_nothing_does_not_load_the_client(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    assert not preloads(tmp_path, **changes)


def test_a_warm_cache_leaves_the_client_to_the_first_miss(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    assert not preloads(tmp_path)


class WireBackend:
    """Records when each request is prepared and when it is on the wire.

    Getting on the wire takes one turn of the event loop, as a connection does:
    it happens only when the loop gets to poll for I/O.
    """

    identity = "wire"
    base_url = "http://judge.test/v1"
    model = "m"
    supports_json_schema = True

    def __init__(self) -> None:
        self.events: list[str] = []

    async def complete(self, request: JudgeRequest) -> Completion:
        self.events.append("prepared")
        loop = asyncio.get_running_loop()
        connected = loop.create_future()
        loop.call_soon(connected.set_result, None)
        await connected
        self.events.append("sent")
        answer = json.dumps({"reasoning": "fine", "score": 5})
        return Completion(answer, "stop", Usage(prompt_tokens=10, completion_tokens=5), "m")


def test_the_first_request_leaves_before_the_last_is_prepared() -> None:
    funnel = Funnel(judges.rubric("helpful", "Does it help?", name="helpful"))
    cases = [Case(id=f"c{i}", input=f"q{i}", outputs={"default": f"a{i}"}) for i in range(50)]
    units = [u for case in cases for u in units_for(case, funnel)]
    backend = WireBackend()
    runner = FunnelRunner(backend=backend, concurrency=50)
    results = asyncio.run(runner.run(funnel, units))
    assert [r.stages[-1].status for r in results] == ["passed"] * 50
    assert backend.events.count("sent") == 50
    # All 50 prepared before the first is sent would put the first "sent" at 50.
    assert backend.events.index("sent") <= 3
