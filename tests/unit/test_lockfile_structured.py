"""A verdict over a structured output survives the lockfile: export, import, replay.

Such a verdict is keyed by its request *and* the output's digest (see
``JudgeRequest.output_digest``); the lockfile must carry that digest, or the
import rejects every such line as damaged and CI cannot replay it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.store.lockfile import LockfileError, export_lockfile, import_lockfile
from pytest_llmfunnel.store.verdict_cache import VerdictStore

BODY = {"model": "judge-1", "messages": [{"role": "user", "content": "grade this"}]}
STRUCTURED = JudgeRequest(body=BODY, base_url="http://judge", output_digest="ab" * 32)
PLAIN = JudgeRequest(body={**BODY, "seed": 1}, base_url="http://judge")
ANSWER = CachedAnswer(score=0.5, reasoning="1 of 2 claims supported", model="judge-1")


def exported(tmp_path: Path) -> Path:
    with VerdictStore(tmp_path / "cache") as store:
        store.put(STRUCTURED, ANSWER, case_id="c1", stage="rag_faithfulness")
        store.put(PLAIN, ANSWER, case_id="c2", stage="relevance")
        export_lockfile(store, tmp_path / "verdicts.lock.jsonl")
    return tmp_path / "verdicts.lock.jsonl"


def test_a_structured_verdict_round_trips_through_the_lockfile(tmp_path: Path) -> None:
    lock = exported(tmp_path)
    with VerdictStore(tmp_path / "replay", mode="replay-only") as store:
        assert import_lockfile(store, lock) == 2
        got = store.get(STRUCTURED, case_id="c1", stage="rag_faithfulness")
        assert got is not None and got.score == 0.5
        assert store.get(PLAIN, case_id="c2", stage="relevance") is not None


def test_a_plain_verdict_line_has_no_output_field(tmp_path: Path) -> None:
    # Lockfiles of plain outputs keep the shape (and checksums) they always had.
    lines = [json.loads(line) for line in exported(tmp_path).read_text().splitlines()[1:]]
    by_stage = {line["stage"]: line for line in lines}
    assert "output" not in by_stage["relevance"]
    assert by_stage["rag_faithfulness"]["output"] == "ab" * 32


def test_an_edited_output_digest_is_caught(tmp_path: Path) -> None:
    lock = exported(tmp_path)
    lock.write_text(lock.read_text().replace("ab" * 32, "cd" * 32))
    with VerdictStore(tmp_path / "replay") as store, pytest.raises(
        LockfileError, match="does not match its request"
    ):
        import_lockfile(store, lock)
