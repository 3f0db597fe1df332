"""Structured outputs through the funnel: targets, stages, judges, the cache key and records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel import Funnel, checks, judges, scorers
from pytest_llmfunnel.funnel.backend import JudgeRequest
from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge
from pytest_llmfunnel.funnel.runner import FunnelRunner, Unit
from pytest_llmfunnel.gate.baseline_file import BaselineCase, dumps_baseline
from pytest_llmfunnel.models import Case, CaseResult
from pytest_llmfunnel.output import Chunk, Output, OutputError, ToolCall
from pytest_llmfunnel.record import CaseRecord, build_record
from pytest_llmfunnel.store.verdict_cache import OutputStore, VerdictStore

CASE = Case(id="c1", input="When may I return a jacket?", context="Returns within 30 days.")
RAG = Output(
    text="Within 30 days.",
    context=(Chunk(text="Returns within 30 days.", id="d1", source="policy.md"),),
    tool_calls=(ToolCall(name="search", arguments={"q": "returns"}),),
    latency_s=0.25,
)


def run(funnel: Funnel, case: Case = CASE, **kw: Any) -> CaseResult:
    runner = FunnelRunner(backend=OfflineReferenceJudge(), **kw)
    return asyncio.run(runner.run(funnel, [Unit(case, "default")]))[0]


# --- a target may return an Output, or a dict of its fields ---


def test_a_target_returning_a_dict_gives_a_structured_output() -> None:
    def target(case: Case) -> dict[str, Any]:
        return {"text": "Within 30 days.", "context": [{"text": "Returns within 30 days."}]}

    result = run(Funnel(checks.not_empty(), target=target))
    assert result.error is None and result.promoted
    assert result.output == "Within 30 days."
    assert result.structured is not None
    assert result.structured.context == (Chunk(text="Returns within 30 days."),)


def test_an_async_target_may_return_an_output() -> None:
    async def target(case: Case) -> Output:
        return RAG

    result = run(Funnel(checks.not_empty(), target=target))
    assert result.structured == RAG and result.output == RAG.text


def test_a_target_returning_a_plain_output_keeps_a_plain_result() -> None:
    result = run(Funnel(checks.not_empty(), target=lambda case: Output(text="hi")))
    assert result.output == "hi" and result.structured is None


def test_an_invalid_dict_names_the_case_and_the_field() -> None:
    def target(case: Case) -> dict[str, Any]:
        return {"text": "x", "context": [{"id": "d1"}]}  # a chunk without its text

    result = run(Funnel(checks.not_empty(), target=target, target_retries=0))
    assert result.error is not None and result.output is None
    assert "case 'c1'" in result.error
    assert "context.0.text" in result.error
    assert result.target_errors == 1


def test_output_parse_names_unknown_fields() -> None:
    with pytest.raises(OutputError, match="field 'answer': unknown field"):
        Output.parse({"answer": "x"})
    with pytest.raises(OutputError, match="not int"):
        Output.parse(3)


# --- every stage gets the Output; text stages and user functions read the text ---


def test_text_checks_read_the_text_and_structured_checks_get_the_output() -> None:
    seen: list[object] = []

    def plain(case: Case, output: str) -> bool:
        seen.append(output)
        return True

    def cites(case: Case, output: Output) -> tuple[bool, str]:
        seen.append(output)
        ids = [c.id for c in output.context]
        return "d1" in ids, f"context ids {ids}"

    funnel = Funnel(
        checks.contains("30 days"),
        checks.check(plain),
        checks.check(cites, structured=True),
        scorers.scorer(lambda c, o: len(o.tool_calls), name="calls", structured=True),
        target=lambda case: RAG,
    )
    result = run(funnel)
    assert [s.status for s in result.stages] == ["passed", "passed", "passed", "measured"]
    assert seen == [RAG.text, RAG]
    calls = result.stage("calls")
    assert calls is not None and calls.score == 1.0


def test_a_structured_check_on_a_plain_output_gets_an_output_with_that_text() -> None:
    got: list[Output] = []
    def keep(case: object, output: Output) -> bool:
        got.append(output)
        return True

    check = checks.check(keep, name="x", structured=True)
    assert check.run(CASE, "plain").status == "passed"
    assert got == [Output(text="plain")]


def test_judge_requests_receive_the_output() -> None:
    judge = judges.relevance()
    requests = judge.requests(CASE, RAG, model="m", base_url="u", json_schema=True)
    subject = requests[0].subject
    assert subject is not None
    assert subject.output == RAG.text and subject.structured == RAG
    assert RAG.text in json.dumps(requests[0].body)


# --- the verdict cache key covers the whole output; plain keys are unchanged ---


def _key(output: str | Output) -> str:
    judge = judges.relevance()
    return judge.requests(CASE, output, model="m", base_url="u", json_schema=True)[0].cache_key()


def test_a_plain_output_keeps_the_key_it_always_had() -> None:
    judge = judges.relevance()
    request = judge.requests(CASE, "Within 30 days.", model="m", base_url="u", json_schema=True)[0]
    # The key of a plain output is the body's, the base URL's and the repeat's alone.
    legacy = JudgeRequest(body=request.body, base_url="u", repeat=0).cache_key()
    assert request.cache_key() == legacy
    assert _key(Output(text="Within 30 days.")) == legacy
    # Measurements are not content: a plain text with its latency keys the same.
    assert _key(Output(text="Within 30 days.", latency_s=1.5, cost=0.01)) == legacy


def test_the_key_changes_with_any_part_of_the_structure() -> None:
    base = _key(RAG)
    assert base != _key(RAG.text)
    other_chunk = RAG.model_copy(update={"context": (Chunk(text="Returns within 14 days."),)})
    assert _key(other_chunk) != base
    other_call = RAG.model_copy(update={"tool_calls": (ToolCall(name="search", arguments={}),)})
    assert _key(other_call) != base
    assert _key(RAG.model_copy(update={"latency_s": 9.0, "cost": 1.0})) == base


def test_a_verdict_over_a_structured_output_is_cached_by_its_digest(tmp_path: Path) -> None:
    outputs = iter([RAG, RAG, RAG.model_copy(update={"context": ()})])
    funnel = Funnel(judges.relevance(), target=lambda case: next(outputs))
    with VerdictStore(tmp_path / "cache") as store:
        first = run(funnel, store=store)
        second = run(funnel, store=store)
        third = run(funnel, store=store)
    hits = [r.stages[0].verdict.cache_hits for r in (first, second, third)]  # type: ignore[union-attr]
    assert hits == [0, 1, 0]


# --- recorded outputs, the xdist wire and the baseline keep the whole structure ---


def test_recorded_target_outputs_keep_the_structure(tmp_path: Path) -> None:
    calls: list[str] = []

    def target(case: Case) -> Output:
        calls.append(case.id)
        return RAG

    funnel = Funnel(checks.not_empty(), target=target, target_version="v1")
    with OutputStore(tmp_path / "cache") as outputs:
        first = run(funnel, outputs=outputs)
    with OutputStore(tmp_path / "cache") as outputs:
        assert outputs.get(CASE, funnel.target_name, "v1") == RAG
        again = run(funnel, outputs=outputs)
    assert calls == ["c1"]
    assert first.structured == again.structured == RAG


def test_a_plain_recorded_output_is_stored_as_it_always_was(tmp_path: Path) -> None:
    with OutputStore(tmp_path / "cache") as outputs:
        outputs.put(CASE, "t", "v1", Output(text="hi"))
        assert outputs.get(CASE, "t", "v1") == "hi"
        stored = json.loads(outputs.cache.get(f"output:{outputs.key(CASE, 't', 'v1')}"))
    assert stored["output"] == "hi"


def test_the_record_carries_the_structure_across_the_wire() -> None:
    result = run(Funnel(checks.not_empty(), target=lambda case: RAG))
    record = build_record(result, "test_x.py::test_eval")
    wire = json.loads(json.dumps(record.to_json()))
    assert wire["structured"]["context"] == [
        {"text": "Returns within 30 days.", "id": "d1", "source": "policy.md"}
    ]
    back = CaseRecord.from_json(wire)
    assert back == record and back.structured == RAG


def test_a_plain_record_has_the_wire_form_it_always_had() -> None:
    record = build_record(run(Funnel(checks.not_empty(), target=lambda c: "hi")), "d")
    assert "structured" not in record.to_json() and "target_errors" not in record.to_json()


def test_the_baseline_stores_the_structure_and_compares_the_whole_output() -> None:
    line = BaselineCase(case="c1", output=RAG.text, promoted=True, structured=RAG)
    text = dumps_baseline_line(line)
    assert '"structured": {' in text and '"latency_s": 0.25' in text
    assert line.same_output(RAG.text, RAG)
    assert line.same_output(RAG.text, RAG.model_copy(update={"latency_s": 3.0}))
    assert not line.same_output(RAG.text, None)
    assert not line.same_output(RAG.text, RAG.model_copy(update={"tool_calls": ()}))
    plain = BaselineCase(case="c1", output="hi", promoted=True)
    assert '"structured"' not in dumps_baseline_line(plain)
    assert plain.same_output("hi", None) and not plain.same_output("hi", RAG)


def dumps_baseline_line(line: BaselineCase) -> str:
    from pytest_llmfunnel.gate.baseline_file import Baseline, BaselineHeader

    text = dumps_baseline(Baseline(header=BaselineHeader(dataset="d"), cases=(line,)))
    return text.splitlines()[1]
