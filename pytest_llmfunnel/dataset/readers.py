"""Reading dataset files (JSONL, CSV, YAML) into raw rows, and the error every problem raises.

Each reader is a generator over one file that yields one raw row at a time
(see ``RawRow``), so no row outlives the ``Case`` that
:mod:`pytest_llmfunnel.dataset.load` builds from it. The readers check only the
file itself: its encoding, its JSON, CSV or YAML syntax, and that each row is
a mapping; what a parser would take silently (a duplicate key, a stray CSV
quote that swallows the rows after it, YAML aliases that expand without end)
or crash on (deep nesting, huge numbers) is an error too. What a row's fields
mean, and whether they are valid, is decided when the case is built.

``DatasetError`` and the text-level helpers every reader shares live in
:mod:`~pytest_llmfunnel.dataset.raw`; the error is public as
``pytest_llmfunnel.dataset.load.DatasetError``. The CSV and YAML readers live in
:mod:`~pytest_llmfunnel.dataset.csv_rows` and :mod:`~pytest_llmfunnel.dataset.yaml_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from pathlib import Path

from pytest_llmfunnel.dataset import json_rows as dataset_json
from pytest_llmfunnel.dataset.raw import DatasetError, RawRow, decode_line, kind, read_text

__all__ = ["READERS", "DatasetError", "RawRow", "kind", "read_text"]


Reader = Callable[[Path], Generator[RawRow, None, None]]


def _read_jsonl(path: Path) -> Generator[RawRow, None, None]:
    with path.open("rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            text = decode_line(path, raw, number, start)
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
