"""Baseline files: format, byte-stable round trips, clear errors, atomic writes, merging."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_build import baseline_from_records, check_partial_update, merge
from pytest_llmfunnel.gate.baseline_file import (
    Baseline,
    BaselineError,
    baseline_path,
    dumps_baseline,
    load_baseline,
    load_baseline_if_exists,
    write_baseline,
)
from pytest_llmfunnel.record import CaseRecord
from tests.support.sample_records import as_record

KEY = "tests/test_support.py::test_answers"
JUDGE = "offline-reference-judge v1 faithfulness"


def record(case: str, *, score: float = 4.5, promoted: bool = True, variant: str = "default",
           output: str | None = None, judge: str = JUDGE) -> CaseRecord:
    stages: list[dict[str, Any]] = [
        {"stage": "not_empty", "kind": "check", "status": "passed" if promoted else "failed",
         "gating": True, "must": False, "score": None, "reason": "checked", "judge": None},
    ]
    if promoted:
        stages.append(
            {"stage": "faithfulness", "kind": "judge", "gating": False, "must": False,
             "status": "passed" if score >= 4 else "failed", "score": score,
             "reason": f"a reason that churns {score}", "judge": judge}
        )
    return as_record({
        "dataset": KEY, "path": "tests/support.jsonl", "case": case, "variant": variant,
        "fingerprint": f"fp-{case}", "tags": ["billing"],
        "output": output if output is not None else f"answer to {case}",
        "promoted": promoted, "dropped_at": None if promoted else "not_empty", "error": None,
        "stages": stages,
    })


def sample_baseline() -> Baseline:
    records = [record("b"), record("a", score=2.0), record("c", promoted=False),
               record("a", variant="control", score=5.0)]
    return baseline_from_records(records, scales={"faithfulness": (1.0, 5.0)})


def test_file_layout_header_then_sorted_case_lines_without_reasons(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    assert write_baseline(path, sample_baseline()) is True
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "pytest-llmfunnel baseline" and header["version"] == 1
    assert header["dataset"] == KEY and header["path"] == "tests/support.jsonl"
    assert header["judges"] == {"faithfulness": JUDGE}
    assert header["stages"] == {
        "faithfulness": {"kind": "judge", "gating": False, "scale": [1.0, 5.0]},
        "not_empty": {"kind": "check", "gating": True, "scale": None},
    }
    assert header["metrics"]["cases"] == 4 and header["metrics"]["promotion_rate"] == 0.75
    cases = [json.loads(line) for line in lines[1:]]
    assert [(c["case"], c["variant"]) for c in cases] == [
        ("a", "control"), ("a", "default"), ("b", "default"), ("c", "default")
    ]
    assert cases[1]["stages"]["faithfulness"] == {"score": 2.0, "status": "failed"}
    assert "c" in [c["case"] for c in cases] and cases[3]["dropped_at"] == "not_empty"
    assert "reason" not in lines[1] and "churns" not in path.read_text(encoding="utf-8")
    for line in lines:  # keys sorted on every line
        keys = list(json.loads(line))
        assert keys == sorted(keys)


def test_round_trip_is_byte_stable(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "b.jsonl"
    write_baseline(path, sample_baseline())
    first = path.read_bytes()
    loaded = load_baseline(path)
    assert loaded == sample_baseline()
    assert write_baseline(path, loaded) is False  # nothing changed, nothing written
    assert dumps_baseline(loaded).encode("utf-8") == first
    # records in another order give the same bytes
    shuffled = baseline_from_records(
        [record("a", variant="control", score=5.0), record("c", promoted=False),
         record("a", score=2.0), record("b")], scales={"faithfulness": (1.0, 5.0)})
    assert dumps_baseline(shuffled).encode("utf-8") == first


def test_unicode_and_newlines_in_outputs_survive(tmp_path: Path) -> None:
    b = baseline_from_records([record("x", output="Grüße\nline two \"quoted\"")])
    path = tmp_path / "b.jsonl"
    write_baseline(path, b)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2
    assert load_baseline(path).cases[0].output == "Grüße\nline two \"quoted\""


@pytest.mark.parametrize(
    ("mutate", "lineno", "words"),
    [
        (lambda ls: [*ls[:2], "{not json", *ls[3:]], 3, "not valid JSON"),
        (lambda ls: [ls[0].replace('"version": 1', '"version": 2'), *ls[1:]], 1,
         "version 2 is not supported"),
        (lambda ls: [*ls, ls[2]], 6, "duplicate line for case 'a' variant 'default' "
         "(first at line 3)"),
        (lambda ls: ls[1:], 1, "not a header"),
        (lambda ls: [*ls[:2], ls[2].replace('"promoted": false', '"promoted": "maybe"')
                     .replace('"promoted": true', '"promoted": "maybe"'), *ls[3:]],
         3, "invalid case line: promoted"),
        (lambda ls: [*ls[:3], ls[3].replace('"faithfulness"', '"tone"'), *ls[4:]], 4,
         "stage 'tone' is not declared"),
        (lambda ls: [], 1, "empty"),
    ],
)
def test_corrupted_baseline_names_file_and_line_and_is_left_alone(
    tmp_path: Path, mutate: Any, lineno: int, words: str
) -> None:
    path = tmp_path / "b.jsonl"
    write_baseline(path, sample_baseline())
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(mutate(lines)) + "\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{lineno}: ")
    assert words in message
    assert "regenerate it with --llm-funnel-update-baseline" in message
    assert path.read_bytes() == before


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="create it with --llm-funnel-update-baseline"):
        load_baseline(tmp_path / "none.jsonl")
    assert load_baseline_if_exists(tmp_path / "none.jsonl") is None


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b.jsonl"
    write_baseline(path, sample_baseline())
    before = path.read_bytes()
    other = baseline_from_records([record("z")])

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_baseline(path, other)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["b.jsonl"]


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("tests/test_support.py::test_answers", "test_support__test_answers.jsonl"),
        ("tests/unit/test_x.py::TestQA::test_it", "unit__test_x__TestQA__test_it.jsonl"),
        ("test_top.py::test_a", "test_top__test_a.jsonl"),
        ("tests\\win\\test_w.py::test_a", "win__test_w__test_a.jsonl"),
        ("tests/test_p.py::test_a[data set/1]", "test_p__test_a_data_set_1.jsonl"),
        ("tests/../evil.py::t", "evil__t.jsonl"),
    ],
)
def test_baseline_path_is_readable_and_stays_in_the_folder(
    tmp_path: Path, key: str, name: str
) -> None:
    path = baseline_path(tmp_path, key)
    assert path == tmp_path / name
    assert path.parent == tmp_path


def test_baseline_path_of_a_very_long_key_is_capped_and_distinct(tmp_path: Path) -> None:
    a = baseline_path(tmp_path, "tests/t.py::" + "x" * 300 + "a")
    b = baseline_path(tmp_path, "tests/t.py::" + "x" * 300 + "b")
    assert a != b and len(a.name) < 180


def test_partial_update_is_refused_unless_merging() -> None:
    ids = {"a", "b", "c"}
    message = check_partial_update(ids, {"a"}, False, dataset=KEY)
    assert message is not None
    assert "1 of 3 cases" in message and "--llm-funnel-merge-baseline" in message
    assert KEY in message
    assert check_partial_update(ids, {"a"}, True) is None
    assert check_partial_update(ids, ids, False) is None
    assert check_partial_update(ids, {"a", "b", "c", "d"}, False) is None


def test_merge_replaces_selected_keeps_the_rest_and_drops_removed() -> None:
    existing = sample_baseline()
    merged = merge(existing, [record("a", score=3.0), record("d")], {"a", "d"},
                   dataset_ids={"a", "b", "d"})
    by_key = merged.index()
    # "a" default replaced; "a" control was selected but not re-run, so it goes
    assert sorted(by_key) == [("a", "default"), ("b", "default"), ("d", "default")]
    assert by_key[("a", "default")].stages["faithfulness"].score == 3.0
    assert by_key[("b", "default")] == existing.index()[("b", "default")]
    assert merged.header.stages["faithfulness"].scale == (1.0, 5.0)  # kept from existing
    assert merged.header.metrics["cases"] == 3


def test_merge_refuses_when_a_judge_changed() -> None:
    with pytest.raises(BaselineError, match="judge 'faithfulness' changed"):
        merge(sample_baseline(), [record("a", judge="gpt-judge v2")], {"a"})


def test_records_of_two_eval_tests_are_refused() -> None:
    other = replace(record("a"), dataset="tests/test_other.py::test_x")
    with pytest.raises(ValueError, match="several eval tests"):
        baseline_from_records([record("a"), other])
