"""JSON results: the schema, stable output, round trips, clear errors, the docs kept in step.

The sample session built here is also written to ``tests/golden/results.json``,
which the terminal and Markdown report tests render. Set
``LLMFUNNEL_UPDATE_GOLDEN=1`` to rewrite the golden files (and
``docs/json-schema.md``) after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision, MetricSpec, PairedSample, decide
from pytest_llmfunnel.models import CaseResult, StageResult, Usage, Verdict
from pytest_llmfunnel.record import CaseRecord, StageFacts, build_record
from pytest_llmfunnel.report.results_json import (
    SCHEMA_VERSION,
    Decision,
    ResultsDocument,
    ResultsError,
    SettingsSummary,
    build_document,
    load_results,
    to_json,
    write_results,
)
from pytest_llmfunnel.report.results_schema_doc import schema_markdown
from tests.support.paths import GOLDEN, REPO

ROOT = REPO
DOC = ROOT / "docs" / "json-schema.md"
UPDATE = os.environ.get("LLMFUNNEL_UPDATE_GOLDEN") == "1"
OFFLINE = "offline-reference-judge v1 (rule-based, not an LLM)"
SUPPORT = "tests/test_support.py::test_support"
QA = "tests/test_qa.py::test_qa"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>`` exactly (or rewrite it when updating)."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with LLMFUNNEL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")




def _judge(score: float, reason: str) -> StageResult:
    verdict = Verdict(
        criterion="faithfulness", judge=OFFLINE, score=score, passed=score >= 3, reasoning=reason,
        samples=(score,), usage=Usage(prompt_tokens=0, completion_tokens=0), requests=1,
    )
    if score >= 3:
        return StageResult("faithfulness", "judge", "passed", False, score, reason, verdict)
    return StageResult("faithfulness", "judge", "failed", False, score, reason, verdict)


def sample_records() -> list[CaseRecord]:
    """Six support cases over three tags and two QA cases, through the real record builder."""
    out = []
    plan = [
        ("refund-window", ("billing",), 2.0, "claims 60 days; the context says 30"),
        ("refund-method", ("billing",), 5.0, "every claim is in the context"),
        ("password-reset", ("account",), 4.0, "supported"),
        ("delete-account", ("account", "gdpr"), 1.0, "invents a 90 day grace period"),
        ("export-data", ("gdpr",), 4.5, "supported"),
    ]
    for case, tags, score, reason in plan:
        stages = (
            StageResult("not_empty", "check", "passed", True),
            StageResult("rouge_l", "scorer", "measured", False, 0.25 + score / 10),
            _judge(score, reason),
        )
        result = CaseResult(case, "default", f"Answer for {case}.", stages, promoted=True)
        out.append(build_record(result, SUPPORT, path="tests/support.jsonl", tags=tags,
                                facts={"faithfulness": StageFacts(threshold=3.0)}))
    dropped = CaseResult(
        "empty-answer", "default", "",
        (StageResult("not_empty", "check", "failed", True, reason="the output is empty"),),
        promoted=False, dropped_at="not_empty",
    )
    out.append(build_record(dropped, SUPPORT, path="tests/support.jsonl", tags=("billing",)))
    for case, ok in (("capital-fr", True), ("capital-de", False)):
        stage = StageResult("exact_match", "check", "passed" if ok else "failed", True,
                            reason="" if ok else "expected 'Berlin'")
        result = CaseResult(case, "default", "Paris", (stage,), promoted=ok,
                            dropped_at=None if ok else "exact_match")
        out.append(build_record(result, QA, path="tests/qa.jsonl"))
    # The baseline's output, re-evaluated with today's stages.
    for i, record in enumerate(out[:5]):
        rejudged = tuple(replace(s, status="passed", score=4.0) if s.stage == "faithfulness"
                         else s for s in record.stages)
        out[i] = replace(record, baseline=replace(record, stages=rejudged))
    return out


def binary(n: int, worse: int, better: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    rest = n - worse - better
    base = (1.0,) * worse + (0.0,) * better + (1.0,) * (rest - rest // 4) + (0.0,) * (rest // 4)
    cur = (0.0,) * worse + (1.0,) * better + (1.0,) * (rest - rest // 4) + (0.0,) * (rest // 4)
    return base, cur


def sample_decisions() -> list[GateDecision]:
    """Real gate decisions: one regression, one ok, one measured-only score, one not comparable."""
    faith = MetricSpec("faithfulness", "binary", tolerance=0.02)
    rouge = MetricSpec("rouge_l", "score", tolerance=0.02, gated=False, scale=(0.0, 1.0))
    exact = MetricSpec("exact_match", "binary", tolerance=0.02)
    tone = MetricSpec("tone", "score", tolerance=0.02, scale=(1.0, 5.0))
    b1, c1 = binary(200, 14, 2)
    b2, c2 = binary(60, 1, 1)
    base_r = tuple(0.5 + 0.01 * (i % 7) for i in range(40))
    cur_r = tuple(v - 0.004 * (i % 3) for i, v in enumerate(base_r))
    return decide(
        [
            PairedSample(faith, SUPPORT, b1, c1),
            PairedSample(rouge, SUPPORT, base_r, cur_r),
            PairedSample(exact, QA, b2, c2),
            PairedSample(tone, QA, (4.0,), (3.0,)),
        ]
    )


def sample_flips() -> list[Flip]:
    return [
        Flip(SUPPORT, "refund-method", "default", "faithfulness", "faithfulness",
                   4.0, 3.5, "mostly supported", "Refunds go back to the card."),
        Flip(SUPPORT, "delete-account", "default", "faithfulness", "faithfulness",
                   "passed", "failed", "invents a 90 day grace period",
                   "Your account is deleted after a 90 day grace period."),
        Flip(SUPPORT, "refund-window", "default", "faithfulness", "faithfulness",
                   True, False, "claims 60 days; the context says 30",
                   "You can ask for a refund within 60 days."),
        Flip(QA, "capital-de", "default", "exact_match", "exact_match",
                   False, True, None, "Berlin"),
    ]


def sample_settings() -> SettingsSummary:
    label = "offline reference judge (rule-based, not an LLM)"
    return SettingsSummary.from_settings(Settings(judge="offline", api_key="sk-secret"), label)


def sample_document() -> ResultsDocument:
    return build_document(
        sample_records(), sample_decisions(), sample_flips(), settings=sample_settings(),
        tool_version="0.1.0", missing_baselines=["tests/test_new.py::test_new"],
    )


# --- the tests ------------------------------------------------------------------


def test_sample_document_matches_golden_json() -> None:
    check_golden("results.json", to_json(sample_document()))


def test_document_round_trips_through_a_file(tmp_path: Path) -> None:
    doc = sample_document()
    path = tmp_path / "out" / "results.json"
    write_results(doc, path)
    loaded = load_results(path)
    assert loaded == doc
    assert to_json(loaded) == path.read_text(encoding="utf-8")


def test_decisions_round_trip_including_nan() -> None:
    decisions = sample_decisions()
    assert any(d.decision == "not comparable" for d in decisions)
    for d in decisions:
        back = Decision.from_gate(d).to_gate()
        for name in GateDecision.__dataclass_fields__:
            a, b = getattr(d, name), getattr(back, name)
            if isinstance(a, float) and math.isnan(a):
                assert isinstance(b, float) and math.isnan(b), name
            else:
                assert a == b, name


def test_output_is_stable_valid_json_without_timestamp_or_secret() -> None:
    first, second = to_json(sample_document()), to_json(sample_document())
    assert first == second
    data = json.loads(first)
    assert list(data) == sorted(data)
    assert "created_at" not in data
    assert data["schema_version"] == SCHEMA_VERSION
    assert "NaN" not in first
    assert "sk-secret" not in first and "api_key" not in first
    assert data["settings"]["judge"] == "offline" and data["settings"]["model"] is None
    stamped = sample_document().model_copy(update={"created_at": "2026-01-01T00:00:00Z"})
    assert json.loads(to_json(stamped))["created_at"] == "2026-01-01T00:00:00Z"


def test_document_holds_counts_verdict_and_every_record() -> None:
    doc = sample_document()
    assert doc.status == "regressed"
    assert doc.headline.startswith("Regression in 1 of 3 gated metrics (support: faithfulness")
    support = doc.datasets[0]
    assert (support.name, support.cases, support.promoted, support.errors) == (SUPPORT, 6, 5, 0)
    faith = next(s for s in support.stages if s.stage == "faithfulness")
    assert (faith.cases_in, faith.passed, faith.failed, faith.requests) == (5, 3, 2, 5)
    assert len(doc.cases) == 8 and doc.cases[0].baseline is not None
    assert [f.case for f in doc.flips][:1] == ["refund-method"]  # kept in the given order
    assert doc.missing_baselines == ["tests/test_new.py::test_new"]


def test_a_record_with_an_unknown_field_is_refused() -> None:
    record = sample_records()[0].to_json() | {"surprise": 1}
    with pytest.raises(ValueError, match="surprise"):
        CaseRecord.from_json(record)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no results file at .*--llm-funnel-json="),
        ("{", r"results.json:1: not valid JSON \(.* at column 2\); re-run pytest"),
        ("[1, 2]", "not a pytest-llmfunnel results file"),
        ('{"tool": "pytest-llmfunnel", "schema_version": 2}', "schema_version 2 is not supported"),
        ('{"tool": "pytest-llmfunnel", "schema_version": 1}', "tool_version: Field required"),
    ],
)
def test_load_results_explains_what_is_wrong(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ResultsError, match=message):
        load_results(path)


def test_load_results_names_the_bad_field(tmp_path: Path) -> None:
    data = json.loads(to_json(sample_document()))
    data["cases"][2]["stages"][0]["status"] = "maybe"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultsError, match=r"cases\.2\.stages\.0\.status"):
        load_results(path)


def test_docs_match_the_model() -> None:
    text = schema_markdown()
    if UPDATE:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/json-schema.md is stale: run the tests with LLMFUNNEL_UPDATE_GOLDEN=1"
    )
    schema = ResultsDocument.model_json_schema()
    assert json.dumps(schema, indent=2, sort_keys=True) in text
    for name, model in schema["$defs"].items():
        assert f"## {name}" in text
        for field in model["properties"]:
            assert f"| `{field}` |" in text
