"""The offline reference judge: each rule on clear cases, scale mapping, pairwise."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pytest_llmfunnel import offline
from pytest_llmfunnel.backend import JudgeCallError, JudgeRequest, JudgeSubject, NullStore
from pytest_llmfunnel.models import Case, Usage
from pytest_llmfunnel.offline import OfflineReferenceJudge
from pytest_llmfunnel.stages import judge as J

JUDGE = OfflineReferenceJudge()


def ask(subject: JudgeSubject) -> dict[str, Any]:
    completion = asyncio.run(JUDGE.complete(JudgeRequest(body={}, base_url="", subject=subject)))
    assert completion.usage == Usage() and completion.finish_reason == "stop"
    assert completion.model == "offline-reference-v1"
    answer: dict[str, Any] = json.loads(completion.content or "")
    return answer


def score(criterion: str, output: str, **fields: Any) -> float:
    fields.setdefault("input", "What is the capital of France?")
    value: float = ask(JudgeSubject(criterion=criterion, output=output, **fields))["score"]
    return value


def test_identity_names_it_plainly() -> None:
    assert JUDGE.identity == "offline-reference-judge v1 (rule-based, not an LLM)"
    assert (JUDGE.base_url, JUDGE.model, JUDGE.supports_json_schema) == (
        "offline://reference",
        "offline-reference-v1",
        True,
    )


def test_relevance_counts_the_inputs_content_words() -> None:
    answer = ask(
        JudgeSubject(
            criterion="relevance",
            input="What is the capital of France?",
            output="The capital of France is Paris.",
        )
    )
    assert answer == {
        "reasoning": "offline reference judge (relevance rule): the output mentions 2 of 2 "
        "(100%) content words of the input -> score 5",
        "score": 5.0,
    }
    assert score("relevance", "Turtles enjoy lettuce.") == 1.0
    # capital (yes), france (no): half of the input's content words -> midpoint of 1-5
    assert score("relevance", "The capital is Paris.") == 3.0


def test_faithfulness_is_the_supported_share_of_output_words() -> None:
    context = "Paris is the capital of France. It has about two million inhabitants."
    assert score("faithfulness", "Paris is the capital of France.", context=context) == 5.0
    answer = ask(
        JudgeSubject(
            criterion="faithfulness",
            input="q",
            output="Paris has ten million inhabitants and a beach.",
            context=context,
        )
    )
    # content words: paris, ten, million, inhabitants, beach -> 3 of 5 supported
    assert answer["score"] == pytest.approx(1 + 0.6 * 4)
    assert "60% of content words supported by the context (3 of 5)" in answer["reasoning"]
    assert "unsupported: beach, ten" in answer["reasoning"]


def test_correctness_is_token_f1() -> None:
    assert score("correctness", "Paris", expected="Paris") == 5.0
    assert score("correctness", "London", expected="Paris") == 1.0
    # "the" is dropped; tokens paris, is, capital vs paris: P=1/3, R=1, F1=0.5 -> 3.0
    assert score("correctness", "Paris is the capital", expected="Paris") == 3.0


def test_coherence_penalises_repetition_and_truncation() -> None:
    good = "Paris is the capital of France. It lies on the Seine. Many tourists visit it."
    assert score("coherence", good) == 5.0
    repeated = "Paris is big. Paris is big. Paris is big. Paris is old."
    # 2 of 4 sentences repeat an earlier one: value 0.5 -> 3.0
    assert score("coherence", repeated) == 3.0
    cut = "Paris is the capital of France and it is known for the"
    assert score("coherence", cut) == 4.0
    assert "stops mid-sentence" in ask(JudgeSubject("coherence", "q", cut))["reasoning"]
    rambling = " ".join(["word"] * 50) + "."
    assert score("coherence", rambling) == 4.0


def test_tone_penalises_rudeness_and_shouting() -> None:
    assert score("tone", "Happy to help: the capital of France is Paris.") == 5.0
    assert score("tone", "Obviously Paris, you idiot.") == pytest.approx(1 + 0.6 * 4)
    shouting = "THE CAPITAL IS PARIS, EVERYONE KNOWS THAT!!"
    answer = ask(JudgeSubject("tone", "q", shouting))
    assert answer["score"] == pytest.approx(1 + 0.5 * 4)
    assert "shouting" in answer["reasoning"] and "piled-up" in answer["reasoning"]


def test_unknown_criterion_uses_the_relevance_rule() -> None:
    answer = ask(JudgeSubject("helpfulness", "What is the capital of France?", "Turtles."))
    assert answer["reasoning"].startswith("offline reference judge (relevance rule)")
    assert answer["score"] == 1.0


def test_empty_output_scores_the_bottom_of_the_scale() -> None:
    for criterion in ("relevance", "coherence", "tone", "faithfulness", "correctness"):
        assert score(criterion, "  ...  ", context="c", expected="e") == 1.0


def test_pass_fail_scale_gives_zero_or_one() -> None:
    good = ask(
        JudgeSubject(
            "relevance", "capital of France?", "France's capital", scale_min=0, scale_max=1
        )
    )
    bad = ask(JudgeSubject("relevance", "capital of France?", "Turtles.", scale_min=0, scale_max=1))
    assert (good["score"], bad["score"]) == (1.0, 0.0)
    assert offline.to_scale(0.5, 0, 10) == 5.0 and offline.to_scale(0.49, 0, 1) == 0.0


def test_missing_subject_or_field_is_a_call_error() -> None:
    with pytest.raises(JudgeCallError) as info:
        asyncio.run(JUDGE.complete(JudgeRequest(body={}, base_url="")))
    assert info.value.cause == "no_subject"
    with pytest.raises(JudgeCallError, match="needs a context"):
        ask(JudgeSubject("faithfulness", "q", "Paris"))


def test_pairwise_picks_the_better_output_in_either_order() -> None:
    good, bad = "The capital of France is Paris.", "Turtles enjoy lettuce."
    first = ask(JudgeSubject("overall", "What is the capital of France?", good, output_b=bad))
    second = ask(JudgeSubject("overall", "What is the capital of France?", bad, output_b=good))
    assert (first["winner"], second["winner"]) == ("A", "B")
    assert first["reasoning"].startswith(
        "offline reference judge (relevance rule, pairwise): A 1.00"
    )
    tie = ask(JudgeSubject("tone", "q", "Thanks, Paris.", output_b="Paris, thanks."))
    assert tie["winner"] == "tie"


def test_answers_are_deterministic() -> None:
    subject = JudgeSubject("coherence", "q", "One sentence. Another one! And a third?")
    assert len({json.dumps(ask(subject)) for _ in range(5)}) == 1


def test_end_to_end_through_the_judge_stages() -> None:
    case = Case(
        id="france",
        input="What is the capital of France?",
        context="Paris is the capital of France.",
        expected="Paris",
    )
    output = "Paris is the capital of France."
    for make in (J.relevance, J.faithfulness, J.coherence, J.tone):
        result = asyncio.run(J.run_judge(make(), case, output, backend=JUDGE, store=NullStore()))
        assert result.status == "passed", result.reason
        assert result.verdict is not None and result.verdict.judge == JUDGE.identity
        assert result.verdict.usage == Usage() and result.verdict.requests == 1
    result = asyncio.run(
        J.run_pairwise(
            J.pairwise(),
            case,
            output,
            "I like turtles.",
            variant_a="good",
            variant_b="bad",
            backend=JUDGE,
            store=NullStore(),
        )
    )
    assert result.score == 1.0
    assert result.verdict is not None and result.verdict.samples == (1.0, 1.0)
