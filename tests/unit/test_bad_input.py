"""Every way a dataset can be wrong, and the message that says where and what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_llmfunnel.dataset.load import DatasetError, load_dataset


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(
    path: Path, line: int | None, field: str | None = None, **kwargs: object
) -> DatasetError:
    """Load ``path``, expect a DatasetError located at ``line``/``field``, return it."""
    with pytest.raises(DatasetError) as info:
        load_dataset(path, **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert (error.path, error.line, error.field) == (path, line, field)
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(error).startswith(where), str(error)
    if field is not None:
        assert f"field {field!r}: " in str(error)
    return error


# --- JSONL ---


def test_truncated_json_line(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"input": "a"}\n\n{"input": "b", "expected": "B\n')
    error = load_error(path, 3)
    assert "not valid JSON" in str(error) and "truncated" in str(error)


def test_malformed_json_in_the_middle_of_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", '{"input": "a" "expected": "b"}\n')
    error = load_error(path, 1)
    assert "Expecting ',' delimiter at column 15" in str(error)


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "l.jsonl", '{"input": "a"}\n["input", "b"]\n')
    assert "each line must be a JSON object, got list" in str(load_error(path, 2))


def test_missing_input_lists_what_the_row_has(tmp_path: Path) -> None:
    path = write(tmp_path, "s.jsonl", '{"input": "ok"}\n{"id": "x", "prompt": "hi"}\n')
    error = load_error(path, 2, "input")
    assert "required field is missing; this row has: id, prompt" in str(error)


def test_missing_input_names_the_mapped_column(tmp_path: Path) -> None:
    path = write(tmp_path, "s.jsonl", '{"question": "ok"}\n{"answer": "hi"}\n')
    error = load_error(path, 2, "input", columns={"question": "input"})
    assert "read from column 'question'" in str(error)


@pytest.mark.parametrize(
    ("row", "field", "expected"),
    [
        ('{"input": 42}', "input", "should be a string or a non-empty list of chat messages"),
        ('{"input": "  "}', "input", "is empty"),
        ('{"input": []}', "input", "got list []"),
        ('{"input": [{"role": "bot", "content": "x"}]}', "input", "message [0]: role: should be"),
        ('{"input": [{"role": "user"}]}', "input", "message [0]: content: Field required"),
        ('{"input": "a", "expected": 4}', "expected", "should be a valid string, got int 4"),
        ('{"input": "a", "context": ["x", 1]}', "context", "context list should hold only strings"),
        ('{"input": "a", "tags": 3}', "tags", "should be a list of strings"),
        ('{"input": "a", "tags": ["a", 1]}', "tags", "should be a list of strings"),
        ('{"input": "a", "metadata": [1]}', "metadata", "should be a mapping, got list"),
        ('{"input": "a", "output": 1}', "output", "should be a string or an object of Outp"),
        ('{"input": "a", "id": ["x"]}', "id", "should be a string, got list"),
        ('{"input": "a", "output_": "x"}', "output_", "is not a usable variant name"),
        ('{"input": "a", "output": "x", "output_default": "y"}', "output_default", "already"),
    ],
)
def test_wrong_types_name_line_and_field(
    tmp_path: Path, row: str, field: str, expected: str
) -> None:
    path = write(tmp_path, "w.jsonl", '{"input": "fine"}\n' + row + "\n")
    assert expected in str(load_error(path, 2, field))


def test_mapped_column_is_named_in_type_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "w.jsonl", '{"q": "a", "answer": 1}\n')
    error = load_error(path, 1, "answer", columns={"q": "input", "answer": "expected"})
    assert "should be a valid string" in str(error)


def test_mapped_column_clashing_with_a_real_one(tmp_path: Path) -> None:
    path = write(tmp_path, "w.jsonl", '{"q": "a", "input": "b"}\n')
    error = load_error(path, 1, "input", columns={"q": "input"})
    assert "column 'q' already gives 'input'" in str(error)


def test_metadata_key_clashing_with_an_extra_column(tmp_path: Path) -> None:
    path = write(tmp_path, "w.jsonl", '{"input": "a", "lang": "en", "metadata": {"lang": "fr"}}\n')
    assert "'lang'" in str(load_error(path, 1, "metadata"))


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.jsonl",
        '{"id": "a", "input": "1"}\n{"id": "b", "input": "2"}\n\n{"id": "a", "input": "3"}\n',
    )
    error = load_error(path, 4, "id")
    assert "duplicate id 'a', already used on line 1" in str(error)


def test_identical_inputs_without_ids_ask_for_explicit_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", '{"input": "same"}\n{"input": "other"}\n{"input": "same"}\n')
    error = load_error(path, 3, "id")
    assert "same input as line 1" in str(error)
    assert "give each of these rows an explicit, unique 'id'" in str(error)


@pytest.mark.parametrize(
    ("case_id", "problem"),
    [
        ("", "id is empty"),
        (" padded", "whitespace at the start or end"),
        ("two words", "contains a space at position 3"),
        ("bell\u0007", "contains U+0007 at position 4"),
        ("param[1]", "contains '['"),
        ("mod::case", "contains ':'"),
        ("dir/case", "contains '/'"),
        ("-flag", "starts with '-'"),
        ("not", "keyword of pytest's -k"),
        ("x" * 201, "201 characters long"),
    ],
)
def test_invalid_ids_are_explained(tmp_path: Path, case_id: str, problem: str) -> None:
    import json

    path = write(tmp_path, "ids.jsonl", json.dumps({"id": case_id, "input": "q"}) + "\n")
    message = str(load_error(path, 1, "id"))
    assert problem in message
    assert "so that every case keeps a usable pytest node id and can be selected with -k" in message


def test_invalid_utf8_names_line_and_byte_offset(tmp_path: Path) -> None:
    path = write(tmp_path, "e.jsonl", b'{"input": "a"}\n{"input": "caf\xe9"}\n')
    assert "not valid UTF-8 (byte offset 29 in the file)" in str(load_error(path, 2))
    csv_path = write(tmp_path, "e.csv", b"\xef\xbb\xbfinput\nok\n\nna\xefve\n")
    assert "byte offset 15 in the file" in str(load_error(csv_path, 4))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty.jsonl", ""),
        ("blank.jsonl", "\n  \n\n"),
        ("header.csv", "id,input\n"),
        ("nothing.csv", ""),
        ("empty.yaml", ""),
        ("list.yaml", "[]\n"),
        ("cases.yaml", "cases: []\n"),
    ],
)
def test_empty_dataset(tmp_path: Path, name: str, text: str) -> None:
    assert "the dataset is empty" in str(load_error(write(tmp_path, name, text), None))


def test_variants_must_be_consistent(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "v.jsonl",
        '{"input": "a", "output_control": "x", "output_treatment": "y"}\n'
        '{"input": "b", "output_control": "x"}\n',
    )
    error = load_error(path, 2, "output")
    assert "outputs for 'control' but line 1 has outputs for 'control', 'treatment'" in str(error)
    missing = write(tmp_path, "m.jsonl", '{"input": "a", "output": "x"}\n{"input": "b"}\n')
    assert "outputs for no variant but line 1 has outputs for 'default'" in str(
        load_error(missing, 2, "output")
    )


# --- CSV ---


def test_ragged_csv_rows_name_the_line_where_the_row_starts(tmp_path: Path) -> None:
    text = 'id,input,expected\na,"two\nlines",x\nb,too,many,fields\n'
    error = load_error(write(tmp_path, "r.csv", text), 4)
    assert "row has 4 fields but the header has 3" in str(error)
    short = load_error(write(tmp_path, "s.csv", "id,input,expected\n\nc,few\n"), 3)
    assert "row has 2 fields but the header has 3" in str(short)


def test_csv_header_problems(tmp_path: Path) -> None:
    assert "header column 2 ('input') repeats an earlier name" in str(
        load_error(write(tmp_path, "d.csv", "input,input\na,b\n"), 1)
    )
    assert "header column 2 ('') has no name" in str(
        load_error(write(tmp_path, "n.csv", "input,,x\na,b,c\n"), 1)
    )


def test_csv_metadata_must_be_a_json_object(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "input,metadata\na,plain words\n")
    assert "JSON object" in str(load_error(path, 2, "metadata"))


def test_csv_empty_input_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "id,input\na,hello\nb,\n")
    assert "required field is empty" in str(load_error(path, 3, "input"))


def test_null_input(tmp_path: Path) -> None:
    path = write(tmp_path, "n.yaml", "- input: fine\n- input: null\n")
    assert "required field is empty" in str(load_error(path, 2, "input"))


# --- YAML ---


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("just a string\n", "found str 'just a string'"),
        ("name: x\nitems: []\n", "found a mapping with keys name, items"),
    ],
)
def test_yaml_top_level_must_be_a_list(tmp_path: Path, text: str, found: str) -> None:
    message = str(load_error(write(tmp_path, "top.yaml", text), 1))
    assert "the top level must be a list of cases or a mapping with a 'cases:' list" in message
    assert found in message


def test_yaml_item_errors_name_index_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "i.yaml", "cases:\n  - input: fine\n  - expected: no input\n")
    error = load_error(path, 3, "input")
    assert error.item == 1 and f"{path}:3: item [1]: field 'input'" in str(error)
    scalar = write(tmp_path, "s.yaml", "- input: fine\n- just text\n")
    assert "each case must be a mapping, got str" in str(load_error(scalar, 2))


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "- input: a\n- input: [unclosed\n- input: c\n")
    assert "not valid YAML" in str(load_error(path, 3))


def test_missing_pyyaml_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    path = write(tmp_path, "cases.yml", "- input: a\n")
    assert 'pip install "pytest-llmfunnel[yaml]"' in str(load_error(path, None))


# --- the file and the call ---


def test_unsupported_extension(tmp_path: Path) -> None:
    message = str(load_error(write(tmp_path, "cases.txt", "input\n"), None))
    assert "unsupported dataset format '.txt'" in message and ".jsonl" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "dataset file not found" in str(load_error(tmp_path / "nope.jsonl", None))


def test_mapping_onto_an_unknown_field(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"q": "a"}\n')
    error = load_error(path, None, columns={"q": "inptu"})
    assert "columns maps 'q' to 'inptu', which is not a case field" in str(error)


# --- input that was silently lost, crashed, or burned CPU ---


def test_csv_stray_quote_opening_the_last_cell_is_not_silently_swallowing_rows(
    tmp_path: Path,
) -> None:
    rows = "".join(f"r{i},question {i},answer {i}\n" for i in range(3, 100))
    text = 'id,input,expected\nr1,q1,a1\nr2,q2,"a stray quote\n' + rows
    error = load_error(write(tmp_path, "stray.csv", text), 3, "expected")
    message = str(error)
    assert "opens a quoted cell that never closes" in message
    assert "lines 4-100" in message and "97 more rows" in message
    assert '""' in message  # says how to write a quote inside a cell


def test_csv_stray_quote_closed_by_a_later_stray_quote(tmp_path: Path) -> None:
    # The second stray quote ends the cell at a line end, so every row has 3
    # fields and the csv module sees one long cell: the rows in between are lost.
    rows = "".join(f"r{i},question {i},answer {i}\n" for i in range(3, 8))
    text = 'id,input,expected\nr1,q1,a1\nr2,q2,"stray\n' + rows + 'r8,q8,12"\nr9,q9,a9\n'
    message = str(load_error(write(tmp_path, "closed.csv", text), 3, "expected"))
    assert "lines 4-9 inside one cell" in message and "look like rows" in message


def test_csv_stray_quote_followed_by_a_quoted_cell(tmp_path: Path) -> None:
    text = 'id,input,expected\nr1,q1,"stray\nr2,"q, two",a2\nr3,q3,a3\n'
    message = str(load_error(write(tmp_path, "next.csv", text), 2, "expected"))
    assert "line 3" in message and '""' in message


def test_csv_real_multiline_cells_still_load(tmp_path: Path) -> None:
    text = (
        'id,input,expected\nr1,"Dear Bob,\nthanks, see you",x\n'
        'r2,"- apples, pears\n- milk, eggs",y\nr3,"a\nb,c,d",z\n'
    )
    dataset = load_dataset(write(tmp_path, "multi.csv", text))
    assert [c.id for c in dataset.cases] == ["r1", "r2", "r3"]
    assert dataset.cases[1].input == "- apples, pears\n- milk, eggs"


def yaml_bomb(levels: int, fanout: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]" for i in range(1, levels)]
    return "- input: q\n  metadata:\n" + "".join(f"    {line}\n" for line in lines)


@pytest.mark.parametrize("levels", [7, 10])
def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path, levels: int) -> None:
    path = write(tmp_path, "bomb.yaml", yaml_bomb(levels))
    assert len(path.read_bytes()) < 1100
    # Named: the line of the largest anchor that is repeated (l{levels - 2}).
    message = str(load_error(path, levels + 1))
    assert "aliases would expand this file to" in message and "use fewer aliases" in message


def test_yaml_aliases_that_share_a_block_still_load(tmp_path: Path) -> None:
    shared = "shared: &ctx [" + ", ".join(f"part {i}" for i in range(20)) + "]\n"
    cases = "".join(f"  - {{id: c{i}, input: q{i}, context: *ctx}}\n" for i in range(500))
    dataset = load_dataset(write(tmp_path, "shared.yaml", shared + "cases:\n" + cases))
    context = dataset.cases[499].context
    assert len(dataset) == 500 and context is not None and context.startswith("part 0\n\npart 1")


def test_yaml_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "loop.yaml", "- input: q\n  metadata: &m {self: *m}\n")
    assert "refers to itself" in str(load_error(path, 2))


def test_jsonl_duplicate_key_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.jsonl", '{"input": "a"}\n{"input": "b", "input": "c"}\n')
    assert "duplicate key 'input'" in str(load_error(path, 2))
    nested = write(tmp_path, "n.jsonl", '{"input": "a", "metadata": {"k": 1, "k": 2}}\n')
    assert "duplicate key 'k'" in str(load_error(nested, 1))


def test_yaml_duplicate_key_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.yaml", "- input: a\n- input: b\n  expected: x\n  input: c\n")
    assert "duplicate key 'input'" in str(load_error(path, 4))
    merged = "base: &b {expected: x}\ncases:\n  - <<: *b\n    input: q\n    expected: y\n"
    assert load_dataset(write(tmp_path, "merge.yaml", merged)).cases[0].expected == "y"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_a_clear_error(tmp_path: Path, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    row = '{"input": "b", "metadata": {"x": ' + nested + "}}\n"
    path = write(tmp_path, "deep.jsonl", '{"input": "a"}\n' + row)
    assert "nested more than 64 levels deep" in str(load_error(path, 2))
    csv_path = write(tmp_path, "deep.csv", f'input,metadata\nq,"{{""x"": {nested}}}"\n')
    assert "nested more than 64 levels deep" in str(load_error(csv_path, 2, "metadata"))


def test_deeply_nested_yaml_is_a_clear_error(tmp_path: Path) -> None:
    nested = "[" * 200 + "]" * 200
    path = write(tmp_path, "deep.yaml", "- input: a\n- input: b\n  metadata: {x: " + nested + "}\n")
    assert "nested more than 64 levels deep" in str(load_error(path, 2, "metadata"))


def test_huge_integers_are_a_clear_error(tmp_path: Path) -> None:
    digits = "7" * 5000
    path = write(tmp_path, "int.jsonl", '{"input": "a", "metadata": {"n": ' + digits + "}}\n")
    assert "integer with 5000 digits" in str(load_error(path, 1))
    yaml_path = write(tmp_path, "int.yaml", f"- input: a\n  metadata:\n    n: {digits}\n")
    assert "integer with 5000 digits" in str(load_error(yaml_path, 3))


def test_ids_that_differ_only_in_letter_case(tmp_path: Path) -> None:
    path = write(
        tmp_path, "case.jsonl", '{"id": "Refund", "input": "1"}\n{"id": "x", "input": "2"}\n'
        '{"id": "refund", "input": "3"}\n',
    )
    message = str(load_error(path, 3, "id"))
    assert "'refund'" in message and "'Refund' on line 1" in message and "-k" in message


def test_the_pure_python_yaml_loader_keeps_the_same_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)  # as without libyaml
    bomb = write(tmp_path, "bomb.yaml", yaml_bomb(10))
    assert "aliases would expand" in str(load_error(bomb, 11))
    dup = write(tmp_path, "dup.yaml", "- input: a\n  input: b\n")
    assert "duplicate key 'input'" in str(load_error(dup, 2))
    deep = write(tmp_path, "deep.yaml", "- input: a\n  metadata: " + "[" * 400 + "]" * 400 + "\n")
    with pytest.raises(DatasetError, match="nested more than 64 levels deep"):
        load_dataset(deep)  # the line, when the parser's own recursion allows finding it


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ('a,"x"y,z', "input"),
        ('a,q,"x" y', "expected"),
        ('"a"b,q,x', "id"),
        ('a,"x""y"z,w', "input"),
    ],
)
def test_text_after_a_closing_quote_names_its_cell(tmp_path: Path, row: str, field: str) -> None:
    path = write(tmp_path, "after.csv", f"id,input,expected\nok,q,x\n{row}\n")
    assert "expected after" in str(load_error(path, 3, field))
