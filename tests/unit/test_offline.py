"""The offline reference judge: each rule on known answers, good vs bad, scale mapping, pairwise."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pytest_llmfunnel.funnel import offline_judge as offline
from pytest_llmfunnel.funnel.backend import JudgeCallError, JudgeRequest, JudgeSubject, NullStore
from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge
from pytest_llmfunnel.funnel.stages import judge as J
from pytest_llmfunnel.models import Case, Usage

JUDGE = OfflineReferenceJudge()


def ask(subject: JudgeSubject) -> dict[str, Any]:
    completion = asyncio.run(JUDGE.complete(JudgeRequest(body={}, base_url="", subject=subject)))
    assert completion.usage == Usage() and completion.finish_reason == "stop"
    assert completion.model == "offline-reference-v2"
    answer: dict[str, Any] = json.loads(completion.content or "")
    assert answer["reasoning"].startswith("offline reference judge (rule-based, not an LLM), ")
    return answer


def score(criterion: str, output: str, **fields: Any) -> float:
    fields.setdefault("input", "What is the capital of France?")
    value: float = ask(JudgeSubject(criterion=criterion, output=output, **fields))["score"]
    return value


def test_identity_names_it_plainly() -> None:
    assert JUDGE.identity == "offline-reference-judge v2 (rule-based, not an LLM)"
    assert (JUDGE.base_url, JUDGE.model, JUDGE.supports_json_schema) == (
        "offline://reference",
        "offline-reference-v2",
        True,
    )


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("refunds", "refund"),
        ("refunded", "refund"),
        ("refunding", "refund"),
        ("charge", "charg"),
        ("charges", "charg"),
        ("cancelled", "cancel"),
        ("cancellation", "cancel"),
        ("replies", "reply"),
        ("reply", "reply"),  # "ly" needs 4 letters left
        ("monthly", "month"),
        ("address", "addres"),  # no "s" stripped after "s"
        ("addresses", "addres"),
        ("payments", "pay"),
        ("day", "day"),  # too short for any rule
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert offline.stem(word) == expected


def test_content_words_drop_stop_words_and_instruction_verbs() -> None:
    text = "Please click Settings, then you can't miss the Refunds page!"
    # settings -> sett -> set; miss -> mis (a doubled final consonant is undoubled)
    assert offline.content_words(text) == {"set", "mis", "refund", "pag"}


def test_relevance_is_saturating_recall_of_the_questions_terms() -> None:
    question = "How do I export my notes to PDF?"  # terms: export, not(e), pdf
    full = ask(JudgeSubject("relevance", question, "Notes export to PDF from the File menu."))
    assert full == {
        "reasoning": "offline reference judge (rule-based, not an LLM), relevance rule: the output "
        "takes up "
        "3 of 3 (100%) key terms of the input (full marks from 40%) -> score 5",
        "score": 5.0,
    }
    # 1 of 3 = 0.33: v = 0.33 / 0.4 = 0.833 -> 1 + 4 * 0.833
    answer = ask(JudgeSubject("relevance", question, "Open the File menu and pick PDF."))
    assert answer["score"] == pytest.approx(4.33)
    assert "not taken up: export, not" in answer["reasoning"]
    # 1 of 4 = 0.25: v = 0.625 -> 3.5, below the default threshold
    question = "Can I export shared notebooks as PDF?"  # export, shar, notebook, pdf
    assert score("relevance", "Use the PDF button.", input=question) == 3.5
    # 2 of 4 = 0.5 >= 0.4: saturated
    assert score("relevance", "Notebooks export as PDF.", input=question) == 5.0
    assert score("relevance", "Turtles enjoy lettuce.", input=question) == 1.0


def test_faithfulness_is_the_supported_share_of_new_words() -> None:
    context = "Paris is the capital of France. It has about two million inhabitants."
    question = "How many people live in Paris?"
    # "paris" repeats the question and is not counted; two, million, inhabitants supported
    assert (
        score("faithfulness", "Paris has two million inhabitants.", input=question, context=context)
        == 5.0
    )
    answer = ask(
        JudgeSubject(
            "faithfulness",
            question,
            "Paris has ten million inhabitants and a beach.",
            context=context,
        )
    )
    # new content words: ten, million, inhabitant, beach -> 2 of 4 supported
    assert answer["score"] == pytest.approx(1 + 0.5 * 4)
    assert "2 of 4 (50%) of the output's new content words" in answer["reasoning"]
    assert "unsupported: beach, ten" in answer["reasoning"]


def test_faithfulness_three_quarters_support_reaches_the_default_threshold() -> None:
    context = "Refunds are possible within 30 days for annual plans."
    output = "Annual plans are refundable within 30 days, by card."
    # stems: annual, plan, refundabl, 30, day, card -> supported: annual, plan, 30, day = 4 of 6
    assert score("faithfulness", output, input="q", context=context) == pytest.approx(3.67)
    output = "Annual plans get refunds within 30 days."
    assert score("faithfulness", output, input="q", context=context) == 5.0
    output = "Annual plans get refunds within 30 days by card."  # 5 of 6 (card unsupported)
    assert score("faithfulness", output, input="q", context=context) == pytest.approx(4.33)


def test_faithfulness_of_an_answer_that_only_repeats_the_question_is_neutral() -> None:
    answer = ask(JudgeSubject("faithfulness", "Can I export notes?", "Export notes?", "ctx"))
    assert answer["score"] == 3.0 and "adds no words beyond the question" in answer["reasoning"]


def test_correctness_weighs_recall_over_f1() -> None:
    assert score("correctness", "Paris", expected="Paris") == 5.0
    assert score("correctness", "London", expected="Paris") == 1.0
    # got: paris, capital, franc; want: paris -> R = 1, P = 1/3, F1 = 0.5; v = 0.875
    assert score("correctness", "Paris is the capital of France", expected="Paris") == 4.5
    # want: 30, day, annual, 7, day, month; got: 30, day -> R = 2/6, P = 1, F1 = 0.5
    value = 0.75 * (2 / 6) + 0.25 * 0.5
    got = score("correctness", "30 days.", expected="30 days annual, 7 days monthly")
    assert got == pytest.approx(round(1 + 4 * value, 2))


def test_coherence_penalises_repetition_and_truncation() -> None:
    good = "Paris is the capital of France. It lies on the Seine. Many tourists visit it."
    assert score("coherence", good) == 5.0
    repeated = "Paris is big. Paris is big. Paris is big. Paris is old."
    # 2 of 4 sentences repeat an earlier one: value 0.5 -> 3.0
    assert score("coherence", repeated) == 3.0
    cut = "Paris is the capital of France and it is known for the"
    assert score("coherence", cut) == 3.0
    assert "stops mid-sentence" in ask(JudgeSubject("coherence", "q", cut))["reasoning"]
    rambling = " ".join(["word"] * 50) + "."
    assert score("coherence", rambling) == 4.0


def test_tone_penalises_rudeness_dismissal_and_shouting() -> None:
    assert score("tone", "Happy to help: the capital of France is Paris.") == 5.0
    assert score("tone", "Obviously Paris, you idiot.") == pytest.approx(1 + 0.6 * 4)
    assert score("tone", "As I already said, it is Paris.") == pytest.approx(1 + 0.6 * 4)
    shouting = "THE CAPITAL IS PARIS, EVERYONE KNOWS THAT!!"
    answer = ask(JudgeSubject("tone", "q", shouting))
    assert answer["score"] == pytest.approx(1 + 0.5 * 4)
    assert "shouting" in answer["reasoning"] and "piled-up" in answer["reasoning"]


def test_other_criteria_average_the_applicable_rules() -> None:
    # relevance 1 (2 of 2 terms), coherence 1, tone 1, correctness 1 (no context: no faithfulness)
    answer = ask(
        JudgeSubject(
            "helpfulness",
            "Capital of France?",
            "France's capital is Paris.",
            expected="The capital of France is Paris",
        )
    )
    assert answer["score"] == 5.0
    assert answer["reasoning"].startswith(
        "offline reference judge (rule-based, not an LLM), overall rule: mean of the rules "
        "(relevance 1.00, "
        "coherence 1.00, tone 1.00, correctness 1.00)"
    )
    # relevance 0, coherence 1, tone 1 -> 2/3
    assert score("helpfulness", "Turtles enjoy lettuce.") == pytest.approx(1 + 4 * 2 / 3, abs=0.01)


def test_empty_output_scores_the_bottom_of_the_scale() -> None:
    for criterion in ("relevance", "coherence", "tone", "faithfulness", "correctness", "x"):
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
    with pytest.raises(JudgeCallError, match="needs an expected answer"):
        ask(JudgeSubject("correctness", "q", "Paris"))


SUPPORT_CONTEXT = (
    "Refunds are available within 30 days of purchase for annual plans and within 7 days "
    "for monthly plans. Refunds go to the original payment method within 5 business days."
)
SUPPORT_QUESTION = "Can I get a refund on my annual plan?"
GOOD_ANSWERS = [
    "Yes. Annual plans can be refunded within 30 days of purchase; the money goes back to "
    "your original payment method within 5 business days.",
    "You can get a refund within 30 days of purchasing an annual plan.",
    "Yes, annual plans are refundable within 30 days of purchase. The refund reaches your "
    "original payment method within 5 business days.",
]


@pytest.mark.parametrize("output", GOOD_ANSWERS)
def test_clearly_good_answers_pass_every_builtin_judge(output: str) -> None:
    case = Case(id="refund", input=SUPPORT_QUESTION, context=SUPPORT_CONTEXT)
    for make in (J.relevance, J.faithfulness, J.coherence, J.tone):
        result = asyncio.run(J.run_judge(make(), case, output, backend=JUDGE, store=NullStore()))
        assert result.status == "passed", result.reason


@pytest.mark.parametrize(
    ("judge", "output"),
    [
        # unsupported claims: a 90-day window, store credit, a phone line
        (
            "faithfulness",
            "Annual plans get a full refund within 90 days as store credit; "
            "call our hotline anytime.",
        ),
        # off-topic
        ("relevance", "Our mobile app syncs your notes across all devices automatically."),
        # rude
        ("tone", "Annual plans get refunds within 30 days, as I already said. Read the manual."),
        # truncated mid-sentence
        ("coherence", "Annual plans can be refunded within 30 days of purchase and the money"),
    ],
)
def test_clearly_bad_answers_fail_their_judge(judge: str, output: str) -> None:
    case = Case(id="refund", input=SUPPORT_QUESTION, context=SUPPORT_CONTEXT)
    stage = getattr(J, judge)()
    result = asyncio.run(J.run_judge(stage, case, output, backend=JUDGE, store=NullStore()))
    assert result.status == "failed", result.reason
    assert result.verdict is not None and "not an LLM" in result.verdict.reasoning


def test_pairwise_picks_the_better_output_in_either_order() -> None:
    good, bad = "The capital of France is Paris.", "Turtles enjoy lettuce."
    first = ask(JudgeSubject("overall", "What is the capital of France?", good, output_b=bad))
    second = ask(JudgeSubject("overall", "What is the capital of France?", bad, output_b=good))
    assert (first["winner"], second["winner"]) == ("A", "B")
    assert first["reasoning"].startswith(
        "offline reference judge (rule-based, not an LLM), overall rule, pairwise: A 1.00"
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
    for make in (J.relevance, J.faithfulness, J.coherence, J.tone, J.correctness):
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
