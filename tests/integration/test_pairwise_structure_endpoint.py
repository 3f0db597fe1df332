"""A pairwise judge over structured outputs: the real openai client, the loopback server, diskcache.

The server receives each side's chunks and tool calls fenced before its
output, in both orders; the verdicts are cached on disk, so asking again
sends nothing, and a changed chunk is asked again (both orders, nothing else).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmfunnel import Case, judges
from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
from pytest_llmfunnel.funnel.stages.judge import run_pairwise
from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.models import StageResult
from pytest_llmfunnel.output import Chunk, Output, ToolCall
from pytest_llmfunnel.store.verdict_cache import VerdictStore
from pytest_llmfunnel.testing import JudgeServer, ok
from pytest_llmfunnel.testing.actions import Action

pytestmark = pytest.mark.integration

KEY = "sk-pairwise-test-0123456789"
CASE = Case(id="oslo", input="Book me a flight to Oslo.")
GROUNDED = Output(
    text="Booked SK1, leaving at 9:00.",
    context=(Chunk(text="SK1 leaves at 9:00.", id="f-1"),),
    tool_calls=(ToolCall(name="book_flight", arguments={"to": "OSL"}, result="booked: X1"),),
)
GUESSING = Output(
    text="Booked a flight at noon.",
    tool_calls=(ToolCall(name="search_flights", arguments={"to": "OSL"}),),
)


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as srv:
        yield srv


def user_of(body: JSONObject) -> str:
    content = body["messages"][1]["content"]
    assert isinstance(content, str)
    return content


def prefer_the_grounded_side(body: JSONObject) -> Action:
    """Answer for whichever side shows the booking that its chunk supports."""
    winner = "A" if "Booked SK1" in user_of(body).split("<<<OUTPUT B ")[0] else "B"
    return ok(json.dumps({"reasoning": "the grounded booking is better", "winner": winner}))


def compare(srv: JudgeServer, cache: Path, output_a: Output, output_b: Output) -> StageResult:
    backend = OpenAIJudgeBackend("judge-1", srv.base_url, KEY, timeout=5.0, backoff_base=0.01)
    with VerdictStore(cache) as store:
        return asyncio.run(run_pairwise(
            judges.pairwise(), CASE, output_a, output_b, variant_a="grounded",
            variant_b="guessing", backend=backend, store=store,
        ))


def test_each_side_is_sent_with_its_chunks_and_tool_calls_and_replayed_from_disk(
    server: JudgeServer, tmp_path: Path
) -> None:
    server.default = prefer_the_grounded_side
    result = compare(server, tmp_path / "cache", GROUNDED, GUESSING)
    assert (result.status, result.score) == ("measured", 1.0)
    # The two orders go out concurrently: tell them apart by what they show.
    bodies = [r.body for r in server.requests if r.body is not None]
    first, swapped = sorted(bodies, key=lambda b: "<<<A CHUNK 1 " not in user_of(b))
    user = user_of(first)
    order = [user.index(f"<<<{name} ") for name in (
        "A CHUNK 1", "A TOOL CALL 1", "A TOOL RESULT 1", "OUTPUT A",
        "B TOOL CALL 1", "OUTPUT B")]
    assert order == sorted(order)
    assert "\nbooked: X1\n<<<END A TOOL RESULT 1 " in user
    assert "\nname: search_flights\narguments: {\"to\":\"OSL\"}\n<<<END B TOOL CALL 1 " in user
    other = user_of(swapped)
    assert "\nbooked: X1\n<<<END B TOOL RESULT 1 " in other and "<<<A CHUNK" not in other

    again = compare(server, tmp_path / "cache", GROUNDED, GUESSING)
    assert again.score == 1.0 and again.verdict is not None and again.verdict.cache_hits == 2
    assert server.stats.requests == 2  # both orders answered from the disk


def test_a_changed_chunk_is_judged_again_in_both_orders(
    server: JudgeServer, tmp_path: Path
) -> None:
    answer = ok(json.dumps({"reasoning": "tie", "winner": "tie"}))
    server.script([answer] * 4)
    compare(server, tmp_path / "cache", GROUNDED, GUESSING)
    assert server.stats.requests == 2
    moved = GROUNDED.model_copy(update={"context": (Chunk(text="SK1 leaves at 10:00.", id="f-1"),)})
    result = compare(server, tmp_path / "cache", moved, GUESSING)
    assert result.verdict is not None and result.verdict.cache_hits == 0
    assert server.stats.requests == 4
    assert all("SK1 leaves at 10:00." in user_of(r.body)
               for r in server.requests[2:] if r.body is not None)
