"""The RAG judges: their answers, the scores computed from them, missing fields, offline rules.

The judges take an ``Output`` with its retrieved chunks directly. Answers are
completions as an endpoint would send them; the network path (the real
client, the loopback server, a diskcache store) is in
``tests/integration/test_rag_judges_endpoint.py``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pytest_llmfunnel import Case, judges
from pytest_llmfunnel.funnel import offline_rag
from pytest_llmfunnel.funnel.backend import Completion, JudgeRequest, NullStore
from pytest_llmfunnel.funnel.judge_answers import JudgeParseError, strict_schema
from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge
from pytest_llmfunnel.funnel.offline_words import PREFIX
from pytest_llmfunnel.funnel.rag_answers import (
    ContextPrecisionAnswer,
    RagSubject,
    average_precision,
)
from pytest_llmfunnel.funnel.stages.judge import run_judge
from pytest_llmfunnel.funnel.stages.judge_kinds import RubricJudge
from pytest_llmfunnel.funnel.stages.rag_judges import RagJudge
from pytest_llmfunnel.models import StageResult, Usage
from pytest_llmfunnel.output import Chunk, Output

CASE = Case(
    id="refund-time",
    input="How long does a refund take?",
    expected="Refunds are paid within 14 days. The money goes back to the original card.",
)
CHUNKS = (
    Chunk(text="Helmets are sold in the shop.", id="shop-1"),
    Chunk(text="Refunds are paid within 14 days to the original card.", id="refund-1"),
    Chunk(text="A refund is requested in the app under Orders.", id="refund-2"),
)
OUTPUT = Output(text="Refunds are paid within 14 days. We give a free helmet.", context=CHUNKS)


def completion(answer: dict[str, Any] | str) -> Completion:
    content = answer if isinstance(answer, str) else json.dumps(answer)
    return Completion(content, "stop", Usage(), "judge-1")


def request_for(judge: RagJudge, output: Output = OUTPUT, case: Case = CASE) -> JudgeRequest:
    (request,) = judge.requests(case, output, model="m", base_url="u", json_schema=True)
    return request


def parse(judge: RagJudge, answer: dict[str, Any] | str) -> tuple[float, str]:
    return judge.parse(completion(answer), request_for(judge))


def offline(judge: RubricJudge, output: Output | str = OUTPUT, case: Case = CASE) -> StageResult:
    return asyncio.run(
        run_judge(judge, case, output, backend=OfflineReferenceJudge(), store=NullStore())
    )


# -- the score each judge computes ------------------------------------------------


@pytest.mark.parametrize(
    ("ranking", "expected"),
    [
        ([True, False, True, False, False], (1 / 1 + 2 / 3) / 2),  # textbook: 0.8333
        ([False, True], 0.5),
        ([True, True, True], 1.0),
        ([False, False, True], 1 / 3),
        ([False, False], 0.0),
        ([], 0.0),
    ],
)
def test_average_precision_known_answers(ranking: list[bool], expected: float) -> None:
    assert average_precision(ranking) == pytest.approx(expected)


def test_faithfulness_is_the_supported_share_and_names_claims_and_chunks() -> None:
    score, reasoning = parse(
        judges.rag_faithfulness(),
        {
            "reasoning": "the helmet is not in the chunks",
            "claims": [
                {"claim": "Refunds are paid within 14 days.", "supported": True, "chunk": 2},
                {"claim": "We give a free helmet.", "supported": False, "chunk": None},
            ],
        },
    )
    assert score == 0.5
    assert reasoning == (
        "1 of 2 claims supported by the chunks; unsupported: 'We give a free helmet.'; "
        "chunk 2 supports 'Refunds are paid within 14 days.'. the helmet is not in the chunks"
    )


def test_an_answer_without_claims_has_nothing_unsupported() -> None:
    score, reasoning = parse(judges.rag_faithfulness(), {"reasoning": "r", "claims": []})
    assert score == 1.0 and reasoning.startswith("no factual claims")


def test_context_precision_is_order_aware_and_context_relevance_is_not() -> None:
    verdicts = {
        "reasoning": "r",
        "chunks": [
            {"chunk": 2, "relevant": True, "reason": "refund time"},
            {"chunk": 1, "relevant": False, "reason": "helmets"},
            {"chunk": 3, "relevant": True, "reason": "refunds"},
        ],
    }
    # Ranked: irrelevant, relevant, relevant -> AP = (1/2 + 2/3) / 2.
    score, reasoning = parse(judges.context_precision(), verdicts)
    assert score == round((1 / 2 + 2 / 3) / 2, 4) == 0.5833
    assert reasoning.startswith(
        "2 of 3 chunks relevant (1- 2+ 3+); average precision 0.5833, share relevant 0.6667; "
        "chunk 1: 'helmets'."
    )
    relevance = judges.context_precision(order_aware=False)
    assert relevance.name == "context_relevance"
    assert parse(relevance, verdicts)[0] == 0.6667


def test_context_recall_is_the_attributed_share_of_the_expected_claims() -> None:
    score, reasoning = parse(
        judges.context_recall(),
        {
            "reasoning": "r",
            "claims": [
                {"claim": "Refunds take 14 days.", "attributed": True, "chunk": 2},
                {"claim": "Back to the card.", "attributed": True, "chunk": 2},
                {"claim": "A fee of 5 EUR.", "attributed": False, "chunk": None},
            ],
        },
    )
    assert score == 0.6667
    assert "missing: 'A fee of 5 EUR.'" in reasoning


def test_answer_relevance_is_the_relevant_share_and_zero_when_noncommittal() -> None:
    statements = [
        {"statement": "Refunds take 14 days.", "relevant": True},
        {"statement": "Helmets are nice.", "relevant": False},
    ]
    judge = judges.answer_relevance()
    answer = {"reasoning": "r", "noncommittal": False, "statements": statements}
    assert parse(judge, answer)[0] == 0.5
    score, reasoning = parse(judge, {**answer, "noncommittal": True})
    assert score == 0.0 and reasoning.startswith("noncommittal answer, so 0")


# -- answers that cannot be used are errors, never a score ---------------------------


@pytest.mark.parametrize(
    ("judge", "answer", "cause"),
    [
        (judges.rag_faithfulness(), {"reasoning": "r", "claims": [
            {"claim": "c", "supported": True, "chunk": 4}]}, "out_of_range"),
        (judges.rag_faithfulness(), {"reasoning": "r", "claims": [
            {"claim": "c", "supported": True, "chunk": None}]}, "schema"),
        (judges.rag_faithfulness(), {"reasoning": "r", "claims": [
            {"claim": "c", "supported": False, "chunk": 1}]}, "schema"),
        (judges.rag_faithfulness(), {"reasoning": "r", "claims": [
            {"claim": "c", "supported": "true", "chunk": 1}]}, "schema"),
        (judges.rag_faithfulness(), {"reasoning": "r", "claims": [
            {"claim": "c", "supported": True, "chunk": 0}]}, "out_of_range"),
        (judges.context_precision(), {"reasoning": "r", "chunks": [
            {"chunk": 1, "relevant": True, "reason": "x"},
            {"chunk": 2, "relevant": True, "reason": "x"}]}, "schema"),  # chunk 3 left out
        (judges.context_precision(), {"reasoning": "r", "chunks": [
            {"chunk": n, "relevant": True, "reason": "x"} for n in (1, 2, 2, 3)]}, "schema"),
        (judges.context_recall(), {"reasoning": "r", "claims": []}, "schema"),
        (judges.answer_relevance(), {"reasoning": "r", "statements": []}, "schema"),
        (judges.answer_relevance(), '{"reasoning": "r", "score": 1}', "schema"),
        (judges.context_recall(), "The claims are all there. score: 1", "not_json"),
    ],
    ids=[
        "chunk-out-of-range", "supported-without-chunk", "unsupported-with-chunk",
        "string-boolean", "chunk-zero", "chunk-left-out", "chunk-twice", "recall-no-claims",
        "noncommittal-missing", "a-rubric-answer", "prose",
    ],
)
def test_unusable_answers_raise_a_parse_error(
    judge: RagJudge, answer: dict[str, Any] | str, cause: str
) -> None:
    with pytest.raises(JudgeParseError) as raised:
        parse(judge, answer)
    assert raised.value.cause == cause


def test_the_answer_schema_inlines_the_nested_verdicts_strictly() -> None:
    schema = strict_schema(ContextPrecisionAnswer)
    assert "$defs" not in json.dumps(schema) and "$ref" not in json.dumps(schema)
    assert schema["properties"]["chunks"]["items"] == {
        "type": "object",
        "properties": {
            "chunk": {"type": "integer"},
            "relevant": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        "required": ["chunk", "relevant", "reason"],
        "additionalProperties": False,
    }


# -- missing fields are errors, never a pass ---------------------------------------


@pytest.mark.parametrize(
    "judge",
    [judges.rag_faithfulness(), judges.context_precision(), judges.context_recall()],
    ids=lambda j: j.name,
)
@pytest.mark.parametrize("output", ["a plain string", Output(text="no chunks")], ids=["str", "out"])
def test_an_output_without_chunks_is_an_error_that_names_the_field(
    judge: RagJudge, output: str | Output
) -> None:
    result = offline(judge, output)
    assert result.status == "error" and result.score is None
    assert f"judge {judge.name!r} needs the retrieved chunks (the output's context)" in (
        result.reason or ""
    )
    assert "return an Output with context=[Chunk(text=...), ...]" in (result.reason or "")


@pytest.mark.parametrize("expected", [None, "", "   "])
def test_context_recall_without_an_expected_answer_is_an_error(expected: str | None) -> None:
    case = CASE.model_copy(update={"expected": expected})
    result = offline(judges.context_recall(), case=case)
    assert result.status == "error"
    assert "needs an expected answer but case 'refund-time' has none" in (result.reason or "")


def test_answer_relevance_needs_no_chunks() -> None:
    assert offline(judges.answer_relevance(), "Refunds take 14 days.").status == "passed"


def test_a_rag_judge_keeps_to_its_own_scale_and_kinds() -> None:
    with pytest.raises(ValueError, match="a RAG judge's scale is 0-1"):
        judges.rag_faithfulness(scale=(1, 5))
    with pytest.raises(ValueError, match="aspect must be one of"):
        RagJudge("x", "c", "r", scale=(0, 1), aspect="tone")  # type: ignore[arg-type]
    judge = judges.context_recall(threshold=0.5, gating=True, repeats=3)
    assert (judge.pass_threshold, judge.gating, judge.repeats) == (0.5, True, 3)
    assert len(judge.requests(CASE, OUTPUT, model="m", base_url="u", json_schema=True)) == 3
    assert judges.rag_faithfulness().pass_threshold == 0.75
    assert judge.valid_score(0.0) and judge.valid_score(1.0) and not judge.valid_score(1.5)


# -- the offline reference judge's rules -----------------------------------------------


def subject(kind: str, output: str = OUTPUT.text) -> RagSubject:
    request = request_for(
        {
            "faithfulness": judges.rag_faithfulness(),
            "context_precision": judges.context_precision(),
            "context_recall": judges.context_recall(),
            "answer_relevance": judges.answer_relevance(),
        }[kind],
        Output(text=output, context=CHUNKS),
    )
    assert isinstance(request.subject, RagSubject)
    return request.subject


def test_offline_faithfulness_rule_per_claim() -> None:
    answer = offline_rag.answer(subject("faithfulness"))
    assert answer["claims"] == [
        {"claim": "Refunds are paid within 14 days.", "supported": True, "chunk": 2},
        {"claim": "We give a free helmet.", "supported": False, "chunk": None},
    ]
    assert str(answer["reasoning"]).startswith(f"{PREFIX}, RAG faithfulness rule: ")


def test_offline_precision_rule_per_chunk() -> None:
    # Question content words: refund (and "take"): chunk 1 holds neither.
    answer = offline_rag.answer(subject("context_precision"))
    assert [(c["chunk"], c["relevant"]) for c in answer["chunks"]] == [  # type: ignore[attr-defined]
        (1, False), (2, True), (3, True)
    ]


def test_offline_recall_rule_per_expected_claim() -> None:
    answer = offline_rag.answer(subject("context_recall"))
    assert answer["claims"] == [
        {"claim": "Refunds are paid within 14 days.", "attributed": True, "chunk": 2},
        {"claim": "The money goes back to the original card.", "attributed": False,
         "chunk": None},
    ]


def test_offline_answer_relevance_rule_and_noncommittal_phrases() -> None:
    answer = offline_rag.answer(subject("answer_relevance"))
    assert answer["noncommittal"] is False
    assert answer["statements"] == [
        {"statement": "Refunds are paid within 14 days.", "relevant": True},
        {"statement": "We give a free helmet.", "relevant": False},
    ]
    evasive = offline_rag.answer(subject("answer_relevance", "It depends on your refund."))
    assert evasive["noncommittal"] is True
    assert "noncommittal phrases found: it depends" in str(evasive["reasoning"])


def test_offline_rag_verdicts_are_scored_by_the_same_parser_and_labelled() -> None:
    expected = {
        "rag_faithfulness": ("failed", 0.5),
        "context_precision": ("failed", round((1 / 2 + 2 / 3) / 2, 4)),
        "context_relevance": ("failed", 0.6667),
        "context_recall": ("failed", 0.5),
        "answer_relevance": ("failed", 0.5),
    }
    made = [
        judges.rag_faithfulness(), judges.context_precision(),
        judges.context_precision(order_aware=False), judges.context_recall(),
        judges.answer_relevance(),
    ]
    for judge in made:
        result = offline(judge)
        assert (result.status, result.score) == expected[judge.name], judge.name
        assert result.verdict is not None
        assert result.verdict.judge == OfflineReferenceJudge.identity
        assert PREFIX in result.verdict.reasoning


def test_a_faithful_answer_from_the_right_chunk_passes_offline() -> None:
    good = Output(text="Refunds are paid within 14 days to the original card.", context=CHUNKS)
    assert offline(judges.rag_faithfulness(), good).score == 1.0
    assert offline(judges.answer_relevance(), good).status == "passed"


def test_the_offline_rubric_faithfulness_rule_reads_the_chunks_when_the_case_has_no_context(
) -> None:
    case = Case(id="c", input="How long does a refund take?")
    good = Output(text="Refunds are paid within 14 days.", context=CHUNKS)
    made_up = Output(text="Refunds come with a free helmet voucher.", context=CHUNKS[1:])
    assert offline(judges.faithfulness(), good, case).status == "passed"
    result = offline(judges.faithfulness(), made_up, case)
    assert result.status == "failed"
    assert "0 of 4 (0%)" in (result.reason or "") and "helmet, voucher" in (result.reason or "")
