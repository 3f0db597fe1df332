"""The ledger file: one sorted-key line per entry, appended whole, read back naming bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmfunnel.ledger.entries import (
    SCHEMA_VERSION,
    Cost,
    LedgerError,
    MetricEntry,
    OnlineEntry,
    RunEntry,
    from_line,
    to_line,
)
from pytest_llmfunnel.ledger.files import append_entries, read_ledgers
from pytest_llmfunnel.ledger.provenance import commit_and_branch


def entry(run_id: str = "r1", variant: str = "default", time: str = "2026-01-01T00:00:00Z",
          value: float = 0.8) -> RunEntry:
    return RunEntry(
        run_id=run_id, time=time, commit="c" * 40, branch="main", test="t.py::test_x",
        variant=variant, cases=10, dataset_fingerprint="f" * 64,
        judges={"helpful": "gpt-4o-mini · prompt 0123"},
        metrics=[MetricEntry(name="helpful pass rate", kind="binary", gated=True, n=10,
                             value=value, low=0.5, high=0.95)],
        decision="passed", promoted=True, cost=Cost(requests=10), duration=1.5,
    )


def online(run_id: str = "o1") -> OnlineEntry:
    return OnlineEntry(run_id=run_id, time="2026-02-01T00:00:00Z", variant="v2",
                       experiment="exp-1", metric="csat", effect=0.02, decision="win")


def test_an_entry_is_one_line_with_sorted_keys_and_reads_back_equal() -> None:
    line = to_line(entry())
    assert line.endswith("\n") and line.count("\n") == 1
    data = json.loads(line)
    assert list(data) == sorted(data)
    assert data["schema"] == SCHEMA_VERSION and data["kind"] == "run"
    assert from_line(line) == entry()
    assert from_line(to_line(online())) == online()


def test_a_line_from_a_newer_schema_is_refused_by_name() -> None:
    data = json.loads(to_line(entry()))
    data["schema"] = SCHEMA_VERSION + 1
    newer = f"schema {SCHEMA_VERSION + 1}; this version reads up to {SCHEMA_VERSION}: upgrade"
    with pytest.raises(LedgerError, match=newer):
        from_line(json.dumps(data))


def test_an_unknown_field_is_named() -> None:
    data = json.loads(to_line(entry()))
    data["api_key"] = "x"
    with pytest.raises(LedgerError, match=r"api_key: Extra inputs are not permitted"):
        from_line(json.dumps(data))


def test_appends_add_lines_and_several_files_merge_with_duplicates_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "ledger.jsonl", tmp_path / "b.jsonl"
    append_entries(first, [entry("r1"), entry("r1", variant="v2")])
    append_entries(first, [entry("r2", time="2026-01-02T00:00:00Z")])
    # The same run in a second file (an artifact copy) counts once.
    append_entries(second, [entry("r2", time="2026-01-02T00:00:00Z"), online()])
    assert len(first.read_text().splitlines()) == 3
    ledger = read_ledgers([first, second])
    assert [(r.run_id, r.variant) for r in ledger.runs] == [
        ("r1", "default"), ("r1", "v2"), ("r2", "default")]
    assert ledger.online == [online()]
    assert ledger.duplicates == 1 and ledger.problems == []


def test_a_torn_last_line_is_named_and_skipped_and_the_next_append_starts_fresh(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.jsonl"
    append_entries(path, [entry("r1")])
    whole = to_line(entry("r2"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(whole[: len(whole) // 2])  # a writer killed mid-line
    append_entries(path, [entry("r3")])
    ledger = read_ledgers([path])
    assert [r.run_id for r in ledger.runs] == ["r1", "r3"]
    (problem,) = ledger.problems
    assert problem.startswith(f"{path}:2: not JSON") and problem.endswith("; line skipped")


def test_a_garbled_line_in_the_middle_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(to_line(entry("r1")) + "{\"kind\": \"run\"}\n\n" + "]]\n"
                    + to_line(entry("r2")), encoding="utf-8")
    ledger = read_ledgers([path])
    assert [r.run_id for r in ledger.runs] == ["r1", "r2"]
    assert [p.split(": ")[0] for p in ledger.problems] == [f"{path}:2", f"{path}:4"]
    assert "run_id: Field required" in ledger.problems[0]


def test_a_missing_file_says_how_a_ledger_is_made(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no such ledger file; a run writes one with "
                       "--llm-funnel-ledger"):
        read_ledgers([tmp_path / "absent.jsonl"])


@pytest.mark.parametrize(("env", "expected"), [
    ({"GITHUB_SHA": "abc", "GITHUB_REF_NAME": "feature"}, ("abc", "feature")),
    ({"CI_COMMIT_SHA": "def", "CI_COMMIT_REF_NAME": "main"}, ("def", "main")),
    ({"GITHUB_SHA": "abc"}, ("abc", None)),
])
def test_the_commit_and_branch_come_from_the_ci_variables(
    env: dict[str, str], expected: tuple[str, str | None], tmp_path: Path
) -> None:
    assert commit_and_branch(tmp_path, env) == expected
