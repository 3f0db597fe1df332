"""What every dataset reader shares: the error they raise, the raw row, and decoding.

A raw row is ``(line, YAML item index, the row's mapping, whether values are
CSV text)``; the readers (:mod:`~pytest_llmfunnel.dataset.readers` and the CSV
and YAML ones beside it) yield them, and :mod:`~pytest_llmfunnel.dataset.load`
builds cases from them.
"""

from __future__ import annotations

import codecs
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_llmfunnel.display import shown_path


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


def decode_line(path: Path, raw: bytes, number: int, start: int) -> str:
    """Line ``number`` of a file as text, or the error naming its bad byte."""
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
