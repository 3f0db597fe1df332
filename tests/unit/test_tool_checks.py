"""The tool-call checks and the tool-call F1 scorer, on structured outputs."""

from __future__ import annotations

import asyncio
import json
from itertools import permutations
from typing import Any, cast

import pytest
from pydantic import BaseModel, Field

from pytest_llmfunnel.funnel.stages.base import Check, Scorer
from pytest_llmfunnel.funnel.stages.tool_checks import (
    match_calls,
    precision_recall_f1,
    tool_args_match,
    tool_args_valid,
    tool_called,
    tool_calls_f1,
    tool_not_called,
)
from pytest_llmfunnel.models import Case, StageResult
from pytest_llmfunnel.output import Message, Output, ToolCall

CASE = Case(id="c1", input="book me a flight")


def run(stage: Check | Scorer, case: Case, output: str | Output) -> StageResult:
    """The stage's result on ``output``, the same run synchronously and awaited."""
    result: StageResult = stage.run(case, cast(Any, output))
    assert asyncio.run(stage.arun(case, cast(Any, output))) == result
    return result


def _out(*calls: tuple[str, dict[str, object]]) -> Output:
    return Output(text="ok", tool_calls=tuple(ToolCall(name=n, arguments=a) for n, a in calls))


def _case(expected: object) -> Case:
    return Case(id="c2", input="q", metadata={"expected_tool_calls": expected})


def test_tool_called_passes_fails_and_counts() -> None:
    out = _out(("search", {"q": "x"}), ("search", {"q": "y"}), ("book", {}))
    assert run(tool_called("search"), CASE, out).status == "passed"
    twice = run(tool_called("search", times=2), CASE, out)
    assert twice.status == "passed" and "2 times" in twice.reason
    once = run(tool_called("search", times=1), CASE, out)
    assert once.status == "failed"
    assert once.reason == "called search 2 times, expected 1 (calls: search, search, book)"
    missing = run(tool_called("cancel"), CASE, out)
    assert missing.status == "failed" and "cancel was not called" in missing.reason


def test_a_plain_string_output_has_no_tool_calls() -> None:
    assert run(tool_called("search"), CASE, "just text").status == "failed"
    assert run(tool_not_called("search"), CASE, "just text").status == "passed"


def test_tool_not_called_fails_with_the_count() -> None:
    result = run(tool_not_called("delete"), CASE, _out(("delete", {}), ("delete", {})))
    assert result.status == "failed" and result.reason == "delete was called 2 times"


def test_tool_calls_in_a_conversation_count_when_the_output_lists_none() -> None:
    out = Output(
        text="done",
        messages=(
            Message(role="user", content="weather?"),
            Message(role="assistant", tool_calls=(ToolCall(name="weather", arguments={}),)),
        ),
    )
    assert run(tool_called("weather"), CASE, out).status == "passed"


class Flight(BaseModel):
    origin: str = Field(min_length=3, max_length=3)
    passengers: int = Field(ge=1)


SCHEMA = {
    "type": "object",
    "properties": {"origin": {"type": "string"}, "passengers": {"type": "integer", "minimum": 1}},
    "required": ["origin", "passengers"],
}


@pytest.mark.parametrize("schema", [Flight, SCHEMA], ids=["pydantic", "json-schema"])
def test_tool_args_valid_names_the_call_and_the_field(schema: object) -> None:
    good = _out(("book", {"origin": "CDG", "passengers": 2}))
    bad = _out(
        ("book", {"origin": "CDG", "passengers": 2}), ("book", {"origin": "CDG", "passengers": 0})
    )
    check = tool_args_valid("book", cast(Any, schema))
    assert run(check, CASE, good).status == "passed"
    result = run(check, CASE, bad)
    assert result.status == "failed"
    assert result.reason.startswith("call 2 of book: arguments do not match")
    assert "passengers" in result.reason
    # Not called: nothing to validate (tool_called() is what requires a call).
    assert (
        run(check, CASE, _out(("search", {}))).reason == "book was not called: nothing to validate"
    )


def test_an_invalid_json_schema_is_refused_when_the_check_is_made() -> None:
    from jsonschema.exceptions import SchemaError

    with pytest.raises(SchemaError):
        tool_args_valid("book", {"type": "no-such-type"})
    with pytest.raises(TypeError, match="pydantic model or a JSON Schema"):
        tool_args_valid("book", cast(Any, 42))


