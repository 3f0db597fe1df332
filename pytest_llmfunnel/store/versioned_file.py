"""Reading the package's versioned files: baseline files, verdict lockfiles, JSON results.

Each format names itself in its header (a marker key and value) and carries a
version. :func:`read_versioned` does what every one of them needs before its
own validation: it reads the file, decodes it, parses the JSON (one document,
or a header line then one value per line), and checks that the header is
ours and of a version this package reads. Anything wrong raises the format's
error, a :class:`VersionedFileError`, whose message names the file, the line
and what to do next; the caller validates the values it gets back and raises
through :meth:`VersionedFile.error` so its own messages read the same way.

The JSON is parsed as strictly as dataset rows are
(:func:`pytest_llmfunnel.dataset.json_rows.loads`): a key given twice in one
object, ``NaN`` and ``Infinity``, numbers out of range and very deep nesting
are refused. The package's writers never produce them, so each means a hand
edit, and a silently chosen value (the last of two keys, a NaN score) would
change what the gate decides.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmfunnel.dataset import json_rows as strict_json
from pytest_llmfunnel.jsontypes import JSONObject


class VersionedFileError(ValueError):
    """A versioned file that cannot be used; the message names file and line and the fix.

    ``path`` and ``line`` are set when the problem is in a file (``line`` None
    for the file as a whole).
    """

    def __init__(
        self, message: str, *, path: Path | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:  # keyword arguments survive pickling (xdist)
        return (_rebuild, (type(self), str(self), self.path, self.line))


def _rebuild(
    cls: type[VersionedFileError], message: str, path: Path | None, line: int | None
) -> VersionedFileError:
    return cls(message, path=path, line=line)


@dataclass(frozen=True)
class FileFormat:
    """What :func:`read_versioned` needs to know about one format.

    ``create`` is what to do when the file is missing, ``fix`` when it is
    damaged, ``upgrade`` when its version is not the one read here; ``{path}``
    in any of them is replaced by the file's path. ``old_versions`` gives a
    whole message (after ``path:line:``) for a version that needs more than
    ``upgrade`` says.
    """

    noun: str  # "baseline file": how messages name the file
    short: str  # "baseline": how messages name its version ("baseline version 2")
    marker_key: str
    marker: str
    version_key: str
    version: int
    error: type[VersionedFileError]
    create: str
    fix: str
    upgrade: str
    lines: bool = True  # a header line then one value per line; False: one document
    old_versions: Mapping[int, str] = field(default_factory=dict)

    def expected_header(self) -> str:
        return json.dumps({self.marker_key: self.marker, self.version_key: self.version})


@dataclass(frozen=True)
class VersionedFile:
    """A file read by :func:`read_versioned`: its header and its rows with their line numbers.

    For a one-document format the header is the whole document and there are no rows.
    """

    path: Path
    format: FileFormat
    header: JSONObject
    header_line: int
    rows: tuple[tuple[int, Any], ...]

    def error(self, line: int | None, problem: str, fix: str | None = None) -> VersionedFileError:
        """The format's error for ``problem`` at ``line``; ``fix`` replaces the format's advice."""
        return _error(self.format, self.path, line, problem, fix)


def _error(
    fmt: FileFormat, path: Path, line: int | None, problem: str, fix: str | None = None
) -> VersionedFileError:
    where = f"{path}:{line}" if line is not None else str(path)
    advice = (fmt.fix if fix is None else fix).format(path=path)
    text = f"{where}: {problem}" + (f"; {advice}" if advice else "")
    return fmt.error(text, path=path, line=line)


class _NotJSON(ValueError):
    def __init__(self, problem: str, line_offset: int = 0) -> None:
        super().__init__(problem)
        self.line_offset = line_offset


def _loads(text: str) -> Any:
    """One JSON value, strictly (see :mod:`pytest_llmfunnel.dataset.json_rows`)."""
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON ({exc.msg} at column {exc.colno})"
        raise _NotJSON(problem, exc.lineno - 1) from None
    except strict_json.JSONProblem as exc:
        where = _non_finite_at(text)
        raise _NotJSON(f"{where}: {exc.problem}" if where else exc.problem) from None


def _non_finite_at(text: str) -> str | None:
    """Where the first NaN or infinity sits in ``text``, read leniently; None if none does.

    Only called once strict parsing has failed, to name the field in the message.
    """
    try:
        stack: list[tuple[str, Any]] = [("", json.loads(text))]
    except (ValueError, RecursionError):
        return None
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where or "(top level)"
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        children = [(f"{where}.{key}" if where else str(key), item) for key, item in items]
        stack.extend(reversed(children))
    return None


def read_versioned(path: str | Path, fmt: FileFormat) -> VersionedFile:
    """Read ``path`` as a file of format ``fmt``; raise ``fmt.error`` naming file, line and fix."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        message = f"no {fmt.noun} at {path}; {fmt.create.format(path=path)}"
        raise fmt.error(message, path=path) from None
    except OSError as exc:
        raise _error(fmt, path, None, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a BOM some editors add
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start} of the file)"
        raise _error(fmt, path, line, problem) from None
    rows = _parse(fmt, path, text)
    if not rows:
        problem = f"empty {fmt.noun}, expected its header {fmt.expected_header()}"
        raise _error(fmt, path, 1, problem)
    header_line, header = rows[0]
    _check_header(fmt, path, header_line, header)
    return VersionedFile(path, fmt, header, header_line, tuple(rows[1:]))


def _parse(fmt: FileFormat, path: Path, text: str) -> list[tuple[int, Any]]:
    if not fmt.lines:
        if not text.strip():
            return []
        try:
            return [(1, _loads(text))]
        except _NotJSON as exc:
            raise _error(fmt, path, 1 + exc.line_offset, str(exc)) from None
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, _loads(line)))
        except _NotJSON as exc:
            raise _error(fmt, path, number, str(exc)) from None
    return rows


def _check_header(fmt: FileFormat, path: Path, line: int, header: Any) -> None:
    if not isinstance(header, dict) or header.get(fmt.marker_key) != fmt.marker:
        first = "the first line is not" if fmt.lines else "the document is not"
        problem = (
            f"not a pytest-llmfunnel {fmt.noun}: {first} a header with "
            f"{json.dumps(fmt.marker_key)}: {json.dumps(fmt.marker)} "
            f"(expected {fmt.expected_header()})"
        )
        raise _error(fmt, path, line, problem)
    found = header.get(fmt.version_key)
    if isinstance(found, int) and found in fmt.old_versions:
        raise _error(fmt, path, line, fmt.old_versions[found], "")
    if found != fmt.version or isinstance(found, bool):
        problem = (
            f"{fmt.short} {fmt.version_key} {found!r} is not supported (this version of "
            f"pytest-llmfunnel reads {fmt.version_key} {fmt.version})"
        )
        raise _error(fmt, path, line, problem, fmt.upgrade)
