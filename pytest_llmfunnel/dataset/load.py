"""Loading eval datasets (JSONL, CSV, YAML) into validated ``Case`` objects.

Each row becomes one ``Case`` and, later, one test id. Loading is strict
because a silently skipped or mangled row is an eval that quietly stops
testing something: every problem raises a ``DatasetError`` naming the file,
the line and the field. The files are read into raw rows by
:mod:`pytest_llmfunnel.dataset.readers`; this module builds and checks the cases.

Row fields, after the optional ``columns`` mapping: ``id`` (derived from the
input when missing, see ``derive_case_id``), ``input`` (required: a string or a
list of chat messages ``{role, content}``), ``expected``, ``context`` (a string,
or a list of strings joined with blank lines), ``metadata`` (a mapping; every
column that is not a case field also lands here, under its own name) and
``tags`` (a list, or one string separated by ``;`` or ``,``). A column
``output`` holds the pre-logged output of variant ``"default"``, a column
``output_<name>`` that of variant ``<name>``; every row has the same variants.

A CSV cell holding a JSON list or object is read as JSON for ``input``,
``context``, ``metadata`` and ``tags``. An empty CSV cell counts as absent,
except in an output column, where it is an empty output.

A structured output (:class:`~pytest_llmfunnel.output.Output`: text,
retrieved chunks, tool calls, ...) is an object in an output field of a JSONL
or YAML row. A CSV output cell stays text (an application may answer in
JSON); a structured output goes in a column named ``output:json`` (or
``output_<variant>:json``), whose cell holds the object as JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_llmfunnel.dataset import turn_fields
from pytest_llmfunnel.dataset.case_ids import derive_case_id, is_id_shaped, validate_case_id
from pytest_llmfunnel.dataset.readers import READERS, DatasetError, RawRow
from pytest_llmfunnel.dataset.readers import kind as _kind
from pytest_llmfunnel.dataset.row_fields import JSON_SUFFIX
from pytest_llmfunnel.dataset.row_fields import RowError as _RowError
from pytest_llmfunnel.dataset.row_fields import context as _context
from pytest_llmfunnel.dataset.row_fields import json_in_text as _json_in_text
from pytest_llmfunnel.dataset.row_fields import metadata as _metadata
from pytest_llmfunnel.dataset.row_fields import output as _output
from pytest_llmfunnel.dataset.row_fields import tags as _tags
from pytest_llmfunnel.models import Case, ChatMessage
from pytest_llmfunnel.output import Output

__all__ = [
    "Dataset",
    "DatasetError",
    "derive_case_id",
    "load_dataset",
    "resolve_dataset_path",
    "validate_case_id",
]

CASE_FIELDS = ("id", "input", "expected", "context", "output", "metadata", "tags",
               "turns", "goal", "messages")


@dataclass(frozen=True)
class Dataset:
    """The validated cases of one dataset file, in file order.

    ``variants`` names the pre-logged outputs every case has (``()`` for
    none); ``lines`` holds each case's source line, in the same order.
    """

    path: Path
    cases: tuple[Case, ...]
    variants: tuple[str, ...]
    lines: tuple[int | None, ...]

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def select_tags(self, tags: Iterable[str]) -> Dataset:
        """Keep the cases that carry any of ``tags`` (with their source lines)."""
        wanted = frozenset(tags)
        keep = [i for i, case in enumerate(self.cases) if wanted.intersection(case.tags)]
        return replace(
            self,
            cases=tuple(self.cases[i] for i in keep),
            lines=tuple(self.lines[i] for i in keep),
        )


def load_dataset(path: str | Path, *, columns: Mapping[str, str] | None = None) -> Dataset:
    """Load and validate every row of a dataset file.

    ``path``: a ``.jsonl``/``.ndjson``, ``.csv`` or ``.yaml``/``.yml`` file.
    ``columns``: maps the file's own column names onto case fields, for
    example ``{"question": "input", "answer": "expected"}``.
    Raises ``DatasetError`` naming file, line and field on the first problem.
    """
    path = Path(path)
    for source, target in (columns or {}).items():
        target = target.removesuffix(JSON_SUFFIX) if target.startswith("output") else target
        if target not in CASE_FIELDS and not target.startswith("output_"):
            raise DatasetError(
                path,
                f"columns maps {source!r} to {target!r}, which is not a case field; "
                f"use one of {', '.join(CASE_FIELDS)} or output_<variant>",
            )
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(
            path,
            f"unsupported dataset format {path.suffix or '(no extension)'!r}: "
            "use .jsonl (or .ndjson), .csv, .yaml or .yml",
        )
    if not path.is_file():
        raise DatasetError(path, "dataset file not found")
    with closing(reader(path)) as rows:  # closed at once even when a row is rejected
        return _collect(path, rows, columns or {})


def resolve_dataset_path(path: str | Path, *, relative_to: Path) -> Path:
    """Resolve ``path`` against the test file's folder ``relative_to`` and check it exists."""
    folder = relative_to.parent if relative_to.is_file() else relative_to
    candidate = Path(path).expanduser()
    resolved = (candidate if candidate.is_absolute() else folder / candidate).resolve()
    if not resolved.is_file():
        what = "is a directory, not a file" if resolved.is_dir() else "not found"
        hint = "" if candidate.is_absolute() else f" (relative paths resolve against {folder})"
        raise DatasetError(resolved, f"dataset file {what}: {resolved}{hint}")
    return resolved


