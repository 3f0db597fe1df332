"""Baseline files, lockfiles and results files fail to read the same way, naming file and line.

The three formats share one reader (:mod:`pytest_llmfunnel.store.versioned_file`);
these tests hold each format to what the reader promises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_file import BaselineError, load_baseline
from pytest_llmfunnel.report.results_json import ResultsError, load_results
from pytest_llmfunnel.store.lockfile import LockfileError, read_lockfile


@dataclass(frozen=True)
class Format:
    name: str
    load: Callable[[Path], Any]
    error: type[Exception]
    header: dict[str, Any]
    lines: bool  # header line then rows (JSONL), or one JSON document

    def text(self, header: dict[str, Any] | str) -> str:
        line = header if isinstance(header, str) else json.dumps(header)
        return line + "\n"


BASELINE = Format(
    "baseline", load_baseline, BaselineError,
    {"format": "pytest-llmfunnel baseline", "version": 1, "dataset": "t.py::test_x"}, True,
)
LOCKFILE = Format(
    "lockfile", read_lockfile, LockfileError,
    {"lockfile": "pytest-llmfunnel verdicts", "version": 2}, True,
)
RESULTS = Format(
    "results", load_results, ResultsError,
    {"tool": "pytest-llmfunnel", "schema_version": 1}, False,
)
ALL = [pytest.param(f, id=f.name) for f in (BASELINE, LOCKFILE, RESULTS)]
JSONL = [pytest.param(f, id=f.name) for f in (BASELINE, LOCKFILE)]


def _message(fmt: Format, path: Path) -> str:
    with pytest.raises(fmt.error) as info:
        fmt.load(path)
    return str(info.value)


@pytest.mark.parametrize("fmt", ALL)
def test_a_folder_where_the_file_should_be_is_a_clear_error(fmt: Format, tmp_path: Path) -> None:
    path = tmp_path / "file.jsonl"
    path.mkdir()
    message = _message(fmt, path)
    assert message.startswith(f"{path}: cannot be read (")


@pytest.mark.parametrize("fmt", ALL)
def test_a_foreign_file_is_refused_at_its_first_line(fmt: Format, tmp_path: Path) -> None:
    path = tmp_path / "file.jsonl"
    path.write_text(fmt.text({"something": "else"}), encoding="utf-8")
    message = _message(fmt, path)
    assert message.startswith(f"{path}:1: not a pytest-llmfunnel ")


@pytest.mark.parametrize("fmt", ALL)
def test_an_unsupported_version_is_refused_at_its_first_line(fmt: Format, tmp_path: Path) -> None:
    path = tmp_path / "file.jsonl"
    key = "schema_version" if fmt is RESULTS else "version"
    path.write_text(fmt.text({**fmt.header, key: 99}), encoding="utf-8")
    message = _message(fmt, path)
    assert message.startswith(f"{path}:1: ") and f"{key} 99 is not supported" in message


@pytest.mark.parametrize("fmt", ALL)
def test_a_key_given_twice_is_refused_not_silently_resolved(fmt: Format, tmp_path: Path) -> None:
    path = tmp_path / "file.jsonl"
    header = json.dumps(fmt.header)
    key = next(iter(fmt.header))
    twice = header[:-1] + f", {json.dumps(key)}: {json.dumps(fmt.header[key])}}}"
    path.write_text(fmt.text(twice), encoding="utf-8")
    message = _message(fmt, path)
    assert message.startswith(f"{path}:1: ") and f"duplicate key {key!r}" in message


@pytest.mark.parametrize(
    ("fmt", "extra", "says"),
    [
        pytest.param(BASELINE, {"metrics": {"rate": "NaN"}}, "metrics.rate: NaN", id="baseline"),
        pytest.param(RESULTS, {"warnings": ["Infinity"]}, "warnings.0: Infinity", id="results"),
    ],
)
def test_a_number_json_does_not_have_is_refused_naming_where(
    fmt: Format, extra: dict[str, Any], says: str, tmp_path: Path
) -> None:
    # NaN and Infinity are not JSON; the writers never write them, so one was typed in.
    path = tmp_path / "file.jsonl"
    text = json.dumps({**fmt.header, **extra}).replace('"NaN"', "NaN")
    path.write_text(fmt.text(text.replace('"Infinity"', "Infinity")), encoding="utf-8")
    message = _message(fmt, path)
    assert message.startswith(f"{path}:1: {says} is not valid JSON; ")


@pytest.mark.parametrize("fmt", ALL)
def test_bytes_that_are_not_utf8_are_named_by_line(fmt: Format, tmp_path: Path) -> None:
    path = tmp_path / "file.jsonl"
    body = json.dumps(fmt.header, indent=1 if not fmt.lines else None).encode()
    if fmt.lines:
        body += b'\n{"case": "caf\xe9"}\n'
        line = 2
    else:
        body = body.replace(b'"tool"', b'"to\xffol"')
        line = 2
    path.write_bytes(body)
    message = _message(fmt, path)
    assert message.startswith(f"{path}:{line}: not UTF-8 text")


@pytest.mark.parametrize("fmt", JSONL)
def test_blank_lines_before_the_header_are_skipped(fmt: Format, tmp_path: Path) -> None:
    path = tmp_path / "file.jsonl"
    path.write_text("\n" + fmt.text(fmt.header), encoding="utf-8")
    loaded = fmt.load(path)
    assert len(loaded.cases if fmt is BASELINE else loaded) == 0
