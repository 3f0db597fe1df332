"""Loading well-formed datasets: formats, column mapping, variants, ids, tags, paths."""

from __future__ import annotations

import csv
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pytest_llmfunnel.dataset.load import (
    DatasetError,
    derive_case_id,
    load_dataset,
    resolve_dataset_path,
    validate_case_id,
)
from pytest_llmfunnel.models import Case, ChatMessage


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_jsonl_rows_become_cases_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "support.jsonl"
    path.write_text(
        '{"id": "refund", "input": "Can I get a refund?", "expected": "yes", "tags": ["billing"]}\n'
        "\n"
        '{"id": "hours", "input": "When are you open?", "metadata": {"lang": "en"}}\n',
        encoding="utf-8",
    )
    dataset = load_dataset(path)
    assert dataset.path == path
    assert [case.id for case in dataset.cases] == ["refund", "hours"]
    assert dataset.lines == (1, 3)  # the blank line 2 is skipped, numbering is physical
    assert dataset.variants == ()
    refund, hours = dataset.cases
    assert (refund.input, refund.expected, refund.tags) == (
        "Can I get a refund?",
        "yes",
        ("billing",),
    )
    assert hours.expected is None and hours.metadata == {"lang": "en"}
    assert len(dataset) == 2 and list(dataset) == list(dataset.cases)


def test_ndjson_extension_is_read_as_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "cases.NDJSON", [{"id": "a", "input": "hi"}])
    assert load_dataset(str(path)).cases[0].id == "a"


def test_utf8_bom_is_accepted_silently(tmp_path: Path) -> None:
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": "a", "input": "caf\xc3\xa9"}\n')
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes(b"\xef\xbb\xbfid,input\nb,hello\n")
    assert load_dataset(jsonl).cases[0].input == "café"
    case = load_dataset(csv_path).cases[0]
    assert (case.id, case.input) == ("b", "hello")  # the header's first column is "id", not BOM+id


