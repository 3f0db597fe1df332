"""Conversations in a real pytest session: a target called turn by turn, judged over HTTP.

The target is called once per scripted turn with the history; it writes one
line per call to ``calls.txt`` (so calls are counted across xdist workers).
One turn fails transiently once (retried), one raises (a target error naming
the turn). The judges are answered by the loopback OpenAI-compatible server.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import pytest_llmfunnel
from pytest_llmfunnel.testing import Action, JudgeServer, ok
from tests.support.doc_pages import words as _words
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.integration

PUBLIC_API = (pytest_llmfunnel.Funnel, pytest_llmfunnel.judges, pytest_llmfunnel.conversations)

TEST_FILE = """
import pathlib
import pytest
from pytest_llmfunnel import Funnel, TransientTargetError, checks, conversations

CALLS = pathlib.Path(__file__).parent / "calls.txt"


def bot(case):
    user = case.input[-1].content
    seen = CALLS.read_text().count(user) if CALLS.exists() else 0
    with CALLS.open("a") as f:
        f.write(user + "\\n")
    if "flaky" in user and seen == 0:
        raise TransientTargetError("upstream busy")
    if "boom" in user:
        raise RuntimeError("the model server fell over")
    said = " ".join(m.content for m in case.input if m.role == "user")
    order = "".join(c for c in said if c.isdigit())
    return f"About order {order}: noted." if order else "What is your order number?"


FUNNEL = Funnel(
    conversations.each_turn(checks.not_contains("order number?", name="no re-ask")),
    conversations.remembers_facts(),
    target=bot, target_version="v1", target_retries=1, name="chat",
)

@pytest.mark.llm_dataset("chats.jsonl", funnel=FUNNEL)
def test_chat(case, llm_result):
    pass
"""

ROWS: list[dict[str, Any]] = [
    {"id": "ok", "turns": ["My order is 12345.", "Where is it?"]},
    {"id": "flaky", "turns": ["Order 555 please.", "flaky turn here"]},
    {"id": "boom", "turns": ["Order 777.", "boom now", "never reached"]},
    {"id": "forgets", "turns": ["Hello there.", "Thanks a lot!"]},
]

TURN = re.compile(r"<<<(TURN \d+ (?:USER|ASSISTANT)) [0-9a-f]{12}>>>\n(.*?)\n<<<END \1 ", re.S)


def judge(body: dict[str, Any]) -> Action:
    """Pass unless an assistant turn says 'What is your order number?'."""
    user = body["messages"][1]["content"]
    asks = any(name.endswith("ASSISTANT") and "order number?" in text
               for name, text in TURN.findall(user))
    return ok(json.dumps({"reasoning": "asked again" if asks else "kept", "score": 0 if asks
                          else 1}))


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_turn_by_turn_target_faults_judges_and_caches(
    pytester: pytest.Pytester, judge_server: JudgeServer, xdist: list[str]
) -> None:
    write_jsonl(pytester.path / "chats.jsonl", ROWS)
    pytester.makepyfile(test_chat=TEST_FILE)
    judge_server.default = judge
    calls = pytester.path / "calls.txt"

    first = pytester.runpytest(*judge_args(judge_server), "-v", *xdist)
    out = _words(first.stdout.str())
    lines = calls.read_text().splitlines()
    assert lines.count("flaky turn here") == 2  # the transient fault was retried once
    assert lines.count("boom now") == 1  # a hard error is not retried
    assert "never reached" not in lines  # a failed turn ends the conversation
    assert "turn 2 (user: 'boom now'): target raised RuntimeError: the model server fell over" \
        in out
    # The forgetful conversation fails a turn, named 1-based with its user message.
    assert ("forgets no re-ask: failed: 2 of 2 turns failed: turn 1 (user: 'Hello there.'):"
            in out)
    assert "turn 2 (user: 'Thanks a lot!')" in out
    sent = judge_server.stats.requests
    assert sent == 2  # ok and flaky reach the judge; forgets dropped at the per-turn check
    made = len(lines)

    again = pytester.runpytest(*judge_args(judge_server), "-v", *xdist)
    # Recorded conversations (target_version) and cached verdicts: nothing called again,
    # except the conversation whose turn failed (nothing was recorded for it).
    assert len(calls.read_text().splitlines()) == made + 2  # boom: turn 1 and turn 2 again
    assert judge_server.stats.requests == sent
    assert _words(again.stdout.str()).count("PASSED") == _words(first.stdout.str()).count(
        "PASSED")
