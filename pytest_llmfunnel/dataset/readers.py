"""Reading dataset files (JSONL, CSV, YAML) into raw rows, and the error every problem raises.

Each reader is a generator over one file that yields one raw row at a time
(see ``RawRow``), so no row outlives the ``Case`` that
:mod:`pytest_llmfunnel.dataset.load` builds from it. The readers check only the
file itself: its encoding, its JSON, CSV or YAML syntax, and that each row is
a mapping; what a parser would take silently (a duplicate key, a stray CSV
quote that swallows the rows after it, YAML aliases that expand without end)
or crash on (deep nesting, huge numbers) is an error too. What a row's fields
mean, and whether they are valid, is decided when the case is built.

``DatasetError`` lives here because the readers raise it; it is public as
``pytest_llmfunnel.dataset.load.DatasetError``. The CSV and YAML readers live in
:mod:`~pytest_llmfunnel.dataset.csv_rows` and :mod:`~pytest_llmfunnel.dataset.yaml_rows`.
"""

from __future__ import annotations

import codecs
import json
import reprlib
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any

from pytest_llmfunnel.dataset import json_rows as dataset_json
from pytest_llmfunnel.display import shown_path

__all__ = ["READERS", "DatasetError", "RawRow", "kind", "read_text"]


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
        parts = [shown_path(self.path) + (f":{line}" if line is not None else "")]
        parts += [f"item [{item}]"] if item is not None else []
        parts += [f"field {field!r}"] if field is not None else []
        super().__init__(": ".join([*parts, message]))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.detail, self.line, self.field, self.item))


def kind(value: Any) -> str:
    """A value's type and a short repr, for messages: ``list [1, 2]``."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


# A raw row: (line, YAML item index, the row's mapping, whether values are CSV text).
RawRow = tuple[int | None, int | None, Mapping[Any, Any], bool]


Reader = Callable[[Path], Generator[RawRow, None, None]]


def _read_jsonl(path: Path) -> Generator[RawRow, None, None]:
    with path.open("rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            text = _decode_line(path, raw, number, start)
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not text.strip():
                continue
            try:
                data = dataset_json.loads(text)
            except json.JSONDecodeError as exc:
                why = f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
                if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
                    why = f"the line ends at column {exc.colno} mid-value (truncated?)"
                message = f"not valid JSON: {why}; each line must hold one complete JSON object"
                raise DatasetError(path, message, line=number) from None
            except dataset_json.JSONProblem as exc:
                raise DatasetError(path, str(exc), line=number) from None
            if not isinstance(data, dict):
                raise DatasetError(
                    path, f"each line must be a JSON object, got {kind(data)}", line=number
                )
            yield number, None, data, False


def _decode_line(path: Path, raw: bytes, number: int, start: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, number, start + exc.start, raw) from None
    if "\x00" in text:
        raise _nul_error(path, number, start + raw.index(b"\x00"))
    return text


def read_text(path: Path) -> str:
    """The whole file as text: UTF-8 with or without a BOM, and no NUL byte."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # utf-8-sig counts offsets after the BOM
        offset = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        raise _encoding_error(path, data.count(b"\n", 0, offset) + 1, offset, data) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _nul_error(path, data.count(b"\n", 0, nul) + 1, nul)
    return text


def _encoding_error(path: Path, line: int, offset: int, data: bytes) -> DatasetError:
    message = f"not valid UTF-8 (byte offset {offset} in the file); save the file as UTF-8"
    if line == 1 and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        message = "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8"
    return DatasetError(path, message, line=line)


def _nul_error(path: Path, line: int, offset: int) -> DatasetError:
    # UTF-16 text without a byte order mark decodes as "UTF-8" with a NUL after every letter.
    message = (
        f"contains a NUL byte (byte offset {offset} in the file): a binary file, or one saved "
        "as UTF-16; save the file as UTF-8 text"
    )
    return DatasetError(path, message, line=line)


def _read_csv(path: Path) -> Generator[RawRow, None, None]:
    from pytest_llmfunnel.dataset.csv_rows import read_csv  # start-up: only when a CSV is read

    return read_csv(path)


def _read_yaml(path: Path) -> Generator[RawRow, None, None]:
    from pytest_llmfunnel.dataset.yaml_rows import read_yaml  # start-up: only when a YAML is read

    return read_yaml(path)


READERS: dict[str, Reader] = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".csv": _read_csv,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
}
