"""Judge stages: request bodies, strict parsing, retries, repeats, cache and pairwise."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from pytest_llmfunnel.funnel import prompts
from pytest_llmfunnel.funnel.backend import (
    CachedAnswer,
    CacheMissError,
    Completion,
    JudgeCallError,
    JudgeRequest,
)
from pytest_llmfunnel.funnel.stages import judge as J
from pytest_llmfunnel.funnel.stages.judge import (
    JudgeParseError,
    parse_answer,
    parse_pairwise_answer,
)
from pytest_llmfunnel.models import Case, CaseResult, StageResult, Usage

Reply = str | Completion | Exception


class FakeBackend:
    """Answers requests from a script, in order, and records what it was sent."""

    identity = "fake-judge"
    base_url = "http://judge.test/v1"
    model = "judge-model"

    def __init__(self, replies: list[Reply] | None = None, *, json_schema: bool = True) -> None:
        self.replies = list(replies or [])
        self.sent: list[JudgeRequest] = []
        self.supports_json_schema = json_schema

    async def complete(self, request: JudgeRequest) -> Completion:
        self.sent.append(request)
        if not self.replies:
            raise AssertionError("the backend was called but has no scripted reply")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Completion):
            return reply
        return Completion(reply, "stop", Usage(prompt_tokens=100, completion_tokens=10), "m-1")


class DictStore:
    """An in-memory answer store keyed like the real one."""

    def __init__(self, *, replay_only: bool = False) -> None:
        self.data: dict[str, CachedAnswer] = {}
        self.replay_only = replay_only
        self.puts = 0

    def get(self, request: JudgeRequest, *, case_id: str, stage: str) -> CachedAnswer | None:
        answer = self.data.get(request.cache_key())
        if answer is None and self.replay_only:
            raise CacheMissError(f"{case_id}/{stage}")
        return answer

    def put(self, request: JudgeRequest, answer: CachedAnswer, *, case_id: str, stage: str) -> None:
        self.puts += 1
        self.data[request.cache_key()] = answer


def answer(score: float, reasoning: str = "because") -> str:
    return json.dumps({"reasoning": reasoning, "score": score})


def winner(who: str, reasoning: str = "why") -> str:
    return json.dumps({"reasoning": reasoning, "winner": who})


CASE = Case(id="c1", input="What is the capital of France?", context="Paris is the capital.")
QA = Case(id="c2", input="2+2?", expected="4", context="arithmetic")


def run(
    judge: J.RubricJudge, backend: FakeBackend, store: DictStore | None = None, case: Case = CASE
) -> StageResult:
    return asyncio.run(
        J.run_judge(judge, case, "Paris.", backend=backend, store=store or DictStore())
    )


def completion(content: str | None, finish: str | None = "stop") -> Completion:
    return Completion(content, finish, Usage(), "m")


# Request bodies -------------------------------------------------------------


def test_json_schema_request_body_is_exact() -> None:
    judge = J.relevance(temperature=0.2, seed=7, max_tokens=300)
    (request,) = judge.requests(
        CASE, "Paris.", model="gpt-x", base_url="http://h/v1", json_schema=True
    )
    assert request.base_url == "http://h/v1" and request.repeat == 0
    assert request.body == {
        "model": "gpt-x",
        "messages": prompts.render_messages(
            prompts.RELEVANCE_RUBRIC, "relevance", (1, 5), input=CASE.input_text(), output="Paris."
        ),
        "temperature": 0.2,
        "seed": 7,
        "max_tokens": 300,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "judge_answer",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"reasoning": {"type": "string"}, "score": {"type": "number"}},
                    "required": ["reasoning", "score"],
                    "additionalProperties": False,
                },
            },
        },
    }


def test_json_mode_fallback_and_model_override() -> None:
    judge = J.relevance(model="override")
    (request,) = judge.requests(CASE, "o", model="default", base_url="u", json_schema=False)
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.body["model"] == "override"
    assert (request.body["temperature"], request.body["seed"], request.body["max_tokens"]) == (
        0.0,
        0,
        512,
    )


def test_repeats_differ_only_by_cache_key() -> None:
    requests = J.relevance(repeats=3).requests(CASE, "o", model="m", base_url="u", json_schema=True)
    assert [r.repeat for r in requests] == [0, 1, 2]
    assert all(r.body == requests[0].body for r in requests)
    assert len({r.cache_key() for r in requests}) == 3


def test_subject_carries_plain_fields() -> None:
    (request,) = J.faithfulness().requests(CASE, "o", model="m", base_url="u", json_schema=True)
    assert request.subject is not None
    assert (request.subject.criterion, request.subject.input, request.subject.output) == (
        "faithfulness",
        CASE.input,
        "o",
    )
    assert request.subject.context == CASE.context and request.subject.expected is None
    (request,) = J.rubric("x", "t", scale="pass_fail").requests(
        QA, "o", model="m", base_url="u", json_schema=True
    )
    assert request.subject is not None
    assert (request.subject.scale_min, request.subject.scale_max) == (0.0, 1.0)
    assert (request.subject.context, request.subject.expected) == ("arithmetic", "4")


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (J.relevance, set()),
        (J.coherence, set()),
        (J.tone, set()),
        (J.faithfulness, {"CONTEXT"}),
        (J.correctness, {"EXPECTED"}),
        (lambda: J.rubric("custom", "my rubric"), {"CONTEXT", "EXPECTED"}),
    ],
)
def test_builtins_show_only_the_fields_they_grade_against(make: Any, shown: set[str]) -> None:
    (request,) = make().requests(QA, "o", model="m", base_url="u", json_schema=True)
    user = request.body["messages"][1]["content"]
    assert {f for f in ("CONTEXT", "EXPECTED") if f"<<<{f} " in user} == shown


def test_tone_rubric_extra_is_appended() -> None:
    judge = J.tone(rubric_extra="Never use emoji.")
    assert judge.rubric == prompts.TONE_RUBRIC + "\n\nNever use emoji."
    assert J.tone().rubric == prompts.TONE_RUBRIC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": (5, 1)}, "low < high"),
        ({"threshold": 6}, "outside the scale"),
        ({"repeats": 0}, "at least 1"),
        ({"reducer": "max"}, "'mean' or 'majority'"),
        ({"reducer": "majority", "repeats": 2}, "odd number"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        J.relevance(**kwargs)


def test_default_thresholds() -> None:
    assert J.relevance().pass_threshold == 4.0
    assert J.relevance(scale="pass_fail").pass_threshold == 1.0
    assert J.relevance(scale=(0, 10)).pass_threshold == 7.5
    assert J.relevance(threshold=3).pass_threshold == 3.0


# Parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "finish", "cause"),
    [
        (None, "stop", "empty"),
        ("", "stop", "empty"),
        ("  \n", "stop", "empty"),
        ('{"reasoning": "long and', "length", "truncated"),
        (answer(4), "length", "truncated"),
        ("The score is 4.", "stop", "not_json"),
        ("Sure! " + answer(4), "stop", "not_json"),
        (answer(4) + " hope this helps", "stop", "not_json"),
        ('The output says {"reasoning": "x", "score": 5} but it is wrong.', "stop", "not_json"),
        ("```json\n" + answer(4) + "\n```\nand more", "stop", "not_json"),
        ("```json\n" + answer(2) + "\n```\n```json\n" + answer(5) + "\n```", "stop", "not_json"),
        ("GRADE: 5", "stop", "not_json"),
        ("[4]", "stop", "schema"),
        ('{"score": 4}', "stop", "schema"),
        ('{"reasoning": "x", "score": "4"}', "stop", "schema"),
        ('{"reasoning": "x", "score": true}', "stop", "schema"),
        ('{"reasoning": 3, "score": 4}', "stop", "schema"),
        ('{"reasoning": "x", "score": 1, "score": 5}', "stop", "schema"),
        (answer(6), "stop", "out_of_scale"),
        (answer(0.5), "stop", "out_of_scale"),
        ('{"reasoning": "x", "score": NaN}', "stop", "non_finite"),
        ('{"reasoning": "x", "score": Infinity}', "stop", "non_finite"),
        ('{"reasoning": "x", "score": 1e999}', "stop", "non_finite"),
    ],
)
def test_parse_failures_name_their_cause(content: str | None, finish: str, cause: str) -> None:
    with pytest.raises(JudgeParseError) as info:
        parse_answer(completion(content, finish), (1, 5))
    assert info.value.cause == cause
    assert str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        answer(4),
        "  " + answer(4) + "\n",
        "```json\n" + answer(4) + "\n```",
        "```\n" + answer(4) + "\n```",
        '{"reasoning": "because", "score": 4.0, "confidence": "high"}',
    ],
)
def test_accepted_answers(content: str) -> None:
    parsed = parse_answer(completion(content), (1, 5))
    assert (parsed.reasoning, parsed.score) == ("because", 4.0)


def test_pass_fail_scores_must_be_zero_or_one() -> None:
    assert parse_answer(completion(answer(1)), "pass_fail").score == 1.0
    assert parse_answer(completion(answer(0)), "pass_fail").score == 0.0
    with pytest.raises(JudgeParseError, match="must be 0 or 1") as info:
        parse_answer(completion(answer(0.7)), "pass_fail")
    assert info.value.cause == "out_of_scale"


@pytest.mark.parametrize("scale", ["pass_fail", (1, 5), (0, 10)])
def test_the_answer_schema_admits_only_scores_the_parser_accepts(scale: Any) -> None:
    """Structured output constrains the judge to the schema: nothing it admits may be refused."""
    (request,) = J.rubric("x", "t", scale=scale).requests(
        QA, "o", model="m", base_url="u", json_schema=True
    )
    score = request.body["response_format"]["json_schema"]["schema"]["properties"]["score"]
    if scale == "pass_fail":
        assert score == {"enum": [0, 1], "type": "integer"}
        for value in score["enum"]:
            assert parse_answer(completion(answer(value)), scale).score == value
        with pytest.raises(JudgeParseError):
            parse_answer(completion(answer(3)), scale)
    else:
        assert score["type"] == "number"  # bounds are in the prompt; the parser checks them
        low, high = scale
        for value in (low, (low + high) / 2, high):
            assert parse_answer(completion(answer(value)), scale).score == value


def test_pairwise_parse() -> None:
    assert parse_pairwise_answer(completion(winner("tie"))).winner == "tie"
    with pytest.raises(JudgeParseError) as info:
        parse_pairwise_answer(completion(winner("C")))
    assert info.value.cause == "schema"


# Running a judge -------------------------------------------------------------


def test_passing_verdict_is_stored_with_its_usage() -> None:
    backend, store = FakeBackend([answer(5, "on point")]), DictStore()
    result = run(J.relevance(), backend, store)
    assert (result.status, result.score, result.kind, result.gating) == (
        "passed",
        5.0,
        "judge",
        False,
    )
    assert result.reason == "score 5 >= threshold 4: on point"
    verdict = result.verdict
    assert verdict is not None
    assert (verdict.passed, verdict.requests, verdict.cache_hits) == (True, 1, 0)
    assert verdict.usage == Usage(prompt_tokens=100, completion_tokens=10)
    assert verdict.judge == "fake-judge" and verdict.criterion == "relevance"
    (stored,) = store.data.values()
    assert stored == CachedAnswer(
        score=5.0,
        reasoning="on point",
        usage=Usage(prompt_tokens=100, completion_tokens=10),
        model="m-1",
        judge="fake-judge",
    )


def test_parse_error_is_retried_and_every_request_counted() -> None:
    backend = FakeBackend(["GRADE: 5", answer(2, "off topic")])
    result = run(J.relevance(), backend)
    assert (result.status, result.score) == ("failed", 2.0)
    assert result.verdict is not None
    assert result.verdict.requests == 2
    assert result.verdict.usage == Usage(prompt_tokens=200, completion_tokens=20)
    assert backend.sent[0] == backend.sent[1]


def test_unparseable_after_retries_is_an_error_never_a_verdict() -> None:
    backend, store = FakeBackend(['{"score": 5}', "5", "GRADE: 5"]), DictStore()
    result = run(J.relevance(), backend, store, case=CASE)
    assert result.status == "error" and result.score is None
    assert result.reason.startswith("the judge's answer could not be parsed after 3 attempts")
    assert "(not_json)" in result.reason
    verdict = result.verdict
    assert verdict is not None and verdict.is_error
    assert (verdict.score, verdict.passed, verdict.requests) == (None, None, 3)
    assert store.data == {} and store.puts == 0


def test_parse_retries_zero_sends_once() -> None:
    backend = FakeBackend(["nope"])
    result = asyncio.run(
        J.run_judge(J.relevance(), CASE, "o", backend=backend, store=DictStore(), parse_retries=0)
    )
    assert result.status == "error" and len(backend.sent) == 1


def test_call_error_becomes_an_error_verdict_and_is_not_stored() -> None:
    backend, store = (
        FakeBackend([JudgeCallError("timeout", "no answer after 3 tries")]),
        DictStore(),
    )
    result = run(J.relevance(), backend, store)
    assert result.status == "error"
    assert result.reason == "judge call failed (timeout): no answer after 3 tries"
    assert store.data == {}


def test_mean_of_repeats() -> None:
    backend = FakeBackend([answer(5, "great"), answer(4, "good"), answer(2, "poor")])
    result = run(J.relevance(repeats=3), backend)
    assert result.verdict is not None
    assert result.verdict.samples == (5.0, 4.0, 2.0)
    assert result.score == pytest.approx(11 / 3)
    assert result.status == "failed"
    assert result.verdict.reasoning == "good"  # the repeat nearest the mean
    assert result.verdict.requests == 3


def test_majority_of_repeats_is_the_median() -> None:
    backend = FakeBackend([answer(5), answer(1), answer(4)])
    result = run(J.relevance(repeats=3, reducer="majority"), backend)
    assert (result.score, result.status) == (4.0, "passed")  # mean 3.33 would fail
    backend = FakeBackend([answer(1), answer(0), answer(0)])
    result = run(J.relevance(scale="pass_fail", repeats=3, reducer="majority"), backend)
    assert (result.score, result.status) == (0.0, "failed")


def test_one_erroring_repeat_makes_the_verdict_an_error() -> None:
    backend, store = FakeBackend([answer(5), "x", "x", "x", answer(5)]), DictStore()
    judge = J.relevance(repeats=3)
    result = run(judge, backend, store)
    assert result.status == "error" and result.score is None
    assert result.reason.startswith("repeat 2 of 3: the judge's answer could not be parsed")
    assert result.verdict is not None and result.verdict.requests == 5
    assert len(store.data) == 2  # the good repeats are kept for next time


def test_cache_hit_skips_the_backend() -> None:
    store = DictStore()
    first = run(J.relevance(repeats=2), FakeBackend([answer(5), answer(3)]), store)
    second_backend = FakeBackend([])  # raises if called
    second = run(J.relevance(repeats=2), second_backend, store)
    assert second_backend.sent == []
    assert second.score == first.score == 4.0
    assert second.verdict is not None
    assert (second.verdict.requests, second.verdict.cache_hits) == (0, 2)
    assert second.verdict.usage == Usage()
    assert second.verdict.judge == "fake-judge"


def test_usage_sums_and_a_cache_hit_costs_no_new_objects() -> None:
    a, b = Usage(prompt_tokens=3, completion_tokens=1), Usage(prompt_tokens=10, completion_tokens=2)
    assert a + b == Usage(prompt_tokens=13, completion_tokens=3)
    assert (a + Usage()) is a and (Usage() + b) is b
    store = DictStore()
    run(J.relevance(), FakeBackend([answer(5)]), store)
    hits = [run(J.relevance(), FakeBackend([]), store) for _ in range(2)]
    verdicts = [hit.verdict for hit in hits if hit.verdict is not None]
    assert len(verdicts) == 2 and all(v.usage is verdicts[0].usage == Usage() for v in verdicts)
    # each cached answer carries its own copy of the judge's name; verdicts keep one
    stored = [CachedAnswer.model_validate_json(a.model_dump_json()) for a in store.data.values()]
    store.data = {key: answer for key, answer in zip(store.data, stored, strict=True)}
    again = run(J.relevance(), FakeBackend([]), store).verdict
    assert again is not None and again.judge is verdicts[0].judge == "fake-judge"


def test_results_are_slotted() -> None:
    result = run(J.relevance(), FakeBackend([answer(5)]))
    case_result = CaseResult("c1", "default", "Paris.", (result,), promoted=True)
    # no per-instance dict: a run holds one result per stage and case
    assert not hasattr(result, "__dict__") and not hasattr(case_result, "__dict__")
    assert replace(result, stage="renamed").stage == "renamed"


def test_threshold_is_applied_at_read_time() -> None:
    store = DictStore()
    lenient = run(J.relevance(threshold=3), FakeBackend([answer(4)]), store)
    strict_backend = FakeBackend([])
    strict = run(J.relevance(threshold=4.5), strict_backend, store)
    assert (lenient.status, strict.status) == ("passed", "failed")
    assert strict.verdict is not None and strict.verdict.requests == 0
    assert strict_backend.sent == [] and strict.score == 4.0


def test_replay_only_miss_names_case_and_stage() -> None:
    backend = FakeBackend([])
    result = run(J.relevance(name="on-topic"), backend, DictStore(replay_only=True))
    assert result.status == "error"
    assert result.reason == (
        "replay-only: no cached verdict for case c1, stage on-topic; "
        "record one with --llm-funnel-cache=read-write"
    )
    assert backend.sent == []


def test_missing_field_is_an_error_verdict() -> None:
    backend = FakeBackend([])
    result = run(J.correctness(), backend, case=CASE)
    assert result.status == "error"
    assert "'correctness' needs expected but case 'c1' has none" in result.reason
    assert backend.sent == [] and result.verdict is not None and result.verdict.is_error


def test_invalid_cached_score_is_an_error() -> None:
    store, judge = DictStore(), J.relevance()
    (request,) = judge.requests(
        CASE, "Paris.", model="judge-model", base_url=FakeBackend.base_url, json_schema=True
    )
    store.data[request.cache_key()] = CachedAnswer(score=9, reasoning="edited by hand")
    result = run(judge, FakeBackend([]), store)
    assert result.status == "error" and "invalid score (9.0)" in result.reason


def test_a_long_reasoning_is_kept_whole_in_the_reason() -> None:
    reasoning = "word " * 400  # 2,000 characters: the reports wrap it, never cut it
    result = run(J.relevance(), FakeBackend([answer(4, reasoning)]))
    assert result.reason == "score 4 >= threshold 4: " + reasoning


def test_a_runaway_reasoning_is_cut_in_the_reason_only() -> None:
    reasoning = "word " * 3000
    result = run(J.relevance(), FakeBackend([answer(4, reasoning)]))
    assert result.verdict is not None and result.verdict.reasoning == reasoning
    assert result.reason.endswith("…")
    assert len(result.reason) <= len("score 4 >= threshold 4: ") + J.REASON_LIMIT


def test_gating_and_must_are_carried() -> None:
    result = run(J.relevance(gating=True, must=True), FakeBackend([answer(1)]))
    assert (result.gating, result.must, result.status) == (True, True, "failed")


# Pairwise --------------------------------------------------------------------


def run_pairwise(backend: FakeBackend, store: DictStore | None = None) -> StageResult:
    return asyncio.run(
        J.run_pairwise(
            J.pairwise(),
            QA,
            "four",
            "4",
            variant_a="old",
            variant_b="new",
            backend=backend,
            store=store or DictStore(),
        )
    )


def test_pairwise_judges_both_orders() -> None:
    backend = FakeBackend([winner("B", "B is exact"), winner("A", "A is exact")])
    result = run_pairwise(backend)
    first, swapped = backend.sent
    assert first.subject is not None and swapped.subject is not None
    assert (first.subject.output, first.subject.output_b) == ("four", "4")
    assert (swapped.subject.output, swapped.subject.output_b) == ("4", "four")
    assert first.body["response_format"]["json_schema"]["schema"]["properties"]["winner"] == {
        "enum": ["A", "B", "tie"],
        "type": "string",
    }
    assert result.score == -1.0 and result.status == "measured"
    assert result.verdict is not None and result.verdict.samples == (-1.0, -1.0)
    assert result.reason.startswith("new wins (both orders agree); order 1 (A=old, B=new): ")
    assert "order 2 (A=new, B=old): new wins: A is exact" in result.reason


def test_pairwise_disagreement_is_a_tie() -> None:
    result = run_pairwise(FakeBackend([winner("A"), winner("A")]))  # always the first shown
    assert result.score == 0.0
    assert result.verdict is not None and result.verdict.samples == (1.0, -1.0)
    assert "the orders disagree, so it counts as a tie" in result.reason


def test_pairwise_a_wins_and_answers_are_cached_encoded() -> None:
    store = DictStore()
    result = run_pairwise(FakeBackend([winner("A"), winner("B")]), store)
    assert result.score == 1.0
    assert sorted(a.score for a in store.data.values()) == [0.0, 1.0]
    again = run_pairwise(FakeBackend([]), store)
    assert again.score == 1.0 and again.verdict is not None and again.verdict.cache_hits == 2


def test_pairwise_error_in_one_order() -> None:
    result = run_pairwise(FakeBackend([winner("A"), "x", "x", "x"]))
    assert result.status == "error" and result.reason.startswith("order 2 of 2: ")


def test_pairwise_builtin_criterion_reuses_its_rubric() -> None:
    judge = J.pairwise("correctness")
    assert judge.name == "pairwise_correctness"
    assert judge.rubric.endswith(prompts.CORRECTNESS_RUBRIC)
    assert J.pairwise().rubric == prompts.PAIRWISE_RUBRIC
    assert J.pairwise(rubric="mine").rubric == "mine"
