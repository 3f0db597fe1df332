"""Strict JSON for dataset rows: what ``json.loads`` accepts silently, or crashes on, refused.

The standard library takes the last of two equal keys, reads ``NaN`` and
``Infinity`` (not JSON), turns ``1e999`` into infinity, raises a bare
``ValueError`` for an integer of more than 4,300 digits (on Python 3.11+; on
3.10 it spends quadratic time on it) and ``RecursionError`` for deep nesting.
``loads`` turns each into a ``JSONProblem`` whose message says what to fix;
the readers add file and line.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pytest_llmfunnel.display import truncate

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "JSONProblem", "deeper_than", "loads"]

#: Far deeper than any case needs (chat input is 3 levels), far below the
#: recursion limit that validation and the report writers would otherwise hit.
MAX_DEPTH = 64
#: Python's default limit for converting text to int since 3.11
#: (``sys.int_info.default_max_str_digits``), applied on every Python version.
MAX_INT_DIGITS = 4300
_TOO_DEEP = f"lists and objects nested more than {MAX_DEPTH} levels deep"


class JSONProblem(ValueError):
    """Valid-looking JSON that a dataset must not hold; the message says why and what to do.

    ``problem`` is the why alone, for files a person does not edit by hand
    (their readers give their own advice).
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):
        keys = [key for key, _ in pairs]
        key = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise JSONProblem(
            f"duplicate key {key!r} in one JSON object (JSON readers keep only one of them)",
            "remove or rename one",
        )
    return result


def _constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not valid JSON", "write the value as a string or null")


def _integer(text: str) -> int:
    if len(text) <= MAX_INT_DIGITS:
        return int(text)
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise JSONProblem(
            f"integer with {digits} digits (at most {MAX_INT_DIGITS})", "write it as a string"
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONProblem(
            f"number {truncate(text, 40)!r} is too large for a float", "write it as a string"
        )
    return value


# One decoder for every line: json.loads with hooks would build a new one per call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_integer, parse_float=_float
)


def loads(text: str) -> Any:
    """Parse one JSON value; raise ``json.JSONDecodeError`` for bad syntax, ``JSONProblem``
    for a duplicate key, NaN/Infinity, an out-of-range number or nesting past ``MAX_DEPTH``."""
    if text.startswith("\ufeff"):  # as json.loads does; the decoder alone does not check
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (a file pasted in?)", text, 0)
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JSONProblem(_TOO_DEEP, "flatten the value") from None
    # No walk when the text cannot nest that deep: one bracket per level at least.
    if text.count("[") + text.count("{") > MAX_DEPTH and deeper_than(value, MAX_DEPTH):
        raise JSONProblem(_TOO_DEEP, "flatten the value")
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and mappings in ``value`` nest more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
