"""Checks of a structured output's JSON paths, latency, cost and retrieved sources."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from pytest_llmfunnel.funnel.stages.base import Check
from pytest_llmfunnel.funnel.stages.json_path import JsonPath, PathMissing
from pytest_llmfunnel.funnel.stages.structure import (
    context_has_source,
    cost_within,
    json_path,
    latency_within,
)
from pytest_llmfunnel.models import Case, StageResult
from pytest_llmfunnel.output import Chunk, Output

CASE = Case(id="c1", input="q")


def run(stage: Check, case: Case, output: str | Output) -> StageResult:
    """The stage's result on ``output``, the same run synchronously and awaited."""
    result: StageResult = stage.run(case, cast(Any, output))
    assert asyncio.run(stage.arun(case, cast(Any, output))) == result
    return result


DOC = {"plan": {"steps": [{"tool": "search"}, {"tool": "book"}]}, "a.b": 1, "n": None}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("$.plan.steps[0].tool", "search"),
        ("plan.steps[-1].tool", "book"),
        ('$["a.b"]', 1),
        ("$['a.b']", 1),
        ("$.n", None),
        ("$.plan.steps", [{"tool": "search"}, {"tool": "book"}]),
    ],
)
def test_json_paths_find_their_value(path: str, value: object) -> None:
    assert JsonPath.parse(path).find(DOC) == value


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("$.plan.steps[2]", "$.plan.steps has 2 items, no [2]"),
        ("$.plan.missing", "$.plan has no key 'missing'"),
        ("$.plan.steps.tool", "$.plan.steps is a list, not an object"),
        ("$.plan[0]", "$.plan is an object, not a list"),
        ("$.n.x", "$.n is null, not an object"),
    ],
)
def test_a_missing_path_says_where_it_stopped(path: str, where: str) -> None:
    with pytest.raises(PathMissing) as info:
        JsonPath.parse(path).find(DOC)
    assert str(info.value) == where


@pytest.mark.parametrize("bad", ["", "$", "$.", "a..b", "a[x]", "a[0", "$.a b"])
def test_bad_paths_are_refused_when_the_check_is_made(bad: str) -> None:
    with pytest.raises(ValueError, match="JSON path"):
        json_path(bad)


def test_json_path_on_metadata_equals_predicate_and_absence() -> None:
    out = Output(text="ok", metadata={"route": {"model": "small", "hops": 3}})
    assert run(json_path("route.model", equals="small"), CASE, out).status == "passed"
    wrong = run(json_path("route.model", equals="large"), CASE, out)
    assert wrong.status == "failed"
    assert wrong.reason == "route.model is \"small\", expected 'large'"
    assert run(json_path("route.hops", predicate=lambda h: h <= 2), CASE, out).status == "failed"
    assert run(json_path("route.cache", exists=False), CASE, out).status == "passed"
    present = run(json_path("route.hops", exists=False), CASE, out)
    assert present.status == "failed" and present.reason == "route.hops is present (3)"
    missing = run(json_path("route.cache"), CASE, out)
    assert missing.status == "failed" and "has no key 'cache'" in missing.reason


def test_json_path_on_text_parses_the_answer() -> None:
    check = json_path("$.answer", equals=42, on="text")
    assert run(check, CASE, '{"answer": 42}').status == "passed"
    not_json = run(check, CASE, "forty-two")
    assert not_json.status == "failed" and not_json.reason.startswith("output is not JSON")


def test_json_path_refuses_contradictory_arguments() -> None:
    with pytest.raises(ValueError, match="exists=False"):
        json_path("a", exists=False, equals=1)
    with pytest.raises(ValueError, match="on must be"):
        json_path("a", on=cast(Any, "input"))


def test_latency_and_cost_bounds_pass_fail_and_error_without_a_figure() -> None:
    out = Output(text="ok", latency_s=1.5, cost=0.002)
    assert run(latency_within(2), CASE, out).status == "passed"
    slow = run(latency_within(1), CASE, out)
    assert slow.status == "failed" and slow.reason == "latency 1.5 s > 1 s"
    assert run(cost_within(0.01), CASE, out).status == "passed"
    dear = run(cost_within(0.001), CASE, out)
    assert dear.status == "failed" and dear.reason == "cost 0.002 > 0.001"
    # A plain answer reports neither: an error, never a pass.
    for check in (latency_within(2), cost_within(1)):
        result = run(check, CASE, "plain text")
        assert result.status == "error" and "carries no" in result.reason


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True, "1"])
def test_bounds_must_be_finite_non_negative_numbers(bad: object) -> None:
    with pytest.raises(ValueError):
        latency_within(cast(Any, bad))
    with pytest.raises(ValueError):
        cost_within(cast(Any, bad))


def test_context_has_source_by_id_or_source_all_or_any() -> None:
    out = Output(
        text="ok",
        context=(Chunk(text="a", id="doc-1"), Chunk(text="b", source="faq.md"), Chunk(text="c")),
    )
    assert run(context_has_source("doc-1", "faq.md"), CASE, out).status == "passed"
    partial = run(context_has_source("doc-1", "doc-9"), CASE, out)
    assert partial.status == "failed"
    assert partial.reason == "context (3 chunks) lacks doc-9 (has doc-1)"
    assert run(context_has_source("doc-1", "doc-9", match="any"), CASE, out).status == "passed"
    assert run(context_has_source("doc-1"), CASE, "plain text").status == "failed"


def test_context_has_source_reads_expected_sources_from_the_case() -> None:
    out = Output(text="ok", context=(Chunk(text="a", id="doc-1"),))
    listed = Case(id="c", input="q", metadata={"expected_sources": ["doc-1"]})
    cell = Case(id="c", input="q", metadata={"expected_sources": '["doc-2"]'})
    single = Case(id="c", input="q", metadata={"expected_sources": "doc-1"})
    assert run(context_has_source(), listed, out).status == "passed"
    assert run(context_has_source(), cell, out).status == "failed"
    assert run(context_has_source(), single, out).status == "passed"
    none = run(context_has_source(), CASE, out)
    assert none.status == "error" and "has no expected_sources" in none.reason
