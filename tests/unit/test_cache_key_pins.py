"""Pinned cache keys: the verdict cache and every committed lockfile are keyed by them.

A refactor of how judge requests are built must leave these keys exactly as
they are; a change here invalidates every user's cache and lockfile, so it
must be a deliberate prompt change, said in the changelog.
"""

from __future__ import annotations

import pytest

from pytest_llmfunnel import judges
from pytest_llmfunnel.funnel.stages.judge_kinds import PairwiseJudge, RubricJudge
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Chunk, Output, ToolCall

CASE = Case(
    id="c1",
    input="How do I reset my password?",
    context="Reset links expire after 1 hour.",
    expected="Use the reset link.",
)
ANSWER = "Click the reset link."
CHUNKS = Output(
    text=ANSWER,
    context=(
        Chunk(text="Reset links expire.", id="kb-1", source="kb"),
        Chunk(text="Passwords need 12 characters."),
    ),
)
TOOLS = Output(
    text="Booked.",
    tool_calls=(ToolCall(name="book", arguments={"to": "OSL"}, result={"ok": True}),),
)

PINS: list[tuple[str, RubricJudge | PairwiseJudge, tuple[str | Output, ...], bool, list[str]]] = [
    (
        "relevance, plain text",
        judges.relevance(),
        (ANSWER,),
        True,
        ["09d67017a73bacb9b3d06a0f0d3a98bd6b4bacb3f74a77061f375ac4f23454ff"],
    ),
    (
        "custom pass/fail rubric, plain JSON mode",
        judges.rubric("actionable", "Judge whether...", scale="pass_fail"),
        (ANSWER,),
        False,
        ["d82725c771dbdd2db2a88b5b5cc1f6e89969edfa1fb0c6665923c50463aa60e4"],
    ),
    (
        "faithfulness, two repeats",
        judges.faithfulness(repeats=2),
        (ANSWER,),
        True,
        [
            "bc8d6d4e5f37cb11d7da46d40db83b9ea92d93ab7d788e425d196725007d2168",
            "52fb770a7e7a6b53d55ede2ec8dfe65960cd4adc66dce984fdfd75674b04ff11",
        ],
    ),
    (
        "custom rubric over retrieved chunks",
        judges.rubric("grounded", "Judge whether..."),
        (CHUNKS,),
        True,
        ["ea31c4679983eaeba9aacf3ec76b63c14efdedcaa09e7ff19d8f7f1f1dd3ad02"],
    ),
    (
        "correctness over an output with tool calls",
        judges.correctness(),
        (TOOLS,),
        True,
        ["6cabae443aa52925bc7530dbff4187073f6dc26b1c495434c904b9ea53f7ea08"],
    ),
    (
        "RAG faithfulness",
        judges.rag_faithfulness(),
        (CHUNKS,),
        True,
        ["5eb79cc71f0e186f3373aa021eba454f6ff3fe219445756971ca027fc3e201f6"],
    ),
    (
        "context recall",
        judges.context_recall(),
        (CHUNKS,),
        True,
        ["8e664c89ad89d873e551b721720cddbdf4d781d623eac3d3a8e50641eb5645d3"],
    ),
    (
        "custom rubric over tool calls and their results",
        judges.rubric("grounded", "Judge whether..."),
        (TOOLS,),
        True,
        ["59025305fb0725e69d3c4f253a0549192fb282d1930b4c8306d5dd9c0cb8ef28"],
    ),
    (
        "pairwise over chunks against tool calls, both orders",
        judges.pairwise(),
        (CHUNKS, TOOLS),
        True,
        [
            "d85d23c22b29646f130fd92c5e0351f8e262b5000f500f14a12bedabc31af9d9",
            "cb3f443bb71dc96a0e923e8591f8e33502d70149e6a6ec9348ad0447465c63cc",
        ],
    ),
    (
        "pairwise, plain text, both orders",
        judges.pairwise(),
        (ANSWER, "Open settings."),
        True,
        [
            "3665ed47ab644385283713e0ad6ec4cb73820178c9e786369b309c61fd27cbe7",
            "7051f697b0927f6143342f76824c57d94e2004f13285d02446faee5c56503b32",
        ],
    ),
]


@pytest.mark.parametrize(
    ("judge", "outputs", "json_schema", "keys"),
    [pin[1:] for pin in PINS],
    ids=[pin[0] for pin in PINS],
)
def test_cache_keys_are_pinned(
    judge: RubricJudge | PairwiseJudge,
    outputs: tuple[str | Output, ...],
    json_schema: bool,
    keys: list[str],
) -> None:
    requests = judge.requests(
        CASE,
        *outputs,
        model="gpt-4o-mini",
        base_url="https://api.example/v1",
        json_schema=json_schema,
    )
    assert [r.cache_key() for r in requests] == keys
