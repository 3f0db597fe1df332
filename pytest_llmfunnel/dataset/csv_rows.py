"""Reading a CSV dataset, and telling a stray quote from a cell that spans lines.

A quote that opens a cell by mistake (``a,b,"12`` for 12 inches) makes the
``csv`` module read every later line into that one cell until the next quote,
or to the end of the file: the rows after it vanish and the run reports fewer
cases, all passing. This reader parses strictly (a quote inside a quoted cell
must be doubled, and a quoted cell must close), so such a quote is an error
naming the line where the cell opened. One case stays ambiguous: a second stray
quote at a line end closes the cell cleanly. A cell spanning lines whose lines
after the first are all complete rows of the header's width (at least two of
them) is reported too, as no real text is shaped like that.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Generator, Sequence
from pathlib import Path

from pytest_llmfunnel.dataset.case_ids import is_id_shaped
from pytest_llmfunnel.dataset.raw import DatasetError, RawRow, read_text
from pytest_llmfunnel.wording import plural

__all__ = ["read_csv"]

_QUOTE_HINT = (
    'a quote inside a cell must be doubled ("") and the cell itself quoted, e.g. "a 12"" screen"'
)
_NEWLINE = re.compile(r"\r\n|\r|\n")


def read_csv(path: Path) -> Generator[RawRow, None, None]:
    """Yield each row of a CSV file as ``(line, None, {column: text}, True)``."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    # Lift the 128 KiB field limit (process-wide) while reading: long fields are fine.
    previous_limit = csv.field_size_limit(2**31 - 1)
    header: list[str] = []
    previous = 0
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
            if previous > start:
                _check_spanning_cells(path, header, row, start)
            if len(row) != len(header):
                spans = (
                    f" (it runs from line {start} to line {previous})" if previous > start else ""
                )
                raise DatasetError(
                    path,
                    f"row has {plural(len(row), 'field')} but the header has {len(header)}{spans}; "
                    "quote fields that contain commas, quotes or newlines, and double the "
                    "quotes inside them",
                    line=start,
                )
            yield start, None, dict(zip(header, row, strict=True)), True
    except csv.Error as exc:
        raise _quote_error(path, text, header, previous + 1, reader.line_num, exc) from None
    finally:
        csv.field_size_limit(previous_limit)


def _quote_error(
    path: Path, text: str, header: Sequence[str], start: int, end: int, exc: csv.Error
) -> DatasetError:
    """Locate a strict-mode CSV error at the row (and cell) where it began."""
    lines = _NEWLINE.split(text)
    first = lines[start - 1] if 0 < start <= len(lines) else ""
    column, opened = _open_cell(first)
    field = header[column] if column < len(header) else None
    if not opened or end <= start:
        message = f"not valid CSV: {exc}; {_QUOTE_HINT}"
        return DatasetError(path, message, line=end if end > start else start, field=field)
    later = sum(1 for line in lines[start:end] if line.strip())
    if "unexpected end of data" in str(exc):
        message = (
            f"'\"' opens a quoted cell that never closes, so lines {start + 1}-{end} "
            f"({later} more rows) would be read into this one cell; {_QUOTE_HINT}"
        )
    else:
        message = (
            f"a quoted cell opens here and ends at a quote on line {end} that is followed "
            f"by other text ({exc}); if the quote here is a stray one, the "
            f"{plural(later, 'line')} in between are not part of this cell: {_QUOTE_HINT}"
        )
    return DatasetError(path, message, line=start, field=field)


def _open_cell(line: str) -> tuple[int, bool]:
    """Where a row's first line goes wrong: ``(index, True)`` for a quoted cell still
    open at the line's end, ``(index, False)`` for the first cell with text after its
    closing quote (else the last cell)."""
    column, quoted, at_start, closed, index = 0, False, True, False, 0
    while index < len(line):
        char = line[index]
        if quoted:
            if char == '"':
                if line[index + 1 : index + 2] == '"':
                    index += 1  # a doubled quote inside the cell
                else:
                    quoted, closed = False, True
        elif char == ",":
            column, at_start, closed = column + 1, True, False
            index += 1
            continue
        elif closed:
            return column, False  # text after the closing quote
        elif char == '"' and at_start:
            quoted = True
        at_start = False
        index += 1
    return column, quoted


def _check_spanning_cells(
    path: Path, header: Sequence[str], row: Sequence[str], start: int
) -> None:
    """Refuse a cell spanning lines whose later lines are all rows of the header's width."""
    id_column = header.index("id") if "id" in header else None
    offset = 0  # lines the cells before this one span
    for column, cell in enumerate(row):
        lines = _NEWLINE.split(cell)
        inner = lines[1:]
        if len(inner) >= 2 and all(
            _looks_like_a_row(line, len(header), id_column) for line in inner
        ):
            first, last = start + offset + 1, start + offset + len(inner)
            message = (
                f"this quoted cell holds lines {first}-{last} inside one cell, and each of "
                f"them has {plural(len(header), 'field')}: they look like rows that a stray quote "
                f"swallowed (the cell opens on line {start + offset} and closes on line "
                f"{last}); {_QUOTE_HINT}"
            )
            field = header[column] if column < len(header) else None
            raise DatasetError(path, message, line=start + offset, field=field)
        offset += len(inner)


def _looks_like_a_row(line: str, width: int, id_column: int | None) -> bool:
    if '"' in line or not line.strip():
        return False
    cells = line.split(",")
    if len(cells) != width:
        return False
    return id_column is None or is_id_shaped(cells[id_column].strip())
