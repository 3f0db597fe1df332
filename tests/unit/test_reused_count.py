"""The verdicts reused from the baseline are counted in the Markdown report and the JSON.

The terminal counts them from the live counters; the files are built from the
per-case records, so the record carries the fact on each reused stage.
"""

from __future__ import annotations

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.record import CaseRecord, RunResult
from pytest_llmfunnel.report.markdown import funnel_markdown
from pytest_llmfunnel.report.results_json import SettingsSummary, build_document
from tests.support.sample_records import as_record


def records() -> list[CaseRecord]:
    """Five cases of one judge stage: three verdicts reused, two asked (one a cache hit)."""
    out = []
    for i in range(5):
        stage = {"stage": "relevance", "status": "passed", "score": 5.0,
                 "requests": int(i == 3), "cache_hits": int(i == 4)}
        if i < 3:
            stage["reused"] = True
        out.append(as_record({"case": f"c{i}", "output": f"answer {i}", "stages": [stage]}))
    return out


def test_a_reused_verdict_survives_the_wire_and_only_it_carries_the_key() -> None:
    first, *_, last = records()
    assert first.stages[0].reused and not last.stages[0].reused
    assert first.to_json()["stages"][0].get("reused") is True
    assert "reused" not in last.to_json()["stages"][0]
    assert CaseRecord.from_json(first.to_json()) == first


def test_the_markdown_funnel_table_has_the_reused_column() -> None:
    table = funnel_markdown(RunResult.from_records(records()))
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| stage |"))
    row = next(line for line in lines if line.startswith("| relevance |"))
    cells = dict(zip([c.strip() for c in header.split("|")],
                     [c.strip() for c in row.split("|")], strict=True))
    assert (cells["reused"], cells["sent"], cells["hits"]) == ("3", "1", "1")
    assert "*sent*: judge requests sent; *hits*: verdicts read from the cache" in table


def test_the_json_results_count_them_per_stage_and_flag_them_per_case() -> None:
    settings = SettingsSummary.from_settings(Settings(judge="offline"), "offline judge")
    doc = build_document(records(), [], [], settings=settings, tool_version="0")
    (stage,) = doc.datasets[0].stages
    assert (stage.reused, stage.requests, stage.cache_hits) == (3, 1, 1)
    assert [c.stages[0].reused for c in doc.cases] == [True, True, True, False, False]