# --- building cases: one raw row in, one validated Case out ---


def _collect(path: Path, rows: Iterator[RawRow], columns: Mapping[str, str]) -> Dataset:
    """Build every case and check what spans rows: unique ids, consistent variants."""
    cases: list[Case] = []
    lines: list[int | None] = []
    seen: dict[str, tuple[str, bool]] = {}  # id -> (where, derived)
    folded: dict[str, str] = {}  # id.casefold() -> id
    variants: tuple[str, ...] | None = None
    variants_at = ""
    for line, item, data, from_text in rows:
        try:
            case, derived = _build_case(data, columns, from_text)
        except _RowError as exc:
            raise DatasetError(path, exc.args[1], line, exc.args[0], item) from None
        where = f"line {line}" if line is not None else f"item [{item}]"
        if case.id in seen:
            first, first_derived = seen[case.id]
            message = f"duplicate id {case.id!r}, already used on {first}; ids must be unique"
            if derived and first_derived:
                message = (
                    f"same input as {first} and neither row has an 'id', so both would get "
                    f"the id {case.id!r}; give each of these rows an explicit, unique 'id'"
                )
            raise DatasetError(path, message, line, "id", item)
        other = folded.setdefault(case.id.casefold(), case.id)
        if other != case.id:
            message = (
                f"id {case.id!r} differs from {other!r} on {seen[other][0]} only in letter case; "
                "pytest's -k matches ids without regard to case, so it cannot select one "
                "without the other: rename one of them"
            )
            raise DatasetError(path, message, line, "id", item)
        if variants is None:
            variants, variants_at = tuple(case.outputs), where
        elif case.outputs.keys() != set(variants):
            message = (
                f"this row has outputs for {_names(case.outputs)} but {variants_at} has "
                f"outputs for {_names(variants)}; every row needs the same output columns"
            )
            raise DatasetError(path, message, line, "output", item)
        seen[case.id] = (where, derived)
        cases.append(case)
        lines.append(line)
    if not cases:
        raise DatasetError(path, "the dataset is empty; add at least one case")
    return Dataset(path, tuple(cases), variants or (), tuple(lines))


