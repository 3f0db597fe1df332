"""The ledger records the ranking's outcomes, and calibrate reads them beside old lines.

A schema-1 line (a place: best, candidate or discarded) is copied here as the
previous version wrote it; the schema-2 lines are built from case records
ranked for real.
"""

from __future__ import annotations

from pathlib import Path

from pytest_llmfunnel.ledger.build import Decided, run_entries
from pytest_llmfunnel.ledger.calibrate import calibrate, calibration_lines, offline_text
from pytest_llmfunnel.ledger.entries import (
    SCHEMA_VERSION,
    OnlineEntry,
    RunEntry,
    from_line,
    to_line,
)
from pytest_llmfunnel.ledger.files import read_ledgers
from pytest_llmfunnel.variants.ranking import rank_variants
from tests.support.ledger_records import FACTS, records

OLD_LINE = (
    '{"branch":"main","cases":40,"commit":"0101010101010101010101010101010101010101",'
    '"cost":{"cache_hits":0,"completion_tokens":10,"cost":null,"prompt_tokens":100,'
    '"requests":1},"dataset_fingerprint":"99","decision":"not gated","duration":4.5,'
    '"judges":{},"kind":"run","metrics":[{"against":"control","decision":'
    '"not shown non-inferior","diff":-0.05,"gated":true,"high":0.9,"kind":"binary",'
    '"low":0.7,"n":40,"name":"helpful pass rate","value":0.8}],"promoted":true,'
    '"ranking":"candidate","run_id":"run-old","schema":1,"test":"tests/test_a.py::test_a",'
    '"time":"2026-01-01T10:00:00Z","variant":"older"}'
)


def entries() -> dict[str, RunEntry]:
    recs = (records("control", fails=1, n=40) + records("candidate", fails=8, n=40)
            + records("close", fails=2, n=40) + records("bad", fails=30, n=40))
    rankings = rank_variants(recs, control="control")
    return {e.variant: e for e in run_entries(recs, FACTS, Decided(rankings=rankings))}


def outcome(variant: str, decision: str, effect: float) -> OnlineEntry:
    return OnlineEntry.model_validate({
        "run_id": f"o-{variant}", "time": "2026-06-01T00:00:00Z", "variant": variant,
        "experiment": f"exp-{variant}", "metric": "csat", "effect": effect,
        "decision": decision})


def test_an_old_line_is_read_as_it_was_written() -> None:
    old = from_line(OLD_LINE)
    assert isinstance(old, RunEntry)
    assert old.ranking == "candidate" and old.outcome is None and old.promoted is True
    assert old.offline == "promoted" and offline_text(old) == "promoted"
    assert old.margin is None and old.cases_needed is None


def test_new_lines_carry_the_outcome_and_read_back() -> None:
    by = entries()
    assert {v: e.outcome for v, e in by.items()} == {
        "control": "control", "candidate": "undecided", "close": "non-inferior",
        "bad": "clearly worse"}
    assert {v for v, e in by.items() if e.promoted} == {"control", "close"}
    for entry in by.values():
        line = to_line(entry)
        assert f'"schema":{SCHEMA_VERSION}' in line and '"outcome":' in line
        assert from_line(line) == entry
    close = by["close"]
    assert close.margin is not None
    assert offline_text(close) == f"non-inferior within {close.margin * 100:.1f}pt"
    assert offline_text(by["candidate"]) == (
        f"undecided (tolerance needs ~{by['candidate'].cases_needed} cases)")
    assert offline_text(by["bad"]) == "clearly worse"


def test_calibrate_counts_the_outcomes_and_the_old_lines(tmp_path: Path) -> None:
    by = entries()
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(OLD_LINE + "\n" + "".join(to_line(e) for e in by.values()) + "".join(
        to_line(outcome(v, d, x)) for v, d, x in (
            ("older", "win", 0.02), ("close", "win", 0.01), ("candidate", "win", 0.03),
            ("bad", "loss", -0.02))))
    result = calibrate(read_ledgers([ledger]))
    assert [m.online.variant for m in result.promoted] == ["older", "close"]
    assert [m.online.variant for m in result.undecided] == ["candidate"]
    assert [m.online.variant for m in result.not_promoted] == ["bad"]
    lines = list(calibration_lines(result))
    assert "promoted offline, won online:     2 of 2 (100%)" in lines
    assert "undecided offline, won online:    1 of 1 (100%)" in lines
    assert "not promoted offline, won online: 0 of 1 (0%)" in lines
    table = "\n".join(lines)
    assert "clearly worse" in table and "non-inferior within" in table
    assert "  promoted" in table  # the old line, by its promoted field
