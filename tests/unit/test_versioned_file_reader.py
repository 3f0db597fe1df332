"""The versioned-file reader itself, on a format made up for the tests."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from pytest_llmfunnel.store.versioned_file import (
    FileFormat,
    VersionedFileError,
    read_versioned,
)


class ToyError(VersionedFileError):
    """The made-up format's error."""


TOY = FileFormat(
    noun="toy file", short="toy", marker_key="toy", marker="pytest-llmfunnel toy",
    version_key="version", version=3, error=ToyError,
    create="make one with `toy new {path}`", fix="rebuild it", upgrade="convert it",
    old_versions={2: "toy version 2 kept no names; convert it with `toy upgrade`"},
)
TOY_DOCUMENT = FileFormat(
    noun="toy document", short="toy", marker_key="toy", marker="pytest-llmfunnel toy",
    version_key="version", version=3, error=ToyError,
    create="make one", fix="rebuild it", upgrade="convert it", lines=False,
)
HEADER = {"toy": "pytest-llmfunnel toy", "version": 3}


def write(path: Path, *lines: object) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def error_of(path: Path, fmt: FileFormat = TOY) -> ToyError:
    with pytest.raises(ToyError) as info:
        read_versioned(path, fmt)
    return info.value


def test_header_and_rows_come_back_with_their_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", "", HEADER, {"a": 1}, "   ", [2, "b"])
    read = read_versioned(path, TOY)
    assert read.header == HEADER and read.header_line == 2
    assert read.rows == ((3, {"a": 1}), (5, [2, "b"]))
    assert read.path == path and read.format is TOY


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(HEADER).encode() + b"\n")
    assert read_versioned(path, TOY).header == HEADER


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    error = error_of(path)
    assert str(error) == f"no toy file at {path}; make one with `toy new {path}`"
    assert error.path == path and error.line is None


@pytest.mark.parametrize(
    ("lines", "line", "says"),
    [
        ((), 1, 'empty toy file, expected its header {"toy": "pytest-llmfunnel toy", '
                '"version": 3}; rebuild it'),
        (('{"toy": ',), 1, "not valid JSON (Expecting value at column 9); rebuild it"),
        ((HEADER, '{"a": 1} x'), 2, "not valid JSON (Extra data at column 10); rebuild it"),
        (({"other": 1},), 1, 'not a pytest-llmfunnel toy file: the first line is not a header '
                             'with "toy": "pytest-llmfunnel toy"'),
        (({**HEADER, "version": 4},), 1, "toy version 4 is not supported (this version of "
                                        "pytest-llmfunnel reads version 3); convert it"),
        (({**HEADER, "version": True},), 1, "toy version True is not supported"),
        (({**HEADER, "version": [3]},), 1, "toy version [3] is not supported"),
        (({**HEADER, "version": 2},), 1, "toy version 2 kept no names; convert it with "
                                        "`toy upgrade`"),
        ((HEADER, '{"a": 1, "a": 2}'), 2, "duplicate key 'a' in one JSON object"),
        ((HEADER, '{"a": [1, {"b": -Infinity}]}'), 2, "a.1.b: -Infinity is not valid JSON; "
                                                     "rebuild it"),
        ((HEADER, '{"a": 1e999}'), 2, "too large for a float"),
    ],
)
def test_each_problem_names_file_line_and_what_to_do(
    tmp_path: Path, lines: tuple[object, ...], line: int, says: str
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("".join(
        (x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines
    ), encoding="utf-8")
    error = error_of(path)
    assert str(error).startswith(f"{path}:{line}: ")
    assert says in str(error)
    assert error.path == path and error.line == line


def test_an_old_version_message_replaces_the_generic_advice(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", {**HEADER, "version": 2})
    assert str(error_of(path)).endswith("convert it with `toy upgrade`")


def test_a_one_document_format_reports_the_line_inside_the_document(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{\n  "toy": "pytest-llmfunnel toy",\n  "version": 3,\n  oops\n}\n',
                    encoding="utf-8")
    error = error_of(path, TOY_DOCUMENT)
    assert str(error).startswith(f"{path}:4: not valid JSON (")
    path.write_text(json.dumps({**HEADER, "rows": [1, 2]}, indent=2), encoding="utf-8")
    read = read_versioned(path, TOY_DOCUMENT)
    assert read.header["rows"] == [1, 2] and read.rows == ()


def test_undecodable_bytes_are_named_by_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(json.dumps(HEADER).encode() + b'\n{"a": 1}\n{"b": "\xc3"}\n')
    error = error_of(path)
    assert str(error).startswith(f"{path}:3: not UTF-8 text (")
    offset = path.read_bytes().index(b"\xc3")
    assert f"at byte {offset} of the file" in str(error)


def test_an_unreadable_path_is_the_format_error_not_an_os_error(tmp_path: Path) -> None:
    error = error_of(tmp_path)
    assert str(error).startswith(f"{tmp_path}: cannot be read (") and error.line is None


def test_callers_raise_through_the_file_with_its_advice_or_their_own(tmp_path: Path) -> None:
    read = read_versioned(write(tmp_path / "t.jsonl", HEADER, {"a": 1}), TOY)
    assert str(read.error(2, "a is wrong")) == f"{tmp_path / 't.jsonl'}:2: a is wrong; rebuild it"
    assert str(read.error(2, "a is wrong", "delete it")).endswith("a is wrong; delete it")
    assert str(read.error(None, "all wrong", "")) == f"{tmp_path / 't.jsonl'}: all wrong"
    assert isinstance(read.error(2, "x"), ToyError)


def test_the_error_survives_pickling_with_its_place(tmp_path: Path) -> None:
    error = error_of(write(tmp_path / "t.jsonl", {"other": 1}))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ToyError and str(copy) == str(error)
    assert (copy.path, copy.line) == (error.path, error.line)
