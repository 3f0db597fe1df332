"""The verdict lockfile: stable export, verified import, all-or-nothing on damage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel import cli
from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.models import Usage
from pytest_llmfunnel.store.lockfile import (
    LockfileError,
    LockfileLine,
    export_lockfile,
    import_lockfile,
    read_lockfile,
)
from pytest_llmfunnel.store.verdict_cache import SecretInValueError, VerdictStore

HEADER = '{"lockfile":"pytest-llmfunnel verdicts","version":2}'
FAKE_KEY = "sk-test-0123456789abcdefFAKE"


def request(text: str, *, repeat: int = 0) -> JudgeRequest:
    body = {"model": "judge", "messages": [{"role": "user", "content": text}], "seed": 1}
    return JudgeRequest(body=body, base_url="http://judge.local/v1", repeat=repeat)


def answer(score: float, reasoning: str = "fine") -> CachedAnswer:
    return CachedAnswer(
        score=score,
        reasoning=reasoning,
        usage=Usage(prompt_tokens=10, completion_tokens=3),
        model="judge-2024",
        judge="openai:judge",
    )


# Deliberately put in an order that is not the sorted one.
ENTRIES = [
    ("case-b", "polite", request("b polite"), answer(4.0, "courteous — très poli")),
    ("case-a", "polite", request("a polite", repeat=1), answer(2.0)),
    ("case-a", "polite", request("a polite"), answer(3.0)),
    ("case-a", "correct", request("a correct"), answer(5.0)),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VerdictStore]:
    with VerdictStore(tmp_path / "cache") as opened:
        for case_id, stage, req, ans in ENTRIES:
            opened.put(req, ans, case_id=case_id, stage=stage)
        yield opened


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_round_trip_into_an_empty_store_hits_every_verdict(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = tmp_path / "verdicts.jsonl"
    assert export_lockfile(store, path) == 4
    with VerdictStore(tmp_path / "fresh", mode="replay-only") as fresh:
        assert import_lockfile(fresh, path) == 4
        for case_id, stage, req, ans in ENTRIES:
            assert fresh.get(req, case_id=case_id, stage=stage) == ans
        assert fresh.last_key("case-b", "polite") == request("b polite").cache_key()


def test_format_header_sorted_lines_sorted_keys_utf8_trailing_newline(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = tmp_path / "verdicts.jsonl"
    export_lockfile(store, path)
    raw = path.read_bytes()
    assert raw.endswith(b"}\n") and not raw.endswith(b"\n\n")
    text = raw.decode("utf-8")
    assert text.splitlines()[0] == HEADER
    assert "très poli" in text  # UTF-8, not \u escapes
    rows = lines_of(path)[1:]
    assert [(r["case_id"], r["stage"], r["repeat"]) for r in rows] == [
        ("case-a", "correct", 0),
        ("case-a", "polite", 0),
        ("case-a", "polite", 1),
        ("case-b", "polite", 0),
    ]
    assert list(rows[0]) == sorted(rows[0])
    assert sorted(rows[0]) == [
        "base_url", "body", "case_id", "digest", "judge", "key", "model",
        "reasoning", "repeat", "score", "stage", "usage",
    ]  # fmt: skip
    assert "passed" not in text and "created" not in text
    assert rows[1]["score"] == 3.0 and rows[1]["usage"]["prompt_tokens"] == 10


def test_export_is_byte_identical_across_runs_and_round_trips(
    store: VerdictStore, tmp_path: Path
) -> None:
    first, second, third = (tmp_path / f"{n}.jsonl" for n in ("one", "two", "three"))
    export_lockfile(store, first)
    export_lockfile(store, second)
    assert first.read_bytes() == second.read_bytes()
    with VerdictStore(tmp_path / "fresh") as fresh:
        import_lockfile(fresh, first)
        export_lockfile(fresh, third)
    assert third.read_bytes() == first.read_bytes()


def test_export_only_the_given_keys(store: VerdictStore, tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    with VerdictStore(store.directory, mode="read-only") as run:
        run.get(request("a correct"), case_id="case-a", stage="correct")
        run.get(request("never cached"), case_id="case-z", stage="correct")
        assert export_lockfile(run, path, keys=run.keys_seen) == 1
    assert [r["case_id"] for r in lines_of(path)[1:]] == ["case-a"]
    with pytest.raises(LockfileError, match="not in the cache"):
        export_lockfile(store, path, keys=["0" * 64])


def test_export_replaces_the_file_atomically_and_leaves_no_temp_files(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = tmp_path / "locks" / "v.jsonl"
    export_lockfile(store, path)
    path.chmod(0o640)
    export_lockfile(store, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["v.jsonl"]
    assert path.stat().st_mode & 0o777 == 0o640


def test_import_works_in_read_only_but_not_when_the_cache_is_off(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = tmp_path / "v.jsonl"
    export_lockfile(store, path)
    with VerdictStore(tmp_path / "ro", mode="read-only") as read_only:
        assert import_lockfile(read_only, path) == 4
        assert read_only.stats().verdicts == 4
    with (
        VerdictStore(tmp_path / "off", mode="off") as off,
        pytest.raises(LockfileError, match="cache is off"),
    ):
        import_lockfile(off, path)


# -- damaged lockfiles --------------------------------------------------------------------


def _damaged(store: VerdictStore, tmp_path: Path, line: int, new: str) -> Path:
    path = tmp_path / "v.jsonl"
    export_lockfile(store, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _edited(store: VerdictStore, tmp_path: Path, line: int, **changes: Any) -> Path:
    path = tmp_path / "v.jsonl"
    export_lockfile(store, path)
    row = lines_of(path)[line - 1]
    row.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del row[key]
    return _damaged(store, tmp_path, line, json.dumps(row))


def _assert_rejected_and_nothing_imported(path: Path, tmp_path: Path, match: str) -> None:
    with VerdictStore(tmp_path / "target") as target:
        with pytest.raises(LockfileError, match=match):
            import_lockfile(target, path)
        assert target.stats().verdicts == 0


def test_bad_json_names_file_and_line(store: VerdictStore, tmp_path: Path) -> None:
    path = _damaged(store, tmp_path, 4, '{"key": "abc", oops')
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:4: not valid JSON")


def test_missing_field_names_file_line_and_field(store: VerdictStore, tmp_path: Path) -> None:
    path = _edited(store, tmp_path, 5, score=None)
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:5: bad verdict line: score")


def test_wrong_types_and_non_finite_scores_are_rejected(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = _edited(store, tmp_path, 2, repeat="0")
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:2: bad verdict line: repeat")
    path = _damaged(
        store, tmp_path, 3, lines_of_text(path)[2].replace('"score":3.0', '"score":NaN')
    )
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:3: .*score")


def lines_of_text(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_wrong_version_and_foreign_files_are_rejected(store: VerdictStore, tmp_path: Path) -> None:
    path = _damaged(store, tmp_path, 1, '{"lockfile":"pytest-llmfunnel verdicts","version":3}')
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:1: lockfile version 3")
    path = _damaged(store, tmp_path, 1, '{"something": "else"}')
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:1: not a pytest-llmfunnel")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _assert_rejected_and_nothing_imported(empty, tmp_path, rf"{empty}:1: empty lockfile")
    _assert_rejected_and_nothing_imported(tmp_path / "nope.jsonl", tmp_path, "no lockfile at")


def test_a_key_that_does_not_match_its_request_is_rejected(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = _edited(store, tmp_path, 3, body={"model": "judge", "messages": [], "seed": 2})
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:3: key .* does not match")
    path = _edited(store, tmp_path, 3, repeat=7)
    _assert_rejected_and_nothing_imported(path, tmp_path, rf"{path}:3: key .* does not match")


@pytest.mark.parametrize(
    "changes",
    [
        {"score": 5.0},  # the edit a hand makes to turn a failure into a pass
        {"reasoning": "looks great"},
        {"judge": "someone else"},
        {"model": "gpt-5"},
        {"usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        {"case_id": "case-z"},
        {"stage": "correct"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_a_hand_edited_answer_is_rejected_naming_file_and_line(
    store: VerdictStore, tmp_path: Path, changes: dict[str, Any]
) -> None:
    path = _edited(store, tmp_path, 3, **changes)
    _assert_rejected_and_nothing_imported(
        path, tmp_path, rf"{path}:3: .*checksum does not match .*re-export"
    )


def test_the_cli_refuses_a_hand_edited_score_and_imports_nothing(
    store: VerdictStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _edited(store, tmp_path, 4, score=5.0)
    target = tmp_path / "target"
    code = cli.main(["cache", "import", "--cache-dir", str(target), str(path)])
    out, err = capsys.readouterr()
    assert code != 0
    assert f"{path}:4:" in err and "imported" not in out
    with VerdictStore(target) as opened:
        assert opened.stats().verdicts == 0


def test_a_lockfile_of_the_previous_version_is_refused_with_the_way_out(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = tmp_path / "v.jsonl"
    export_lockfile(store, path)
    rows = lines_of(path)
    old = [{"lockfile": "pytest-llmfunnel verdicts", "version": 1}]
    old += [{k: v for k, v in row.items() if k != "digest"} for row in rows[1:]]
    path.write_text("".join(json.dumps(r) + "\n" for r in old), encoding="utf-8")
    _assert_rejected_and_nothing_imported(
        path, tmp_path, rf"{path}:1: lockfile version 1 .*re-export"
    )


def test_a_damaged_import_leaves_an_existing_store_unchanged(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = _edited(store, tmp_path, 5, base_url="http://elsewhere/v1")
    with VerdictStore(tmp_path / "target") as target:
        target.put(request("keep me"), answer(1.0), case_id="k", stage="s")
        with pytest.raises(LockfileError):
            import_lockfile(target, path)
        assert target.stats().verdicts == 1
        assert target.get(request("a polite"), case_id="case-a", stage="polite") is None


def test_duplicate_lines_are_fine_when_equal_and_an_error_when_not(
    store: VerdictStore, tmp_path: Path
) -> None:
    path = tmp_path / "v.jsonl"
    export_lockfile(store, path)
    text = lines_of_text(path)
    path.write_text("\n".join([*text, text[2], ""]) + "\n", encoding="utf-8")
    assert len(read_lockfile(path)) == 4
    # Two honest exports of the same request with different answers (a merge of
    # two branches' lockfiles): each line checks out, the pair does not.
    changed = json.loads(text[2])
    changed["score"] = 1.0
    changed["digest"] = LockfileLine.model_validate(changed).expected_digest()
    path.write_text("\n".join([*text, json.dumps(changed)]) + "\n", encoding="utf-8")
    _assert_rejected_and_nothing_imported(
        path, tmp_path, rf"{path}:6: .* already appears on line 3"
    )


# -- secrets ------------------------------------------------------------------------------


def test_no_secret_in_the_lockfile(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    with VerdictStore(tmp_path / "cache", secrets=[FAKE_KEY]) as guarded:
        guarded.put(request("hello"), answer(4.0), case_id="c1", stage="s")
        export_lockfile(guarded, path)
    text = path.read_text(encoding="utf-8")
    assert "hello" in text and FAKE_KEY not in text


def test_export_refuses_a_cache_that_holds_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text("previous\n")
    with VerdictStore(tmp_path / "cache") as unguarded:  # written before the key was known
        unguarded.put(request(f"key {FAKE_KEY}"), answer(4.0), case_id="c1", stage="s")
    with (
        VerdictStore(tmp_path / "cache", secrets=[FAKE_KEY]) as guarded,
        pytest.raises(SecretInValueError),
    ):
        export_lockfile(guarded, path)
    assert path.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "v.jsonl"]


def test_import_refuses_a_lockfile_holding_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    with VerdictStore(tmp_path / "a") as source:
        source.put(request(f"key {FAKE_KEY}"), answer(4.0), case_id="c1", stage="s")
        export_lockfile(source, path)
    with VerdictStore(tmp_path / "b", secrets=[FAKE_KEY]) as guarded:
        with pytest.raises(SecretInValueError):
            import_lockfile(guarded, path)
        assert guarded.stats().verdicts == 0
