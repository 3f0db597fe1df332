"""Reading the fields of one dataset row: context, tags, metadata, pre-logged outputs.

Each reader takes the column a value came from (for the error), the value and
whether it came from text (a CSV cell), and returns what the ``Case`` model
takes, or raises :class:`RowError` ``(column, message)``;
:mod:`pytest_llmfunnel.dataset.load` adds the file and line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_llmfunnel.dataset import json_rows as dataset_json
from pytest_llmfunnel.dataset.readers import kind
from pytest_llmfunnel.output import Output, OutputError

# An output column named with this suffix holds a structured output as JSON
# (``output:json``, ``output_<variant>:json``): the way to give one in a CSV.
JSON_SUFFIX = ":json"


class RowError(Exception):
    """``(field, message)`` for a problem with one row; the builder adds file and line."""


def output(column: str, value: Any, in_json: bool) -> str | Output:
    """A pre-logged output: a string, or an Output from an object (or a ``:json`` cell)."""
    if in_json and isinstance(value, str):
        if not value.strip():
            return ""  # an empty cell is an empty output, as in a plain output column
        try:
            value = dataset_json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError(
                column, f"should hold a JSON object (a structured output): {exc.msg} at "
                f"char {exc.pos}"
            ) from None
        except dataset_json.JSONProblem as exc:
            raise RowError(column, f"the JSON in this cell is refused: {exc}") from None
        if not isinstance(value, dict):
            raise RowError(column, f"should hold a JSON object, got {kind(value)}")
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise RowError(
            column,
            f"should be a string or an object of Output fields (the pre-logged output), "
            f"got {kind(value)}",
        )
    try:
        return Output.parse(value)
    except OutputError as exc:
        raise RowError(column, f"the pre-logged output is {exc}") from None



def context(column: str, value: Any, from_text: bool) -> Any:
    if from_text:
        parsed = json_in_text(column, value)
        if isinstance(parsed, list) and all(isinstance(part, str) for part in parsed):
            value = parsed
    if not isinstance(value, list):
        return value  # None or a string; anything else is rejected by the model
    if not all(isinstance(part, str) for part in value):
        raise RowError(column, "a context list should hold only strings")
    return "\n\n".join(value)


def tags(column: str, value: Any, from_text: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        parsed = json_in_text(column, value) if from_text else None
        value = parsed if isinstance(parsed, list) else re.split(r"[;,]", value)
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        message = "should be a list of strings or one string separated by ';' or ','"
        raise RowError(column, f"{message}, got {kind(value)}")
    return tuple(dict.fromkeys(tag for tag in map(str.strip, value) if tag))


def metadata(column: str, value: Any, extra: dict[str, Any], from_text: bool) -> Any:
    if from_text and value is not None:
        value = json_in_text(column, value)
        if not isinstance(value, dict):
            raise RowError(column, "should be a JSON object (in a CSV cell)")
    if value is None:
        return extra
    if not isinstance(value, dict):
        raise RowError(column, f"should be a mapping, got {kind(value)}")
    clash = sorted(set(value).intersection(extra))
    if clash:
        message = f"key {clash[0]!r} is both in metadata and a column of its own; rename one"
        raise RowError(column, message)
    return {**value, **extra}


def json_in_text(column: str, text: Any) -> Any:
    """The JSON list or object a CSV cell holds, or ``None`` for plain text."""
    if not isinstance(text, str) or not text.lstrip().startswith(("[", "{")):
        return None
    try:
        return dataset_json.loads(text)
    except json.JSONDecodeError:
        return None
    except dataset_json.JSONProblem as exc:
        raise RowError(column, f"the JSON in this cell is refused: {exc}") from None
