"""Dotted paths into JSON values: ``$.plan.steps[0]``, ``a["key.with.dots"]``.

A deliberately small subset of JSONPath (no wildcards, filters or slices):
enough to point at one value, with errors that say where the path stopped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_llmfunnel.wording import plural

# One step: .name, [index], ["quoted key"] or ['quoted key'].
_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*)
      | \[(?P<index>-?\d+)\]
      | \[(?P<quoted>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\]""",
    re.VERBOSE,
)


class PathMissing(LookupError):
    """The path does not lead to a value in this document."""


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Parse ``text``; a leading ``$`` is optional, a bare first name needs no dot."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a JSON path is a non-empty string, got {text!r}")
        rest = text.strip()
        if rest.startswith("$"):
            rest = rest[1:]
        elif not rest.startswith(("[", ".")):
            rest = "." + rest
        steps: list[str | int] = []
        pos = 0
        while pos < len(rest):
            m = _STEP.match(rest, pos)
            if m is None:
                raise ValueError(f"bad JSON path {text!r}: cannot read {rest[pos:]!r}")
            if m["name"] is not None:
                steps.append(m["name"])
            elif m["index"] is not None:
                steps.append(int(m["index"]))
            else:
                quoted = m["quoted"]
                if quoted.startswith("'"):
                    quoted = '"' + quoted[1:-1].replace('"', '\\"') + '"'
                steps.append(json.loads(quoted))
            pos = m.end()
        if not steps:
            raise ValueError(f"bad JSON path {text!r}: it names no key or index")
        return cls(text, tuple(steps))

    def find(self, document: Any) -> Any:
        """The value the path leads to; :class:`PathMissing` says where it stopped."""
        value = document
        walked = "$"
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(value, list):
                    raise PathMissing(f"{walked} is {_kind(value)}, not a list")
                if not -len(value) <= step < len(value):
                    raise PathMissing(f"{walked} has {plural(len(value), 'item')}, no [{step}]")
                value = value[step]
                walked += f"[{step}]"
            else:
                if not isinstance(value, Mapping):
                    raise PathMissing(f"{walked} is {_kind(value)}, not an object")
                if step not in value:
                    raise PathMissing(f"{walked} has no key {step!r}")
                value = value[step]
                walked += f".{step}"
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__
