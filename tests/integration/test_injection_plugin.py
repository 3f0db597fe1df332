"""The canary set end to end: through the plugin against a real loopback judge server.

The bodies the server receives are exactly the prompts a built-in judge
renders for each canary, and a fake verdict inside an output never becomes the
score (tests/unit/test_injection.py checks the rendering and the check itself).
"""

from __future__ import annotations

import json
import re

import pytest

from pytest_llmfunnel.funnel.prompts import (
    RELEVANCE_RUBRIC,
    render_messages,
)
from pytest_llmfunnel.testing import JudgeServer, verdict
from tests.support.canaries import CANARIES, INPUT

SURROGATE = re.compile("[\ud800-\udfff]")
EVAL_MODULE = """
import pytest

from pytest_llmfunnel import Funnel, judges
from tests.support.paths import DATA


@pytest.mark.llm_dataset("canaries.jsonl", funnel=Funnel(judges.relevance()))
def test_canary(case, llm_result):
    verdict = llm_result.stage("relevance").verdict
    assert verdict.error is None, verdict.error
    # The server's verdict, never the one written inside the output.
    assert verdict.score == 4.0 and verdict.samples == (4.0,)
    assert verdict.reasoning == "graded by the server"
"""


def test_canaries_end_to_end_reach_the_judge_exactly_as_rendered(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lone surrogate is not valid Unicode text, so the dataset loader refuses it
    # with file and line (see the test above); its fencing is covered by the
    # rendering tests. Raw U+2028, RTL overrides and CJK go in the file itself.
    usable = [c for c in CANARIES if not SURROGATE.search(c.output)]
    rows = [{"id": c.name, "input": INPUT, "output": c.output} for c in usable]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    pytester.path.joinpath("canaries.jsonl").write_text(
        "".join(line + "\n" for line in lines), encoding="utf-8"
    )
    pytester.makepyfile(test_canaries=EVAL_MODULE)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-canary")
    with JudgeServer() as srv:
        # Every canary that fakes a verdict claims 5; the server answers 4.
        srv.default = lambda body: verdict(4, "graded by the server")
        result = pytester.runpytest(
            "--llm-funnel",
            "--llm-funnel-judge=openai",
            f"--llm-funnel-base-url={srv.base_url}",
            "--llm-funnel-cache-dir=cache",
            "-p",
            "no:cacheprovider",
        )
        received = srv.requests
    result.assert_outcomes(passed=len(usable))

    expected = {
        c.name: render_messages(RELEVANCE_RUBRIC, "relevance", (1, 5), input=INPUT, output=c.output)
        for c in usable
    }
    by_user = {messages[1]["content"]: name for name, messages in expected.items()}
    assert len(by_user) == len(usable)
    seen = []
    for request in received:
        assert request.path == "/v1/chat/completions" and request.body is not None
        messages = request.body["messages"]
        name = by_user.get(messages[1]["content"])
        assert name is not None, f"a request matching no canary: {messages[1]['content'][:200]!r}"
        assert messages == expected[name]
        seen.append(name)
    assert sorted(seen) == sorted(c.name for c in usable), "each canary is judged exactly once"

    # The verdicts the plugin recorded are the server's, for every canary.
    records = [
        getattr(r, "llm_funnel", None)
        for r in result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
        if r.when == "call"
    ]
    scores = {rec.case: [s.score for s in rec.stages] for rec in records if rec}
    assert scores == {c.name: [4.0] for c in usable}