def _surrogate(value: Any) -> str | None:
    """The first lone surrogate in a value (JSON can encode one; UTF-8 cannot), if any."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"\\u{ord(value[exc.start]):04x}"
        return None
    if isinstance(value, Mapping):
        items: Iterable[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return None
    for item in items:
        found = _surrogate(item)
        if found is not None:
            return found
    return None


def _names(variants: Iterable[str]) -> str:
    return ", ".join(repr(v) for v in variants) or "no variant"


def _build_case(
    data: Mapping[Any, Any], columns: Mapping[str, str], from_text: bool
) -> tuple[Case, bool]:
    for key, value in data.items():
        bad = _surrogate(value)
        if bad is not None:
            raise _RowError(
                str(key),
                f"contains a lone surrogate ({bad}), which is not valid Unicode text; "
                "fix the \\u escape in the file",
            )
    fields: dict[str, Any] = {}
    sources: dict[str, str] = {}  # case field (or "output:<variant>") -> column it came from
    outputs: dict[str, str | Output] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        column = str(key)
        name = columns.get(column, column)
        in_json = name.startswith("output") and name.endswith(JSON_SUFFIX)
        name = name.removesuffix(JSON_SUFFIX) if in_json else name
        is_output = name == "output" or name.startswith("output_")
        if not is_output and name not in CASE_FIELDS:
            extra[column] = value
            continue
        if value is None or (from_text and value == "" and not is_output):
            continue  # absent; an empty CSV output cell is an empty output
        target = f"output:{_variant(column, name)}" if is_output else name
        if target in sources:
            raise _RowError(column, f"column {sources[target]!r} already gives {name!r}")
        sources[target] = column
        if not is_output:
            fields[name] = value
        else:
            outputs[target[len("output:") :]] = _output(column, value, in_json)
    # A conversation (scripted turns, or logged messages) opens with its input.
    turns = turn_fields.turns(col_of(sources, "turns"), fields["turns"], from_text) \
        if "turns" in fields else None
    logged = turn_fields.messages(col_of(sources, "messages"), fields["messages"], from_text) \
        if "messages" in fields else None
    if logged is not None:
        if "default" in outputs:
            raise _RowError("messages", "a row gives either 'messages' or 'output', not both")
        outputs["default"] = logged
    opening = turn_fields.first_user_message(turns, logged)
    if "input" not in fields and opening is not None:
        fields["input"] = opening
    if "input" not in fields:
        mapped = [s for s, t in columns.items() if t == "input"]
        hint = f" (read from column {mapped[0]!r})" if mapped else ""
        if any(columns.get(str(key), str(key)) == "input" for key in data):
            raise _RowError(mapped[0] if mapped else "input", "required field is empty")
        found = ", ".join(map(str, list(data)[:10])) or "nothing"
        raise _RowError("input", f"required field is missing{hint}; this row has: {found}")

    def col(name: str) -> str:
        return sources.get(name, name)

    case_input = _input(col("input"), fields["input"], from_text)
    case_id, derived = _case_id(col("id"), fields.get("id"), case_input)
    payload = {
        "id": case_id,
        "input": case_input,
        "expected": fields.get("expected"),
        "context": _context(col("context"), fields.get("context"), from_text),
        "outputs": outputs,
        "metadata": _metadata(col("metadata"), fields.get("metadata"), extra, from_text),
        "tags": _tags(col("tags"), fields.get("tags", ()), from_text),
        "turns": turns or (),
        "goal": fields.get("goal"),
    }
    try:
        return Case.model_validate(payload), derived
    except ValidationError as exc:
        loc = exc.errors(include_url=False)[0]["loc"]
        raise _RowError(col(str(loc[0])) if loc else None, _explain(exc, skip=1)) from None


def col_of(sources: Mapping[str, str], name: str) -> str:
    """The column a case field was read from (its own name when not mapped)."""
    return sources.get(name, name)


@functools.lru_cache(maxsize=256)
def _variant(column: str, name: str) -> str:
    variant = "default" if name == "output" else name[len("output_") :]
    if not is_id_shaped(variant):
        raise _RowError(
            column,
            f"{variant!r} is not a usable variant name: after 'output_' use ASCII letters, "
            "digits and '_', '-', '.', '+'",
        )
    return variant


def _case_id(
    column: str, value: Any, case_input: str | tuple[ChatMessage, ...]
) -> tuple[str, bool]:
    if value is None:
        if isinstance(case_input, str):
            return derive_case_id(case_input), True
        return derive_case_id([{"role": m.role, "content": m.content} for m in case_input]), True
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _RowError(column, f"should be a string, got {_kind(value)}")
    problem = validate_case_id(value)
    if problem is not None:
        raise _RowError(column, problem)
    return value, False


def _input(column: str, value: Any, from_text: bool) -> str | tuple[ChatMessage, ...]:
    if from_text:
        parsed = _json_in_text(column, value)
        if isinstance(parsed, list) and parsed and all(isinstance(m, dict) for m in parsed):
            value = parsed
    if isinstance(value, str):
        if not value.strip():
            raise _RowError(column, "is empty")
        return value
    if isinstance(value, list) and value:
        messages = []
        for index, message in enumerate(value):
            try:
                messages.append(ChatMessage.model_validate(message))
            except ValidationError as exc:
                raise _RowError(column, f"message [{index}]: {_explain(exc)}") from None
        return tuple(messages)
    raise _RowError(
        column,
        "should be a string or a non-empty list of chat messages {role, content}, "
        f"got {_kind(value)}",
    )


def _explain(exc: ValidationError, *, skip: int = 0) -> str:
    error = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in error["loc"][skip:])
    message = error["msg"]
    if message.startswith("Input should"):
        message = "should" + message[len("Input should") :]
    if error["type"] != "missing":
        message += f", got {_kind(error['input'])}"
    return f"{loc}: {message}" if loc else message
