"""The per-case record: built from the funnel's result, through the xdist wire and the files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import execnet
import pytest

from pytest_llmfunnel import Funnel, checks, judges, scorers
from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.gate.baseline_side import stage_facts
from pytest_llmfunnel.models import CaseResult, StageResult, Usage, Verdict
from pytest_llmfunnel.record import CaseRecord, RecordError, StageFacts, build_record
from pytest_llmfunnel.report.results_json import (
    SettingsSummary,
    build_document,
    load_results,
    to_json,
    write_results,
)

DATASET = "tests/test_support.py::test_support"


def judged(score: float, *, pair: tuple[str, str] | None = None) -> StageResult:
    verdict = Verdict(criterion="faithfulness", judge="gpt-4o-mini", score=score,
                      passed=score >= 4, reasoning="score 1 >= threshold 1: fooled?",
                      samples=(score, score), usage=Usage(prompt_tokens=12, completion_tokens=3),
                      requests=2, cache_hits=0)
    if pair is not None:
        return StageResult("versus", "judge", "measured", False, score, "A wins", verdict,
                           pair=pair)
    return StageResult("faithfulness", "judge", "passed" if score >= 4 else "failed", False, score,
                       "grounded", verdict)


def sample_record(case: str = "refund-window", *, variant: str = "default") -> CaseRecord:
    """A record with every kind of field set: tags, a threshold, a scale, a pair, a baseline."""
    funnel = Funnel(checks.not_empty(), scorers.length_ratio(name="length", threshold=0.5),
                    judges.faithfulness())
    facts = stage_facts(funnel)
    stages = (
        StageResult("not_empty", "check", "passed", True),
        StageResult("length", "scorer", "passed", True, 0.9, "0.900 >= threshold 0.5"),
        judged(3.5),
        judged(1.0, pair=(variant, "treatment")),
    )
    result = CaseResult(case, variant, "Refunds within 30 days.", stages, promoted=True)
    before = CaseResult(case, variant, "Refunds within 60 days.", stages[:3], promoted=True)
    common: dict[str, Any] = {
        "path": "tests/support.jsonl", "fingerprint": "ab" * 32,
        "tags": ("billing", "refunds"), "judges": {"faithfulness": "gpt-4o-mini · prompt 1"},
        "facts": facts,
    }
    return build_record(result, DATASET, baseline=build_record(before, DATASET, **common),
                        **common)


def test_the_record_carries_what_used_to_be_parsed_out_of_text() -> None:
    record = sample_record()
    stage = {s.stage: s for s in record.stages}
    assert stage["faithfulness"].threshold == judges.faithfulness().pass_threshold
    assert stage["faithfulness"].scale == (1.0, 5.0)
    assert stage["length"].threshold == 0.5 and stage["length"].scale is None
    assert stage["not_empty"].threshold is None
    assert stage["versus"].pairwise and stage["versus"].pair == ("default", "treatment")
    assert stage["versus"].threshold is None
    assert not stage["faithfulness"].pairwise
    assert stage["faithfulness"].judge == "gpt-4o-mini · prompt 1"
    assert (stage["faithfulness"].samples, stage["faithfulness"].prompt_tokens) == ((3.5, 3.5), 12)


def test_round_trip_through_the_xdist_wire() -> None:
    """What a worker sends (execnet's own serializer) reads back to an equal record."""
    record = sample_record()
    received = execnet.loads(execnet.dumps(record.to_json()))
    assert CaseRecord.from_json(received) == record


def test_round_trip_through_plain_json() -> None:
    record = sample_record()
    assert CaseRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_the_nested_baseline_does_not_repeat_the_records_own_fields() -> None:
    data = sample_record().to_json()
    baseline = data["baseline"]
    assert baseline is not None
    assert {"dataset", "path", "tags"} & set(baseline) == set()
    assert "pair" not in data["stages"][0]  # only a comparison carries one


def test_round_trip_through_the_json_results_file(tmp_path: Path) -> None:
    records = [sample_record("a"), sample_record("b", variant="treatment")]
    settings = SettingsSummary.from_settings(Settings(), "offline reference judge")
    document = build_document(records, [], [], settings=settings, tool_version="0")
    path = tmp_path / "results.json"
    write_results(document, path)
    loaded = load_results(path)
    assert list(loaded.report_data().records) == records
    assert to_json(loaded) == path.read_text(encoding="utf-8")


def wire() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(sample_record().to_json()))
    return loaded


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["stages"][1].update(confidence=0.9), "stages.1.confidence"),
        (lambda d: d["baseline"].update(extra="x"), "baseline.extra"),
    ],
    ids=["record", "stage", "baseline"],
)
def test_an_unknown_field_is_named(change: Any, field: str) -> None:
    data = wire()
    change(data)
    with pytest.raises(RecordError, match=rf"record field '{field}': unknown field"):
        CaseRecord.from_json(data)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("fingerprint"), "fingerprint"),
        (lambda d: d["stages"][2].pop("status"), "stages.2.status"),
        (lambda d: d["baseline"].pop("promoted"), "baseline.promoted"),
    ],
    ids=["record", "stage", "baseline"],
)
def test_a_missing_field_is_named(change: Any, field: str) -> None:
    data = wire()
    change(data)
    with pytest.raises(RecordError, match=rf"record field '{field}': missing"):
        CaseRecord.from_json(data)


def test_a_field_of_the_wrong_kind_is_named_with_what_was_given() -> None:
    data = wire()
    data["stages"][2]["status"] = "maybe"
    with pytest.raises(RecordError, match=r"record field 'stages.2.status': .*'maybe'"):
        CaseRecord.from_json(data)
    data = wire()
    data["stages"][2]["threshold"] = "four"
    with pytest.raises(RecordError, match=r"record field 'stages.2.threshold': .*'four'"):
        CaseRecord.from_json(data)


def test_a_baseline_repeating_the_records_own_fields_is_refused() -> None:
    data = wire()
    data["baseline"]["dataset"] = "another"
    with pytest.raises(RecordError, match=r"'baseline.dataset': not expected"):
        CaseRecord.from_json(data)


def test_something_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(RecordError, match="must be a JSON object, got list"):
        CaseRecord.from_json([1, 2])


def test_a_record_is_immutable_and_shares_the_facts_it_was_built_from() -> None:
    record = sample_record()
    with pytest.raises(AttributeError):
        record.case = "other"  # type: ignore[misc]
    facts = {"faithfulness": StageFacts((1.0, 5.0), 4.0)}
    result = CaseResult("c", "default", "o", (judged(5.0),), promoted=True)
    one, two = (build_record(result, DATASET, facts=facts) for _ in range(2))
    assert one.stages[0].scale is two.stages[0].scale  # one tuple per stage, not per case
    assert replace(one, case="d") != one
