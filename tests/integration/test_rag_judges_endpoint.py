"""RAG judges over the network: the real openai client, the loopback server, a diskcache store.

What the server receives is the judge's exact body (chunks fenced one by
one, the nested answer schema); its answer is parsed, scored and cached on
disk; a bad answer is asked again and, if it stays bad, is an error verdict.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel import Case, judges
from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
from pytest_llmfunnel.funnel.stages.judge import run_judge
from pytest_llmfunnel.funnel.stages.rag_judges import RagJudge
from pytest_llmfunnel.models import StageResult
from pytest_llmfunnel.output import Chunk, Output
from pytest_llmfunnel.store.verdict_cache import VerdictStore
from pytest_llmfunnel.testing import JudgeServer, ok

pytestmark = pytest.mark.integration

KEY = "sk-rag-test-0123456789"
CASE = Case(id="refund", input="How long does a refund take?", expected="14 days.")
OUTPUT = Output(
    text="Refunds take 14 days. Helmets are free.",
    context=(
        Chunk(text="Refunds are paid within 14 days.", id="kb-1", source="refunds.md"),
        Chunk(text="Helmets cost 30 EUR.", id="kb-2"),
    ),
)
FAITHFUL = {
    "reasoning": "the helmet claim contradicts chunk 2",
    "claims": [
        {"claim": "Refunds take 14 days.", "supported": True, "chunk": 1},
        {"claim": "Helmets are free.", "supported": False, "chunk": None},
    ],
}


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as srv:
        yield srv


def judge_once(
    srv: JudgeServer, cache: Path, judge: RagJudge, output: Any = OUTPUT
) -> StageResult:
    backend = OpenAIJudgeBackend("judge-1", srv.base_url, KEY, timeout=5.0, backoff_base=0.01)
    with VerdictStore(cache) as store:
        return asyncio.run(run_judge(judge, CASE, output, backend=backend, store=store))


def test_a_rag_verdict_goes_over_http_is_scored_and_replayed_from_disk(
    server: JudgeServer, tmp_path: Path
) -> None:
    server.script([ok(json.dumps(FAITHFUL))])
    first = judge_once(server, tmp_path / "cache", judges.rag_faithfulness())
    assert (first.status, first.score) == ("failed", 0.5)
    assert "unsupported: 'Helmets are free.'" in (first.reason or "")
    assert "chunk 1 supports 'Refunds take 14 days.'" in (first.reason or "")
    (received,) = server.requests
    assert received.body is not None
    user = received.body["messages"][1]["content"]
    assert "id: kb-1\nsource: refunds.md\n\nRefunds are paid within 14 days.\n<<<END CHUNK 1 " in (
        user
    )
    assert "<<<CHUNK 2 " in user and "<<<CONTEXT" not in user
    schema = received.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["claims"]["items"]["additionalProperties"] is False

    again = judge_once(server, tmp_path / "cache", judges.rag_faithfulness())
    assert (again.status, again.score) == ("failed", 0.5)
    assert again.verdict is not None and again.verdict.cache_hits == 1
    assert server.stats.requests == 1  # answered from the diskcache, not the server


def test_an_answer_citing_a_chunk_that_does_not_exist_is_asked_again(
    server: JudgeServer, tmp_path: Path
) -> None:
    bad = {**FAITHFUL, "claims": [{"claim": "x", "supported": True, "chunk": 7}]}
    server.script([ok(json.dumps(bad)), ok(json.dumps(FAITHFUL))])
    result = judge_once(server, tmp_path / "cache", judges.rag_faithfulness())
    assert (result.status, result.score) == ("failed", 0.5)
    assert server.stats.requests == 2


def test_an_answer_that_stays_unusable_is_an_error_and_nothing_is_cached(
    server: JudgeServer, tmp_path: Path
) -> None:
    half = {"reasoning": "r", "chunks": [{"chunk": 1, "relevant": True, "reason": "x"}]}
    server.script([ok(json.dumps(half))] * 3)
    result = judge_once(server, tmp_path / "cache", judges.context_precision())
    assert result.status == "error" and result.score is None
    assert "must list each of the chunks 1-2 exactly once" in (result.reason or "")
    assert server.stats.requests == 3
    server.script([ok(json.dumps({**half, "chunks": [
        {"chunk": 1, "relevant": True, "reason": "x"},
        {"chunk": 2, "relevant": False, "reason": "y"},
    ]}))])
    fixed = judge_once(server, tmp_path / "cache", judges.context_precision())
    assert (fixed.status, fixed.score) == ("passed", 1.0)
    assert server.stats.requests == 4


def test_a_missing_chunk_list_never_reaches_the_server(
    server: JudgeServer, tmp_path: Path
) -> None:
    result = judge_once(server, tmp_path / "cache", judges.context_recall(), "plain text")
    assert result.status == "error" and "needs the retrieved chunks" in (result.reason or "")
    assert server.stats.requests == 0
