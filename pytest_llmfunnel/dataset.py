"""Loading eval datasets (JSONL, CSV, YAML) into validated ``Case`` objects.

A dataset is a file of rows; each row becomes one ``Case`` and, later, one
test id. Loading is strict because a silently skipped or mangled row is an
eval that quietly stops testing something: every problem raises a
``DatasetError`` naming the file, the line and the field.

Row fields (after the optional ``columns`` mapping):

* ``id``: optional; derived from the input alone when missing (see
  ``derive_case_id``), so ids survive reordering rows and editing ``expected``.
* ``input``: required; a string, or a list of chat messages ``{role, content}``.
* ``expected``: optional string.
* ``context``: optional string, or a list of strings joined with blank lines.
* ``output``: a pre-logged output, the variant ``"default"``;
  ``output_<name>``: the output of variant ``<name>``. Every row must carry
  the same variants.
* ``metadata``: optional mapping. Columns that are not case fields are kept
  too: they go into ``metadata`` under their own name.
* ``tags``: optional list of strings, or one string separated by ``;`` or ``,``.

CSV cells are text, so in CSV a cell holding a JSON list or object is read as
JSON for ``input`` (a list of messages), ``context`` (a list of strings),
``metadata`` and ``tags``; an empty cell counts as absent (except for an output
column, where it is an empty output).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import reprlib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_llmfunnel.models import Case, ChatMessage, sha256_json, sha256_text

__all__ = [
    "Dataset",
    "DatasetError",
    "derive_case_id",
    "load_dataset",
    "resolve_dataset_path",
    "validate_case_id",
]

CASE_FIELDS = ("id", "input", "expected", "context", "output", "metadata", "tags")
MAX_ID_LENGTH = 200
ID_RULE = (
    f"ids may use only ASCII letters, digits and '_', '-', '.', '+' (at most {MAX_ID_LENGTH} "
    "characters, starting with a letter, digit or '_'), so that every case keeps a usable "
    "pytest node id and can be selected with -k"
)
_ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_ID_ALLOWED = re.compile(r"[A-Za-z0-9_.+-]")
_K_KEYWORDS = frozenset({"and", "or", "not"})
_YAML_HINT = 'reading YAML datasets needs PyYAML: pip install "pytest-llmfunnel[yaml]"'


class DatasetError(Exception):
    """A dataset that cannot be loaded, located as precisely as possible.

    ``path`` is the dataset file, ``line`` the 1-based source line (``None``
    when the problem is the whole file), ``field`` the column or key at fault.
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
        self.line = line
        self.field = field
        self.item = item
        where = _display(self.path) + (f":{line}" if line is not None else "")
        parts = [where]
        if item is not None:
            parts.append(f"item [{item}]")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(": ".join([*parts, message]))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.detail, self.line, self.field, self.item))


@dataclass(frozen=True)
class Dataset:
    """The validated cases of one dataset file, in file order."""

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
    mapping = _check_columns(path, columns or {})
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(
            path,
            f"unsupported dataset format {path.suffix or '(no extension)'!r}: "
            "use .jsonl (or .ndjson), .csv, .yaml or .yml",
        )
    if not path.is_file():
        raise DatasetError(path, "dataset file not found")
    builder = _Builder(path, mapping)
    for row in reader(path):
        builder.add(row)
    return builder.finish()


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


def derive_case_id(input: str | Sequence[Mapping[str, str]]) -> str:
    """A stable id from the input alone: a slug of its first words and 8 hex of its sha256.

    For chat input the slug comes from the first user message and the hash
    covers every message's role and content.
    """
    if isinstance(input, str):
        text, digest = input, sha256_text(input)
    else:
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in input]
        digest = sha256_json(messages)
        users = [m["content"] for m in messages if m["role"] == "user"]
        text = users[0] if users else (messages[0]["content"] if messages else "")
    return f"{_slug(text)}-{digest[:8]}"


def validate_case_id(case_id: str) -> str | None:
    """Describe what makes ``case_id`` unusable as a test id, or return ``None``."""
    problem = _id_problem(case_id)
    return None if problem is None else f"{problem}; {ID_RULE}"


def _id_problem(case_id: str) -> str | None:
    if not case_id:
        return "id is empty"
    if len(case_id) > MAX_ID_LENGTH:
        return f"id is {len(case_id)} characters long"
    if case_id != case_id.strip():
        return f"id {case_id!r} has whitespace at the start or end"
    if case_id.lower() in _K_KEYWORDS:
        return f"id {case_id!r} is a keyword of pytest's -k expressions"
    if _ID_PATTERN.fullmatch(case_id):
        return None
    for position, char in enumerate(case_id):
        if not _ID_ALLOWED.fullmatch(char):
            return f"id {case_id!r} contains {_describe_char(char)} at position {position}"
    return f"id {case_id!r} starts with {case_id[0]!r}"


def _describe_char(char: str) -> str:
    if unicodedata.category(char).startswith("C"):
        return f"the control character U+{ord(char):04X}"
    if char.isspace():
        return "whitespace"
    return repr(char)


