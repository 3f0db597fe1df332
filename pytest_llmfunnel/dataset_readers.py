"""Reading dataset files (JSONL, CSV, YAML) into raw rows, and the error every problem raises.

Each reader is a generator over one file that yields one raw row at a time
(see ``RawRow``), so no row outlives the ``Case`` that
:mod:`pytest_llmfunnel.dataset` builds from it. The readers check only the
file itself: its encoding, its JSON, CSV or YAML syntax, and that each row is
a mapping. What a row's fields mean, and whether they are valid, is decided
when the case is built.

``DatasetError`` lives here because the readers raise it; it is public as
``pytest_llmfunnel.dataset.DatasetError``. PyYAML is imported only when a YAML
file is read, so it stays an optional extra.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import reprlib
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

from pytest_llmfunnel.wording import plural

__all__ = ["READERS", "DatasetError", "RawRow", "kind"]

_YAML_HINT = 'reading YAML datasets needs PyYAML: pip install "pytest-llmfunnel[yaml]"'


class DatasetError(Exception):
    """A dataset that cannot be loaded, located as precisely as possible.

    ``path`` is the dataset file, ``line`` the 1-based source line (``None``
    when the problem is the whole file), ``field`` the column at fault and
    ``item`` the 0-based index of a YAML list entry.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        line: int | None = None,
        field: str | None = None,
        item: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.detail = message
        self.line, self.field, self.item = line, field, item
        parts = [_display(self.path) + (f":{line}" if line is not None else "")]
        parts += [f"item [{item}]"] if item is not None else []
        parts += [f"field {field!r}"] if field is not None else []
        super().__init__(": ".join([*parts, message]))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.detail, self.line, self.field, self.item))


def _display(path: Path) -> str:
    """The path relative to the working directory when inside it, so editors can jump to it."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(path)


def kind(value: Any) -> str:
    """A value's type and a short repr, for messages: ``list [1, 2]``."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


# A raw row: (line, YAML item index, the row's mapping, whether values are CSV text).
RawRow = tuple[int | None, int | None, Mapping[Any, Any], bool]


def _read_jsonl(path: Path) -> Generator[RawRow, None, None]:
    with path.open("rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _encoding_error(path, number, start + exc.start) from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                # json's messages may end in "at" ("Unterminated string starting at").
                why = f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
                if exc.pos >= len(text.rstrip()):
                    why = f"the line ends at column {exc.colno} mid-value (truncated?)"
                message = f"not valid JSON: {why}; each line must hold one complete JSON object"
                raise DatasetError(path, message, line=number) from None
            if not isinstance(data, dict):
                raise DatasetError(
                    path, f"each line must be a JSON object, got {kind(data)}", line=number
                )
            yield number, None, data, False


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # utf-8-sig counts offsets after the BOM
        offset = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        raise _encoding_error(path, data.count(b"\n", 0, offset) + 1, offset) from None


def _encoding_error(path: Path, line: int, offset: int) -> DatasetError:
    message = f"not valid UTF-8 (byte offset {offset} in the file); save the file as UTF-8"
    return DatasetError(path, message, line=line)


def _read_csv(path: Path) -> Generator[RawRow, None, None]:
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    # Lift the 128 KiB field limit (process-wide) while reading: long fields are fine.
    previous_limit = csv.field_size_limit(2**31 - 1)
    try:
        header = [name.strip() for name in next((r for r in reader if any(r)), [])]
        for position, name in enumerate(header, start=1):
            if not name or name in header[: position - 1]:
                problem = "has no name" if not name else "repeats an earlier name"
                message = f"header column {position} ({name!r}) {problem}"
                raise DatasetError(path, message, line=reader.line_num)
        previous = reader.line_num
        for row in reader:
            start, previous = previous + 1, reader.line_num  # a row may span lines
            if not any(row):
                continue  # a blank line, or a spreadsheet's row of empty cells
            if len(row) != len(header):
                raise DatasetError(
                    path,
                    f"row has {plural(len(row), 'field')} but the header has {len(header)}; "
                    "quote fields that contain commas, quotes or newlines",
                    line=start,
                )
            yield start, None, dict(zip(header, row, strict=True)), True
    except csv.Error as exc:
        raise DatasetError(path, f"not valid CSV: {exc}", line=reader.line_num) from None
    finally:
        csv.field_size_limit(previous_limit)


def _read_yaml(path: Path) -> Generator[RawRow, None, None]:
    try:
        import yaml
    except ImportError:
        raise DatasetError(path, _YAML_HINT) from None
    # Composing the node tree first gives every list item its source line for free.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(_read_text(path))
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            problem += f" ({context} on line {start.line + 1})"
        line = None if mark is None else mark.line + 1
        raise DatasetError(path, f"not valid YAML: {problem}", line=line) from None
    finally:
        loader.dispose()
    if root is None:
        return
    nodes: list[Any] = root.value if isinstance(root, yaml.SequenceNode) else []
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        nodes = next(v.value for k, v in root.value if k.value == "cases")
        data = data["cases"]
    if not isinstance(data, list):
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else ""
        raise DatasetError(
            path,
            "the top level must be a list of cases or a mapping with a 'cases:' list; found "
            + (f"a mapping with keys {keys}" if keys else kind(data)),
            line=root.start_mark.line + 1,
        )
    for index, item in enumerate(data):
        line = nodes[index].start_mark.line + 1 if index < len(nodes) else None
        if not isinstance(item, dict):
            message = f"each case must be a mapping, got {kind(item)}"
            raise DatasetError(path, message, line=line, item=index)
        yield line, index, item, False


READERS = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".csv": _read_csv,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
}
