"""Pre-logged conversations through the judge over HTTP, the cache, the baseline and the gate.

Each row logs a two-turn conversation (``messages``). A tone judge runs on
every turn and a consistency judge on the whole conversation, both answered
by the loopback server. Then the last reply of eight conversations turns
rude: only those turns are asked again (the first turns' requests are
unchanged, so cached), the per-turn failures drop the cases, and the gate
fails naming the turn.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

import pytest_llmfunnel
from pytest_llmfunnel.testing import Action, JudgeServer, ok
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.integration

PUBLIC_API = (pytest_llmfunnel.Funnel, pytest_llmfunnel.judges, pytest_llmfunnel.conversations)

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, conversations, judges

FUNNEL = Funnel(
    conversations.each_turn(judges.tone(gating=True), name="turn tone"),
    conversations.consistent(),
)

@pytest.mark.llm_dataset("logged.jsonl", funnel=FUNNEL)
def test_logged(case, llm_result):
    pass
"""

OUTPUT = re.compile(r"<<<OUTPUT [0-9a-f]{12}>>>\n(.*?)\n<<<END OUTPUT ", re.S)


def rows(rude: int = 0) -> list[dict[str, Any]]:
    """Twelve logged conversations; the last ``rude`` end with a rude reply."""
    out = []
    for i in range(12):
        last = "Figure it out yourself." if i >= 12 - rude else f"Parcel {i} ships today."
        out.append({"id": f"chat{i:02d}", "messages": [
            {"role": "user", "content": f"Hello, order {i}."},
            {"role": "assistant", "content": f"Thanks, order {i} is noted."},
            {"role": "user", "content": f"When does parcel {i} ship?"},
            {"role": "assistant", "content": last},
        ]})
    return out


def answer(body: dict[str, Any]) -> Action:
    system, user = (m["content"] for m in body["messages"])
    if "evaluator of a conversation" in system:
        return ok(json.dumps({"reasoning": "no contradiction", "score": 1}))
    (reply,) = OUTPUT.findall(user)
    score = 1 if "yourself" in reply else 5
    return ok(json.dumps({"reasoning": "tone", "score": score}))


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_logged_conversations_are_judged_per_turn_and_whole_and_gated(
    pytester: pytest.Pytester, judge_server: JudgeServer, xdist: list[str]
) -> None:
    dataset = pytester.path / "logged.jsonl"
    write_jsonl(dataset, rows())
    pytester.makepyfile(test_logged=TEST_FILE)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    judge_server.default = answer

    written = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"),
                                 *xdist)
    assert written.ret == 0, written.stdout.str()
    written.stdout.fnmatch_lines(["*12 passed*"])
    assert judge_server.stats.requests == 12 * 2 + 12  # a request per turn, one per chat

    again = pytester.runpytest(*judge_args(judge_server), *xdist)
    assert again.ret == 0, again.stdout.str()
    again.stdout.fnmatch_lines(["*llm-funnel gate passed*"])
    assert judge_server.stats.requests == 36  # nothing judged twice

    write_jsonl(dataset, rows(rude=8))
    changed = pytester.runpytest(
        *judge_args(judge_server, "-v", "--llm-funnel-report=report.md",
                    "--llm-funnel-json=results.json"), *xdist)
    # Only the eight changed second turns are new requests; the dropped cases
    # never reach the whole-conversation judge.
    assert judge_server.stats.requests == 36 + 8
    assert changed.ret == 1, changed.stdout.str()
    text = " ".join(changed.stdout.str().split())
    assert re.search(r"4 passed, (\d+ warnings?, )?8 llm-failed", text)
    assert "llm-funnel gate FAILED" in text
    assert ("chat11 turn tone: failed (score 1): 1 of 2 turns failed: turn 2 (user: 'When does "
            "parcel 11 ship?'): score 1 < threshold 4") in text
    # The reports say which turn failed, like the terminal.
    report = html.unescape((pytester.path / "report.md").read_text(encoding="utf-8"))
    assert "**Why:** 1 of 2 turns failed: turn 2 (user: 'When does parcel" in report
    results = (pytester.path / "results.json").read_text(encoding="utf-8")
    assert "1 of 2 turns failed: turn 2 (user: 'When does parcel 11 ship?')" in results
