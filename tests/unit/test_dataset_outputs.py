"""Pre-logged structured outputs in JSONL, YAML and CSV, and the errors for malformed ones."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.dataset.load import DatasetError, load_dataset
from pytest_llmfunnel.output import Chunk, Output, ToolCall

STRUCTURED = {
    "text": "Within 30 days.",
    "context": [{"text": "Returns within 30 days.", "id": "d1", "source": "policy.md"}],
    "tool_calls": [{"name": "search", "arguments": {"q": "returns"}}],
}
EXPECTED = Output(
    text="Within 30 days.",
    context=(Chunk(text="Returns within 30 days.", id="d1", source="policy.md"),),
    tool_calls=(ToolCall(name="search", arguments={"q": "returns"}),),
)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_an_object_output_in_jsonl_is_a_structured_output(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "a", "input": "q", "output": STRUCTURED},
        {"id": "b", "input": "q", "output": "plain"},
    ])
    a, b = load_dataset(path).cases
    assert a.outputs == {"default": EXPECTED} and b.outputs == {"default": "plain"}


def test_variants_may_be_structured_and_a_text_only_object_is_its_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "a", "input": "q", "output_rag": STRUCTURED, "output_base": {"text": "t"}},
    ])
    [case] = load_dataset(path).cases
    assert case.outputs == {"rag": EXPECTED, "base": "t"}


def test_yaml_nested_output(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "- id: a\n"
        "  input: q\n"
        "  output:\n"
        "    text: Within 30 days.\n"
        "    context:\n"
        "      - {text: Returns within 30 days., id: d1, source: policy.md}\n"
        "    tool_calls:\n"
        "      - {name: search, arguments: {q: returns}}\n",
        encoding="utf-8",
    )
    [case] = load_dataset(path).cases
    assert case.output == EXPECTED


def test_csv_json_columns_hold_structured_outputs(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        ["id", "input", "output:json", "output_v2:json"],
        [["a", "q", json.dumps(STRUCTURED), json.dumps({"text": "v2"})],
         ["b", "q", "", json.dumps(STRUCTURED)]],
    )
    a, b = load_dataset(path).cases
    assert a.outputs == {"default": EXPECTED, "v2": "v2"}
    assert b.outputs == {"default": "", "v2": EXPECTED}


def test_a_plain_csv_output_that_looks_like_json_stays_text(tmp_path: Path) -> None:
    cell = json.dumps({"answer": 42})
    path = write_csv(tmp_path / "d.csv", ["id", "input", "output"], [["a", "q", cell]])
    assert load_dataset(path).cases[0].output == cell


def test_columns_mapping_can_target_a_json_output(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["id", "input", "logged"],
                     [["a", "q", json.dumps(STRUCTURED)]])
    [case] = load_dataset(path, columns={"logged": "output:json"}).cases
    assert case.output == EXPECTED


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"text": "x", "context": [{"id": "d1"}]}, "field 'context.0.text': Field required"),
        ({"text": "x", "tools": []}, "field 'tools': unknown field"),
        ({"text": "x", "tool_calls": [{"name": "f", "arguments": "{}"}]},
         "field 'tool_calls.0.arguments'"),
        (["a", "list"], "should be a string or an object of Output fields"),
    ],
)
def test_a_malformed_jsonl_output_names_file_line_and_field(
    tmp_path: Path, output: object, message: str
) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "a", "input": "q", "output": "fine"},
        {"id": "b", "input": "q", "output": output},
    ])
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.line == 2 and info.value.field == "output"
    assert message in str(info.value) and "d.jsonl:2" in str(info.value)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("{not json", "should hold a JSON object (a structured output)"),
        ('["a"]', "should hold a JSON object, got list"),
        ('{"text": 3}', "field 'text'"),
    ],
)
def test_a_malformed_csv_json_cell_names_file_line_and_column(
    tmp_path: Path, cell: str, message: str
) -> None:
    path = write_csv(tmp_path / "d.csv", ["id", "input", "output:json"],
                     [["a", "q", json.dumps(STRUCTURED)], ["b", "q", cell]])
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.line == 3 and info.value.field == "output:json"
    assert message in str(info.value)


def test_a_json_suffix_on_a_column_that_is_no_output_is_metadata(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["id", "input", "extra:json"], [["a", "q", "{}"]])
    assert load_dataset(path).cases[0].metadata == {"extra:json": "{}"}
