"""A judge change is said out loud: old → new judge, and the baseline's figures under each."""

from __future__ import annotations

from typing import Any

from pytest_llmfunnel.gate.baseline_build import baseline_from_records
from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.gate.judge_change import Figures, judge_change_markdown, judge_changes
from tests.support.sample_records import as_record


def _record(case: str, judge: str, status: str, score: float, base: Any = None) -> Any:
    record = {
        "dataset": "t.py::t", "case": case, "variant": "default", "fingerprint": "f",
        "output": "o", "promoted": True, "dropped_at": None, "error": None,
        "stages": [{"stage": "q", "kind": "judge", "status": status, "gating": False,
                    "score": score, "judge": judge}],
    }
    if base is not None:
        record["baseline"] = base.to_json()
    return as_record(record)


def test_figures_cover_only_cases_with_a_verdict_on_both_judges() -> None:
    stored: Baseline = baseline_from_records([
        _record("a", "old", "passed", 5.0), _record("b", "old", "passed", 4.0),
        _record("c", "old", "failed", 1.0),
    ])
    records = [
        _record("a", "new", "failed", 2.0, _record("a", "new", "failed", 2.0)),
        _record("b", "new", "passed", 4.0, _record("b", "new", "error", 0.0)),  # left out
        _record("c", "new", "failed", 1.0, _record("c", "new", "passed", 4.0)),
    ]
    (change,) = judge_changes(records, {"t.py::t": stored})
    assert (change.old_judge, change.new_judge, change.n) == ("old", "new", 2)
    assert change.old == Figures(pass_rate=0.5, mean_score=3.0)
    assert change.new == Figures(pass_rate=0.5, mean_score=3.0)
    assert "| t.py::t | q | old | new | 2 | 50.0% → 50.0% | 3 → 3 |" in judge_change_markdown(
        [change]
    ).replace("&#58;", ":")
    assert judge_changes(records, {"t.py::t": None}) == []
