"""RAG judges in a real pytest session: over HTTP, under xdist, into the baseline and the gate.

Each case's pre-logged output carries its retrieved chunks; the loopback
server answers the context-precision judge with a verdict per chunk it was
shown (a chunk is relevant when its text says "blue"), so the score each case
gets follows from the chunks its prompt fenced.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import pytest_llmfunnel
from pytest_llmfunnel.testing import Action, JudgeServer, ok
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.integration

# The public names load on first use and then stay on the package: load them
# here, before an in-process pytester run imports (and afterwards unloads) the
# classes they name, which a second run would see as different classes.
PUBLIC_API = (pytest_llmfunnel.Funnel, pytest_llmfunnel.judges)

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.context_precision(gating=True)))
def test_rag(case, llm_result):
    pass
"""

CHUNK = re.compile(r"<<<CHUNK (\d+) [0-9a-f]{12}>>>\n(.*?)\n<<<END CHUNK \1 ", re.S)


def rows() -> list[dict[str, Any]]:
    """Six cases; c02 and c05 rank an irrelevant chunk first (AP 0.5 < 0.75)."""
    out = []
    for i in range(6):
        chunks = [{"text": f"Item {i} is a blue box.", "id": f"kb-{i}"},
                  {"text": "Opening hours are 9 to 5.", "id": "hours"}]
        if i in (2, 5):
            chunks.reverse()
        out.append({
            "id": f"c{i:02d}",
            "input": f"What is item {i}?",
            "output": {"text": f"Item {i} is a blue box.", "context": chunks},
        })
    return out


def per_chunk(body: dict[str, Any]) -> Action:
    user = body["messages"][1]["content"]
    verdicts = [
        {"chunk": int(n), "relevant": "blue" in text, "reason": "says blue" if "blue" in text
         else "about something else"}
        for n, text in CHUNK.findall(user)
    ]
    return ok(json.dumps({"reasoning": "per chunk", "chunks": verdicts}))


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_rag_verdicts_reach_the_funnel_the_baseline_and_the_gate(
    pytester: pytest.Pytester, judge_server: JudgeServer, xdist: list[str]
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", rows())
    pytester.makepyfile(test_rag=TEST_FILE)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    judge_server.default = per_chunk
    first = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-json=results.json"), *xdist)
    first.stdout.fnmatch_lines(["*4 passed, 2 llm-failed*"])
    assert judge_server.stats.requests == 6
    text = first.stdout.str()
    assert "c02  context_precision: failed (score 0.5)" in text
    assert "c05  context_precision: failed (score 0.5)" in text
    results = json.loads((pytester.path / "results.json").read_text())
    assert "context_precision" in json.dumps(results)

    written = pytester.runpytest(
        *judge_args(judge_server, "--llm-funnel-update-baseline"), *xdist
    )
    assert written.ret == 0, written.stdout.str()
    baseline = (pytester.path / "baselines" / "test_rag__test_rag.jsonl").read_text()
    header = json.loads(baseline.splitlines()[0])
    assert header["stages"]["context_precision"]["scale"] == [0.0, 1.0]
    assert '"context": [' in baseline  # the chunks are stored with each output

    again = pytester.runpytest(*judge_args(judge_server), *xdist)
    assert again.ret == 0, again.stdout.str()
    again.stdout.fnmatch_lines(["*llm-funnel gate passed: No regression in 2 gated metrics*"])
    assert "context_precision pass rate" in again.stdout.str()
    assert judge_server.stats.requests == 6  # every later verdict came from the cache