def test_csv_with_column_mapping_tags_metadata_and_multiline_rows(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text(
        "id,question,answer,tags,source,metadata\n"
        'q1,"What is\nthe capital of France?",Paris,"geo; europe",atlas,"{""level"": 2}"\n'
        'q2,Largest ocean?,,"[""geo"", ""water""]",,\n'
        "q3,Two plus two?,4,math,quiz,\n",
        encoding="utf-8",
    )
    dataset = load_dataset(path, columns={"question": "input", "answer": "expected"})
    q1, q2, q3 = dataset.cases
    assert dataset.lines == (2, 4, 5)  # q1 spans lines 2-3; q2 starts on line 4
    assert q1.input == "What is\nthe capital of France?" and q1.expected == "Paris"
    assert q1.tags == ("geo", "europe")
    assert q1.metadata == {"level": 2, "source": "atlas"}  # unknown column joins metadata
    assert q2.expected is None  # an empty cell is absent
    assert q2.tags == ("geo", "water")
    assert q3.tags == ("math",) and q3.metadata == {"source": "quiz"}


def test_csv_tags_split_on_commas_and_json_chat_input(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["input", "tags", "context"])
        writer.writerow([json.dumps(messages), "a, b,,a", json.dumps(["doc one", "doc two"])])
        writer.writerow(["[not json] plain text", "", "plain context"])
    chat, plain = load_dataset(path).cases
    assert chat.input == (
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Hi"),
    )
    assert chat.tags == ("a", "b")  # split, stripped, empty and repeated tags dropped
    assert chat.context == "doc one\n\ndoc two"
    assert plain.input == "[not json] plain text" and plain.tags == ()
    assert plain.context == "plain context"


def test_yaml_list_and_cases_mapping_with_item_lines(tmp_path: Path) -> None:
    listed = tmp_path / "listed.yaml"
    listed.write_text(
        "- id: greet\n"
        "  input: Hello\n"
        "  context: [first, second]\n"
        "- id: chat\n"
        "  input:\n"
        "    - {role: user, content: Ping}\n",
        encoding="utf-8",
    )
    mapped = tmp_path / "mapped.yml"
    mapped.write_text("name: demo\ncases:\n  - input: one\n\n  - input: two\n", encoding="utf-8")
    dataset = load_dataset(listed)
    assert dataset.lines == (1, 4)
    assert dataset.cases[0].context == "first\n\nsecond"
    assert dataset.cases[1].input == (ChatMessage(role="user", content="Ping"),)
    other = load_dataset(mapped)
    assert [c.input for c in other.cases] == ["one", "two"]
    assert other.lines == (3, 5)


def test_plain_output_column_is_the_default_variant(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "logged.jsonl", [{"input": "a", "output": "A"}])
    dataset = load_dataset(path)
    assert dataset.variants == ("default",)
    assert dataset.cases[0].outputs == {"default": "A"} and dataset.cases[0].output == "A"


def test_output_columns_name_variants(tmp_path: Path) -> None:
    path = tmp_path / "ab.csv"
    path.write_text(
        "input,output_control,output_treatment\nq1,old answer,new answer\nq2,,also new\n",
        encoding="utf-8",
    )
    dataset = load_dataset(path)
    assert dataset.variants == ("control", "treatment")
    assert dataset.cases[0].outputs == {"control": "old answer", "treatment": "new answer"}
    assert dataset.cases[1].outputs["control"] == ""  # an empty output cell is an empty output


def test_mapping_can_target_an_output_variant(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [{"prompt": "p", "completion": "c"}])
    dataset = load_dataset(path, columns={"prompt": "input", "completion": "output_gpt"})
    assert dataset.variants == ("gpt",) and dataset.cases[0].outputs == {"gpt": "c"}


def test_integer_ids_are_read_as_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ints.jsonl", [{"id": 7, "input": "x"}])
    assert load_dataset(path).cases[0].id == "7"


def test_derived_id_is_a_slug_plus_a_hash_of_the_input() -> None:
    text = "What's the refund policy for Café orders?"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    assert derive_case_id(text) == f"what-s-the-refund-policy-for-{digest}"
    assert derive_case_id("¿?") == f"case-{hashlib.sha256('¿?'.encode()).hexdigest()[:8]}"
    chat = [{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi there"}]
    assert derive_case_id(chat).startswith("hi-there-")
    assert derive_case_id(chat) != derive_case_id([chat[1]])  # the hash covers every message
    assert validate_case_id(derive_case_id(text)) is None
    assert len(derive_case_id("word " * 100)) <= 40 + 9


def test_derived_ids_survive_reordering_and_edits_to_expected(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"input": "How do I reset my password?", "expected": "Use the link."},
        {"input": [{"role": "user", "content": "Cancel my order"}], "expected": "Done."},
        {"input": "Where is my parcel?"},
    ]
    first = load_dataset(write_jsonl(tmp_path / "a.jsonl", rows))
    edited = [dict(rows[2]), dict(rows[0], expected="Click 'Forgot password'."), dict(rows[1])]
    second = load_dataset(write_jsonl(tmp_path / "b.jsonl", edited))
    ids = {case.input_text(): case.id for case in first.cases}
    assert {case.input_text(): case.id for case in second.cases} == ids
    assert ids["How do I reset my password?"].startswith("how-do-i-reset-my-password-")
    assert ids["user: Cancel my order"].startswith("cancel-my-order-")


def test_select_tags_keeps_cases_with_any_tag_and_their_lines(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            {"id": "a", "input": "1", "tags": ["smoke"]},
            {"id": "b", "input": "2", "tags": ["slow"]},
            {"id": "c", "input": "3", "tags": ["slow", "billing"]},
            {"id": "d", "input": "4"},
        ],
    )
    dataset = load_dataset(path)
    chosen = dataset.select_tags(["smoke", "billing"])
    assert [c.id for c in chosen.cases] == ["a", "c"]
    assert chosen.lines == (1, 3) and chosen.path == dataset.path
    assert dataset.select_tags([]).cases == ()
    assert len(dataset) == 4  # the original is untouched


def test_relative_paths_resolve_against_the_test_folder(tmp_path: Path) -> None:
    (tmp_path / "evals").mkdir()
    target = write_jsonl(tmp_path / "evals" / "qa.jsonl", [{"input": "x"}])
    test_dir = tmp_path / "tests"
    test_dir.mkdir()
    test_file = test_dir / "test_qa.py"
    test_file.write_text("", encoding="utf-8")
    assert resolve_dataset_path("../evals/qa.jsonl", relative_to=test_dir) == target.resolve()
    assert resolve_dataset_path("../evals/qa.jsonl", relative_to=test_file) == target.resolve()
    assert resolve_dataset_path(target, relative_to=test_dir) == target.resolve()


def test_missing_dataset_names_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        resolve_dataset_path("data/missing.jsonl", relative_to=tmp_path)
    resolved = (tmp_path / "data" / "missing.jsonl").resolve()
    assert info.value.path == resolved and info.value.line is None
    assert f"not found: {resolved}" in str(info.value)
    assert f"relative paths resolve against {tmp_path}" in str(info.value)


@pytest.mark.parametrize("case_id", ["refund-01", "q_7", "v1.2+beta", "7", "_hidden", "Ünicode"])
def test_validate_case_id(case_id: str) -> None:
    expected_ok = case_id.isascii()
    assert (validate_case_id(case_id) is None) is expected_ok


def test_very_large_fields_load_in_every_format(tmp_path: Path) -> None:
    big = "x" * (5 * 1024 * 1024)
    jsonl = write_jsonl(tmp_path / "big.jsonl", [{"input": "q", "context": big}])
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(f"input,context\nq,{big}\n", encoding="utf-8")
    yaml_path = tmp_path / "big.yaml"
    yaml_path.write_text(f"- input: q\n  context: {big}\n", encoding="utf-8")
    limit = csv.field_size_limit()
    for path in (jsonl, csv_path, yaml_path):
        context = load_dataset(path).cases[0].context
        assert context is not None and len(context) == len(big)
    assert csv.field_size_limit() == limit  # the process-wide csv limit is restored


def test_dataset_error_keeps_its_location_through_pickle(tmp_path: Path) -> None:
    error = DatasetError(tmp_path / "a.jsonl", "broken", line=3, field="input")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.field, str(copy)) == (
        error.path,
        3,
        "input",
        f"{tmp_path / 'a.jsonl'}:3: field 'input': broken",
    )


def test_error_paths_are_shown_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "support.jsonl").write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "evals" / "support.jsonl")
    assert str(info.value).startswith("evals/support.jsonl:1: field 'input': required field")


def test_cases_given_the_same_fields_share_one_set_of_their_names(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "input": "q1", "context": "c1", "output": "o1"},
        {"id": "b", "input": "q2", "context": "c2", "output": "o2"},
        {"id": "c", "input": "q3", "output": "o3"},
    ]
    first, second, third = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows)).cases
    # shared, not merely equal: a set of seven names costs 730 bytes per case
    assert first.model_fields_set is second.model_fields_set
    assert "context" in first.model_fields_set
    assert first.model_dump(exclude_unset=True)["context"] == "c1"
    assert third.model_dump(exclude_unset=True)["context"] is None  # given as None
    bare, other = Case(id="x", input="q"), Case(id="y", input="r")
    assert bare.model_fields_set is other.model_fields_set == {"id", "input"}
    changed = bare.model_copy(update={"expected": "e"})
    assert changed.model_fields_set == {"id", "input", "expected"}
    assert other.model_fields_set == {"id", "input"}  # the shared set is untouched
    with pytest.raises(ValidationError):
        first.id = "other"
