"""The corpus of hostile and unlucky dataset files that tests/test_bad_input_corpus.py runs.

docs/reliability.md ("Bad input: the corpus") lists the kinds by name.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: a file, and either ``loads`` cases or an error at ``line``."""

    name: str
    file: str
    content: str | bytes
    line: int | None = None
    field: str | None = None
    says: str = ""
    loads: int = 0  # the number of cases a correct load gives (0: the file is refused)
    in_plugin: bool = True  # also run through pytest (not for the very large files)


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


OK = '{"id": "a", "input": "q1"}\n{"id": "b", "input": "q2"}\n'
STRAY = "".join(f"r{i},question {i},answer {i}\n" for i in range(3, 50))
BOMB = (
    "- input: q\n  metadata:\n    l0: &l0 ["
    + ", ".join(["lol"] * 9)
    + "]\n"
    + "".join(f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))
)

KINDS = [
    # encodings and bytes
    Kind("bom_jsonl", "bom.jsonl", codecs.BOM_UTF8 + OK.encode(), loads=2),
    Kind("bom_csv", "bom.csv", codecs.BOM_UTF8 + b"id,input\na,q1\nb,q2\n", loads=2),
    Kind("bom_yaml", "bom.yaml", codecs.BOM_UTF8 + b"- {id: a, input: q1}\n", loads=1),
    Kind(
        "bom_mid_jsonl",
        "bommid.jsonl",
        OK.encode() + codecs.BOM_UTF8 + b'{"input": "c"}\n',
        line=3,
        says="Unexpected UTF-8 BOM",
    ),
    Kind(
        "latin1",
        "latin1.jsonl",
        b'{"input": "a"}\n{"input": "caf\xe9"}\n',
        line=2,
        says="not valid UTF-8 (byte offset 29",
    ),
    Kind(
        "utf16_bom",
        "utf16.csv",
        "id,input\na,q\n".encode("utf-16"),
        line=1,
        says="the file is UTF-16",
    ),
    Kind("utf16_no_bom", "utf16.jsonl", OK.encode("utf-16-le"), line=1, says="NUL byte"),
    Kind("nul_csv", "nul.csv", b"id,input\na,q1\nb,q\x002\n", line=3, says="NUL byte"),
    Kind("nul_yaml", "nul.yaml", b"- input: a\n- input: b\x00\n", line=2, says="NUL byte"),
    Kind(
        "invalid_utf8_yaml",
        "bad.yaml",
        b"- input: a\n- input: \xff\n",
        line=2,
        says="not valid UTF-8",
    ),
    # line endings, empty files, headers
    Kind("crlf_jsonl", "crlf.jsonl", OK.replace("\n", "\r\n"), loads=2),
    Kind("crlf_csv", "crlf.csv", 'id,input\r\na,"two\r\nlines"\r\nb,q\r\n', loads=2),
    Kind("crlf_yaml", "crlf.yaml", "- input: a\r\n- input: b\r\n", loads=2),
    Kind("cr_only_csv", "cr.csv", "id,input\ra,q1\rb,q2\r", loads=2),
    Kind("empty_file", "empty.jsonl", "", says="the dataset is empty"),
    Kind("only_header", "header.csv", "id,input,expected\n", says="the dataset is empty"),
    Kind("only_blank_lines", "blank.jsonl", "\n \n\t\n", says="the dataset is empty"),
    Kind(
        "header_duplicate",
        "dup.csv",
        "id,input,input\na,b,c\n",
        line=1,
        says="header column 3 ('input') repeats an earlier name",
    ),
    Kind("header_blank", "blankcol.csv", "id,,input\na,b,c\n", line=1, says="has no name"),
    Kind(
        "csv_extra_column",
        "extra.csv",
        "id,input\na,q1\nb,q2,oops\n",
        line=3,
        says="row has 3 fields but the header has 2",
    ),
    Kind(
        "csv_missing_column",
        "missing.csv",
        "id,input,expected\na,q1,x\nb,q2\n",
        line=3,
        says="row has 2 fields but the header has 3",
    ),
    # stray quotes
    Kind(
        "csv_stray_quote_to_end",
        "stray.csv",
        'id,input,expected\nr1,q1,a1\nr2,q2,"a\n' + STRAY,
        line=3,
        field="expected",
        says="(47 more rows) would be read into this one cell",
    ),
    Kind(
        "csv_stray_quote_closed",
        "closed.csv",
        'id,input,expected\nr1,q1,"a\nr2,q2,a2\nr3,q3,a3\nr4,q4,12"\nr5,q5,a5\n',
        line=2,
        field="expected",
        says="look like rows that a stray quote swallowed",
    ),
    Kind(
        "csv_text_after_quote",
        "after.csv",
        'id,input\na,"quoted" then text\n',
        line=2,
        field="input",
        says="not valid CSV",
    ),
    Kind(
        "csv_quote_in_middle",
        "mid.csv",
        'id,input\na,"x\nb,"y, z"\nc,q\n',
        line=2,
        field="input",
        says="ends at a quote on line 3",
    ),
    # JSON lines that are not one object
    Kind("jsonl_array", "array.jsonl", '["input", "a"]\n', line=1, says="got list"),
    Kind("jsonl_scalar", "scalar.jsonl", OK + '"just text"\n', line=3, says="got str"),
    Kind("jsonl_null_line", "null.jsonl", "null\n", line=1, says="got NoneType"),
    Kind(
        "jsonl_trailing_garbage",
        "garbage.jsonl",
        '{"input": "a"} xyz\n',
        line=1,
        says="Extra data at column 16",
    ),
    Kind(
        "jsonl_two_objects",
        "two.jsonl",
        '{"input": "a"}{"input": "b"}\n',
        line=1,
        says="Extra data",
    ),
    Kind("jsonl_truncated", "cut.jsonl", OK + '{"input": "c", "expe', line=3, says="truncated"),
    Kind(
        "jsonl_duplicate_key",
        "dupkey.jsonl",
        '{"input": "a", "input": "b"}\n',
        line=1,
        says="duplicate key 'input'",
    ),
    Kind(
        "jsonl_nan",
        "nan.jsonl",
        '{"input": "a", "metadata": {"x": NaN}}\n',
        line=1,
        says="NaN is not valid JSON",
    ),
    Kind(
        "jsonl_infinity",
        "inf.jsonl",
        '{"input": "a", "metadata": {"x": -Infinity}}\n',
        line=1,
        says="-Infinity is not valid JSON",
    ),
    Kind(
        "jsonl_float_overflow",
        "big.jsonl",
        '{"input": "a", "metadata": {"x": 1e999}}\n',
        line=1,
        says="too large for a float",
    ),
    Kind(
        "jsonl_huge_int",
        "int.jsonl",
        '{"input": "a", "metadata": {"x": ' + "9" * 5000 + "}}\n",
        line=1,
        says="integer with 5000 digits",
    ),
    Kind(
        "jsonl_deep",
        "deep.jsonl",
        '{"input": "a", "metadata": ' + "[" * 50_000 + "]" * 50_000 + "}\n",
        line=1,
        says="nested more than 64 levels deep",
    ),
    Kind(
        "jsonl_lone_surrogate",
        "sur.jsonl",
        '{"input": "a\\ud800"}\n',
        line=1,
        field="input",
        says="lone surrogate",
    ),
    Kind(
        "csv_cell_duplicate_key",
        "cellkey.csv",
        'input,metadata\nq,"{""k"": 1, ""k"": 2}"\n',
        line=2,
        field="metadata",
        says="duplicate key 'k'",
    ),
    # types and ids
    Kind(
        "wrong_type_input",
        "type.jsonl",
        OK + '{"id": "c", "input": {"text": "q"}}\n',
        line=3,
        field="input",
        says="should be a string or a non-empty list of chat messages",
    ),
    Kind(
        "bool_id",
        "boolid.jsonl",
        '{"id": true, "input": "q"}\n',
        line=1,
        field="id",
        says="should be a string, got bool",
    ),
    Kind(
        "null_id",
        "nullid.jsonl",
        '{"id": null, "input": "q"}\n{"id": "b", "input": "r"}\n',
        loads=2,
    ),
    Kind(
        "id_with_colons",
        "colon.jsonl",
        jsonl({"id": "a::b", "input": "q"}),
        line=1,
        field="id",
        says="contains ':'",
    ),
    Kind(
        "id_with_brackets",
        "bracket.jsonl",
        jsonl({"id": "a[1]", "input": "q"}),
        line=1,
        field="id",
        says="contains '['",
    ),
    Kind(
        "id_with_newline",
        "newline.jsonl",
        jsonl({"id": "a\nb", "input": "q"}),
        line=1,
        field="id",
        says="contains U+000A",
    ),
    Kind(
        "id_with_control",
        "control.jsonl",
        jsonl({"id": "a\x1bb", "input": "q"}),
        line=1,
        field="id",
        says="contains U+001B",
    ),
    Kind(
        "id_blank",
        "blankid.csv",
        "id,input\n  ,q\n",
        line=2,
        field="id",
        says="whitespace at the start or end",
    ),
    Kind(
        "ids_differ_in_case",
        "case.csv",
        "id,input\nAbc,q1\nx,q2\nabc,q3\n",
        line=4,
        field="id",
        says="differs from 'Abc' on line 2 only in letter case",
    ),
    Kind(
        "duplicate_ids",
        "dupid.csv",
        "id,input\na,q1\na,q2\n",
        line=3,
        field="id",
        says="duplicate id 'a', already used on line 2",
    ),
    # YAML
    Kind(
        "yaml_multi_document",
        "multi.yaml",
        "- input: a\n---\n- input: b\n",
        line=2,
        says="expected a single document",
    ),
    Kind(
        "yaml_python_tag",
        "tag.yaml",
        "- input: !!python/object/apply:os.system [echo hi]\n",
        line=1,
        says="could not determine a constructor",
    ),
    Kind(
        "yaml_binary_tag",
        "binary.yaml",
        "- input: !!binary aGk=\n",
        line=1,
        field="input",
        says="got bytes",
    ),
    Kind(
        "yaml_tabs",
        "tabs.yaml",
        "- input: a\n\t expected: b\n",
        line=2,
        says="found a tab character",
    ),
    Kind("yaml_alias_bomb", "bomb.yaml", BOMB, line=11, says="aliases would expand"),
    Kind(
        "yaml_recursive_alias",
        "loop.yaml",
        "- &a {input: q, metadata: {me: *a}}\n",
        line=1,
        says="an alias refers to itself",
    ),
    Kind(
        "yaml_duplicate_key",
        "dupkey.yaml",
        "- input: a\n  input: b\n",
        line=2,
        says="duplicate key 'input'",
    ),
    Kind(
        "yaml_huge_int",
        "int.yaml",
        "- input: a\n  metadata: {n: " + "1" * 5000 + "}\n",
        line=2,
        says="integer with 5000 digits",
    ),
    Kind("yaml_nan_metadata", "nan.yaml", "- input: a\n  metadata: {score: .nan}\n", loads=1),
    Kind(
        "yaml_nan_expected",
        "nanexp.yaml",
        "- input: a\n  expected: .nan\n",
        line=1,
        field="expected",
        says="should be a valid string, got float nan",
    ),
    Kind("yaml_scalar_top", "scalar.yaml", "hello\n", line=1, says="the top level must be a list"),
    # size
    Kind(
        "very_long_line",
        "long.jsonl",
        jsonl({"id": "a", "input": "x" * 5_000_000}),
        loads=1,
        in_plugin=False,
    ),
    Kind(
        "huge_file",
        "huge.jsonl",
        jsonl(*({"id": f"c{i}", "input": f"q{i}"} for i in range(50_000))),
        loads=50_000,
        in_plugin=False,
    ),
    Kind(
        "huge_csv",
        "huge.csv",
        "id,input\n" + "".join(f"c{i},q{i}\n" for i in range(50_000)),
        loads=50_000,
        in_plugin=False,
    ),
]


# The kinds a loader must refuse and those it must load, and one kind's file.
REFUSED = [k for k in KINDS if not k.loads]
LOADED = [k for k in KINDS if k.loads]


def write(folder: Path, kind: Kind) -> Path:
    """Write ``kind``'s file into ``folder`` byte for byte; return its path."""
    path = folder / kind.file
    if isinstance(kind.content, bytes):
        path.write_bytes(kind.content)
    else:
        path.write_bytes(kind.content.encode("utf-8"))  # no newline translation
    return path