def test_tool_args_match_exact_subset_and_fields() -> None:
    out = _out(("book", {"origin": "CDG", "dest": {"city": "Oslo", "code": "OSL"}, "days": 3}))
    subset = tool_args_match("book", {"dest": {"city": "Oslo"}})
    assert run(subset, CASE, out).status == "passed"
    exact = tool_args_match("book", {"dest": {"city": "Oslo"}}, mode="exact")
    result = run(exact, CASE, out)
    assert result.status == "failed" and "do not equal" in result.reason
    fields = tool_args_match("book", fields={"days": lambda d: 1 <= d <= 2, "origin": "CDG"})
    failed = run(fields, CASE, out)
    assert failed.status == "failed" and "days=3 fails its predicate" in failed.reason
    missing_field = run(tool_args_match("book", fields={"seat": "12A"}), CASE, out)
    assert "seat is missing" in missing_field.reason


def test_tool_args_match_passes_when_any_call_matches() -> None:
    out = _out(("search", {"q": "cats"}), ("search", {"q": "dogs"}))
    assert run(tool_args_match("search", {"q": "dogs"}), CASE, out).status == "passed"


def test_tool_args_match_reads_the_cases_expected_calls_from_a_json_cell() -> None:
    case = _case(json.dumps([{"name": "book", "arguments": {"origin": "CDG"}}]))
    check = tool_args_match("book")
    assert run(check, case, _out(("book", {"origin": "CDG", "x": 1}))).status == "passed"
    assert run(check, case, _out(("book", {"origin": "ORY"}))).status == "failed"
    assert run(check, case, _out(("search", {}))).reason == "book was not called"


def test_tool_args_match_from_the_case_wants_no_call_of_a_tool_it_does_not_expect() -> None:
    case = _case([{"name": "search", "arguments": {}}])
    check = tool_args_match("book")
    assert run(check, case, _out(("search", {}))).status == "passed"
    called = run(check, case, _out(("search", {}), ("book", {"to": "OSL"})))
    assert called.status == "failed"
    assert called.reason == "book was called, but the case expects no call of it"


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ("not json", "expected_tool_calls is not JSON"),
        ({"name": "book"}, "must be a list of calls"),
        ([{"arguments": {}}], "expected_tool_calls: 0.name: Field required"),
    ],
)
def test_bad_expected_calls_are_an_error_naming_the_case(expected: object, message: str) -> None:
    result = run(tool_args_match("book"), _case(expected), _out(("book", {})))
    assert result.status == "error"
    assert "case 'c2'" in result.reason and message in result.reason


def test_a_case_without_expected_calls_is_an_error_not_a_pass() -> None:
    result = run(tool_calls_f1(), CASE, _out(("book", {})))
    assert result.status == "error" and "has no expected_tool_calls" in result.reason


def test_precision_recall_f1_known_values() -> None:
    assert precision_recall_f1(0, 0, 0) == (1.0, 1.0, 1.0)
    assert precision_recall_f1(0, 2, 0) == (0.0, 0.0, 0.0)
    p, r, f1 = precision_recall_f1(2, 3, 4)
    assert (p, r) == (0.5, 2 / 3)
    assert f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_matching_is_one_to_one_and_order_free() -> None:
    expected = [ToolCall(name="s", arguments={"q": "a"}), ToolCall(name="s", arguments={})]
    # The first actual call matches both expected ones under subset matching;
    # a greedy pairing of expected[1] with it first would lose expected[0].
    actual = [ToolCall(name="s", arguments={"q": "a"}), ToolCall(name="s", arguments={"q": "b"})]
    for order in permutations(actual):
        assert match_calls(list(reversed(expected)), list(order), "subset") == 2
    assert match_calls(expected, actual, "exact") == 1
    assert match_calls(expected, [actual[0]], None) == 1


def test_tool_calls_f1_measures_and_gates_with_its_reason() -> None:
    case = _case(
        [{"name": "search", "arguments": {"q": "oslo"}}, {"name": "book", "arguments": {}}]
    )
    out = _out(("book", {"seat": 1}), ("search", {"q": "bergen"}), ("weather", {}))
    measured = run(tool_calls_f1(), case, out)
    assert measured.status == "measured"
    assert measured.score == pytest.approx(0.4)  # P 1/3, R 1/2
    assert measured.reason.startswith("F1 0.400 (precision 0.333: 1 of 3")
    names_only = run(tool_calls_f1(args=None, threshold=0.8), case, out)
    assert names_only.status == "passed" and names_only.score == pytest.approx(0.8)
    assert names_only.reason.endswith("0.800 >= threshold 0.8")
    given = run(tool_calls_f1([{"name": "weather"}], threshold=0.6), case, out)
    assert given.status == "failed" and given.score == pytest.approx(0.5)


def test_factories_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="times"):
        tool_called("x", times=-1)
    with pytest.raises(ValueError, match="mode"):
        tool_args_match("x", {}, mode=cast(Any, "fuzzy"))
    with pytest.raises(ValueError, match="threshold"):
        tool_calls_f1(threshold=1.5)
    with pytest.raises(ValueError, match="args"):
        tool_calls_f1(args=cast(Any, "loose"))