def _slug(text: str, *, max_words: int = 6, max_chars: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = ""
    for word in re.findall(r"[a-z0-9]+", ascii_text.lower())[:max_words]:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_chars:
            break
        slug = candidate
    return slug or "case"


def _display(path: Path) -> str:
    """The path relative to the working directory when inside it, so editors can jump to it."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _check_columns(path: Path, columns: Mapping[str, str]) -> dict[str, str]:
    for source, target in columns.items():
        if target not in CASE_FIELDS and not target.startswith("output_"):
            raise DatasetError(
                path,
                f"columns maps {source!r} to {target!r}, which is not a case field; "
                f"use one of {', '.join(CASE_FIELDS)} or output_<variant>",
            )
    return dict(columns)


# --- readers: each yields one raw row at a time, so no row outlives its Case ---


@dataclass(frozen=True)
class _RawRow:
    line: int | None
    item: int | None
    data: Mapping[Any, Any]
    from_text: bool = False


def _read_jsonl(path: Path) -> Iterator[_RawRow]:
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
                truncated = exc.pos >= len(text.rstrip())
                why = "the line ends before the JSON value is complete (truncated?)"
                raise DatasetError(
                    path,
                    f"not valid JSON: {why if truncated else exc.msg} at column {exc.colno}; "
                    "each line must hold one complete JSON object",
                    line=number,
                ) from None
            if not isinstance(data, dict):
                raise DatasetError(
                    path, f"each line must be a JSON object, got {_kind(data)}", line=number
                )
            yield _RawRow(number, None, data)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        offset = exc.start + bom
        raise _encoding_error(path, data.count(b"\n", 0, offset) + 1, offset) from None


def _encoding_error(path: Path, line: int, offset: int) -> DatasetError:
    return DatasetError(
        path,
        f"not valid UTF-8 (byte offset {offset} in the file); save the file as UTF-8",
        line=line,
    )


@contextmanager
def _csv_field_limit(limit: int = 2**31 - 1) -> Iterator[None]:
    """Lift the csv module's 128 KiB field limit (a process-wide setting) while reading."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _read_csv(path: Path) -> Iterator[_RawRow]:
    text = _read_text(path)
    with _csv_field_limit():
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next((row for row in reader if any(row)), None)
            if header is None:
                return
            _check_header(path, header, reader.line_num)
            previous = reader.line_num
            for row in reader:
                start, previous = previous + 1, reader.line_num
                if not any(row):
                    continue  # blank line, or a spreadsheet's row of empty cells
                if len(row) != len(header):
                    fewer = "fewer" if len(row) < len(header) else "more"
                    raise DatasetError(
                        path,
                        f"row has {len(row)} fields but the header has {len(header)} "
                        f"({fewer} than expected: quote fields that contain commas or newlines)",
                        line=start,
                    )
                yield _RawRow(start, None, dict(zip(header, row, strict=True)), from_text=True)
        except csv.Error as exc:
            raise DatasetError(path, f"not valid CSV: {exc}", line=reader.line_num) from None


def _check_header(path: Path, header: list[str], line: int) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise DatasetError(path, f"header column {position} has no name", line=line)
        if name in seen:
            raise DatasetError(path, f"header names column {name!r} twice", line=line)
        seen.add(name)


def _read_yaml(path: Path) -> Iterator[_RawRow]:
    try:
        import yaml
    except ImportError:
        raise DatasetError(path, _YAML_HINT) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(_read_text(path))
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
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
            + (f"a mapping with keys {keys}" if keys else _kind(data)),
            line=root.start_mark.line + 1,
        )
    for index, item in enumerate(data):
        line = nodes[index].start_mark.line + 1 if index < len(nodes) else None
        if not isinstance(item, dict):
            raise DatasetError(
                path, f"each case must be a mapping, got {_kind(item)}", line=line, item=index
            )
        yield _RawRow(line, index, item)


_READERS = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".csv": _read_csv,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
}


# --- building cases: one raw row in, one validated Case out ---


class _RowError(Exception):
    """A problem with one row; the builder adds file and line."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Builder:
    """Collects cases and checks what spans rows: unique ids, consistent variants."""

    def __init__(self, path: Path, columns: Mapping[str, str]) -> None:
        self.path = path
        self.columns = columns
        self.cases: list[Case] = []
        self.lines: list[int | None] = []
        self.ids: dict[str, tuple[str, bool]] = {}
        self.variants: tuple[str, ...] | None = None
        self.variants_at = ""

    def add(self, row: _RawRow) -> None:
        try:
            case, derived = _build_case(row.data, self.columns, row.from_text)
        except _RowError as exc:
            raise self._error(row, exc.message, exc.field) from None
        where = f"line {row.line}" if row.line is not None else f"item [{row.item}]"
        if case.id in self.ids:
            first, first_derived = self.ids[case.id]
            if derived and first_derived:
                message = (
                    f"same input as {first} and neither row has an 'id', so both would get "
                    f"the id {case.id!r}; give each of these rows an explicit, unique 'id'"
                )
            else:
                message = f"duplicate id {case.id!r}, already used on {first}; ids must be unique"
            raise self._error(row, message, "id")
        variants = tuple(case.outputs)
        if self.variants is None:
            self.variants, self.variants_at = variants, where
        elif set(variants) != set(self.variants):
            raise self._error(
                row,
                f"this row has outputs for {_names(variants)} but {self.variants_at} has "
                f"{_names(self.variants)}; every row needs the same output columns",
                "output",
            )
        self.ids[case.id] = (where, derived)
        self.cases.append(case)
        self.lines.append(row.line)

    def finish(self) -> Dataset:
        if not self.cases:
            raise DatasetError(self.path, "the dataset is empty; add at least one case")
        return Dataset(self.path, tuple(self.cases), self.variants or (), tuple(self.lines))

    def _error(self, row: _RawRow, message: str, field: str | None) -> DatasetError:
        return DatasetError(self.path, message, line=row.line, field=field, item=row.item)


def _build_case(
    data: Mapping[Any, Any], columns: Mapping[str, str], from_text: bool
) -> tuple[Case, bool]:
    fields: dict[str, Any] = {}
    sources: dict[str, str] = {}
    outputs: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        column = str(key)
        name = columns.get(column, column)
        is_output = name == "output" or name.startswith("output_")
        if name not in CASE_FIELDS and not is_output:
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
        elif isinstance(value, str):
            outputs[target[len("output:") :]] = value
        else:
            raise _RowError(
                column, f"should be a string (the pre-logged output), got {_kind(value)}"
            )

    def col(name: str) -> str:
        return sources.get(name, name)

    if "input" not in fields:
        mapped = [s for s, t in columns.items() if t == "input"]
        hint = f" (read from column {mapped[0]!r})" if mapped else ""
        found = ", ".join(map(str, list(data)[:10])) or "none"
        raise _RowError("input", f"required field is missing{hint}; this row has: {found}")
    case_input = _input(col("input"), fields["input"], from_text)
    case_id, derived = _case_id(col("id"), fields.get("id"), case_input)
    metadata = _metadata(col("metadata"), fields.get("metadata"), extra, from_text)
    payload = {
        "id": case_id,
        "input": case_input,
        "expected": fields.get("expected"),
        "context": _context(col("context"), fields.get("context"), from_text),
        "outputs": outputs,
        "metadata": metadata,
        "tags": _tags(col("tags"), fields.get("tags", ()), from_text),
    }
    try:
        return Case.model_validate(payload), derived
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]["loc"]
        raise _RowError(col(str(first[0])) if first else None, _explain(exc, skip=1)) from None


def _variant(column: str, name: str) -> str:
    variant = "default" if name == "output" else name[len("output_") :]
    if not _ID_PATTERN.fullmatch(variant):
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
    if from_text and isinstance(value, str):
        parsed = _json_in_text(value)
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
        f"should be a string or a non-empty list of chat messages {{role, content}}, "
        f"got {_kind(value)}",
    )


def _context(column: str, value: Any, from_text: bool) -> Any:
    if from_text and isinstance(value, str):
        parsed = _json_in_text(value)
        if isinstance(parsed, list) and all(isinstance(part, str) for part in parsed):
            value = parsed
    if isinstance(value, list):
        if not all(isinstance(part, str) for part in value):
            raise _RowError(column, "a context list should hold only strings")
        return "\n\n".join(value)
    return value


def _tags(column: str, value: Any, from_text: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        parsed = _json_in_text(value) if from_text else None
        value = parsed if isinstance(parsed, list) else re.split(r"[;,]", value)
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        raise _RowError(
            column,
            f"should be a list of strings or one string separated by ';' or ',', "
            f"got {_kind(value)}",
        )
    return tuple(dict.fromkeys(tag.strip() for tag in value if tag.strip()))


def _metadata(column: str, value: Any, extra: dict[str, Any], from_text: bool) -> Any:
    if from_text and isinstance(value, str):
        value = _json_in_text(value)
        if not isinstance(value, dict):
            raise _RowError(column, "should be a JSON object (in a CSV cell)")
    if value is None:
        return extra
    if not isinstance(value, dict):
        raise _RowError(column, f"should be a mapping, got {_kind(value)}")
    clash = sorted(set(value).intersection(extra))
    if clash:
        raise _RowError(
            column, f"key {clash[0]!r} is both in metadata and an extra column of the same name"
        )
    return {**value, **extra}


def _json_in_text(text: str) -> Any:
    """The JSON list or object a CSV cell holds, or ``None`` for plain text."""
    if not text.lstrip().startswith(("[", "{")):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _explain(exc: ValidationError, *, skip: int = 0) -> str:
    error = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in error["loc"][skip:])
    message = error["msg"]
    if message.startswith("Input should"):
        message = "should" + message[len("Input should") :]
    if error["type"] != "missing":
        message += f", got {_kind(error['input'])}"
    return f"{loc}: {message}" if loc else message


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _names(variants: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in variants) if variants else "no variants"
