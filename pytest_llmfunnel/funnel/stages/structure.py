"""Checks of a structured output: JSON paths, latency, cost, retrieved sources.

Free and deterministic like the text checks, and gating like them. Each reads
the :class:`~pytest_llmfunnel.output.Output` a target returned (or a dataset
row pre-logged); a plain string output has no tool calls, no context and no
metadata, so a check that needs what the output does not carry (a latency, a
cost) is an error result that says so, never a pass or a fail.

What a case expects comes from the factory's arguments or, when they are left
out, from the case's metadata (any extra dataset column lands there), such as
``expected_sources`` (a list of chunk ids or sources). The tool-call checks
are in :mod:`~pytest_llmfunnel.funnel.stages.tool_checks`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Literal

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.stages.base import Check, CheckOutcome
from pytest_llmfunnel.funnel.stages.json_path import JsonPath, PathMissing
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output, ToolCall
from pytest_llmfunnel.wording import plural

__all__ = [
    "OutputCheck",
    "context_has_source",
    "cost_within",
    "json_path",
    "latency_within",
    "tool_calls_of",
]

OutputCheckFn = Callable[[Case, Output], CheckOutcome]
ArgsMode = Literal["exact", "subset"]
_MISSING: Any = object()


class OutputCheck(Check):
    """A check over the whole output; the factories below build these."""

    structured = True

    def __init__(self, name: str, fn: OutputCheckFn, *, must: bool) -> None:
        super().__init__(name, must=must)
        self._fn = fn

    def check(self, case: Case, output: str | Output) -> CheckOutcome:
        return self._fn(case, Output.of(output))

    def __repr__(self) -> str:
        return f"<Check {self.name!r} must={self.must}>"


def tool_calls_of(output: Output) -> tuple[ToolCall, ...]:
    """The output's tool calls; for a conversation, those its messages made, in order."""
    if output.tool_calls:
        return output.tool_calls
    return tuple(call for message in output.messages for call in message.tool_calls)


# --- JSON paths, latency, cost, sources --------------------------------------------------


def json_path(
    path: str,
    *,
    equals: Any = _MISSING,
    predicate: Callable[[Any], bool] | None = None,
    exists: bool = True,
    on: Literal["metadata", "text"] = "metadata",
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Assert on the value at ``path`` in the output's ``metadata`` or its text parsed as JSON.

    ``path`` is dotted with list indexes and quoted keys (``$.plan.steps[0]``,
    ``a["key.with.dots"]``), not full JSONPath. With neither ``equals`` nor
    ``predicate`` the check asks only that the path exists; ``exists=False``
    asks that it does not.
    """
    parsed = JsonPath.parse(path)
    if on not in ("metadata", "text"):
        raise ValueError(f"on must be 'metadata' or 'text', got {on!r}")
    if not exists and (equals is not _MISSING or predicate is not None):
        raise ValueError("exists=False takes neither equals= nor predicate=")

    def fn(case: Case, output: Output) -> CheckOutcome:
        if on == "metadata":
            document: Any = output.metadata
        else:
            try:
                document = json.loads(output.text)
            except json.JSONDecodeError as exc:
                return CheckOutcome(False, f"output is not JSON: {exc.msg} at char {exc.pos}")
        try:
            value = parsed.find(document)
        except PathMissing as exc:
            if not exists:
                return CheckOutcome(True, f"{path} is absent")
            return CheckOutcome(False, f"{path} not found: {exc}")
        if not exists:
            return CheckOutcome(False, f"{path} is present ({truncate(repr(value), 80)})")
        shown = truncate(json.dumps(value, sort_keys=True, default=repr), 80)
        if equals is not _MISSING and value != equals:
            return CheckOutcome(False, f"{path} is {shown}, expected {truncate(repr(equals), 80)}")
        if predicate is not None and predicate(value) is not True:
            return CheckOutcome(False, f"{path} is {shown}, which fails the predicate")
        return CheckOutcome(True, f"{path} is {shown}")

    return OutputCheck(name or f"json_path({path})", fn, must=must)


def _bound(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{what} must be a non-negative number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


def latency_within(seconds: float, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output's ``latency_s`` is at most ``seconds``.

    An output without a latency (the target did not report one, or a
    pre-logged row has none) is an error result, never a pass.
    """
    bound = _bound(seconds, "seconds")

    def fn(case: Case, output: Output) -> CheckOutcome:
        if output.latency_s is None:
            raise ValueError("the output carries no latency_s")
        ok = output.latency_s <= bound
        return CheckOutcome(
            ok, f"latency {output.latency_s:.3g} s {'<=' if ok else '>'} {bound:g} s"
        )

    return OutputCheck(name or f"latency_within({bound:g}s)", fn, must=must)


def cost_within(amount: float, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output's ``cost`` is at most ``amount`` (an output without one is an error)."""
    bound = _bound(amount, "amount")

    def fn(case: Case, output: Output) -> CheckOutcome:
        if output.cost is None:
            raise ValueError("the output carries no cost")
        ok = output.cost <= bound
        return CheckOutcome(ok, f"cost {output.cost:.4g} {'<=' if ok else '>'} {bound:g}")

    return OutputCheck(name or f"cost_within({bound:g})", fn, must=must)


def context_has_source(
    *sources: str,
    match: Literal["all", "any"] = "all",
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when the retrieved context holds the expected sources.

    A chunk counts when its ``id`` or its ``source`` equals an expected one.
    With no ``sources`` given, the case's ``expected_sources`` metadata is used.
    ``match="any"`` asks for at least one of them.
    """
    if match not in ("all", "any"):
        raise ValueError(f"match must be 'all' or 'any', got {match!r}")

    def fn(case: Case, output: Output) -> CheckOutcome:
        wanted = list(sources) or _expected_sources(case)
        have = {v for chunk in output.context for v in (chunk.id, chunk.source) if v is not None}
        found = [s for s in wanted if s in have]
        missing = [s for s in wanted if s not in have]
        ok = not missing if match == "all" else bool(found)
        n = len(output.context)
        if ok:
            return CheckOutcome(True, f"context ({plural(n, 'chunk')}) has {', '.join(found)}")
        return CheckOutcome(
            False,
            f"context ({plural(n, 'chunk')}) lacks {', '.join(missing)}"
            + (f" (has {', '.join(found)})" if found else ""),
        )

    shown = ",".join(sources) if sources else "expected_sources"
    return OutputCheck(name or f"context_has_source({shown})", fn, must=must)


def _expected_sources(case: Case) -> list[str]:
    raw = case.metadata.get("expected_sources", _MISSING)
    if raw is _MISSING:
        raise ValueError(f"case {case.id!r} has no expected_sources; pass the sources")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.lstrip().startswith("[") else [raw]
        except json.JSONDecodeError as exc:
            raise ValueError(f"case {case.id!r}: expected_sources is not JSON: {exc}") from None
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw) or not raw:
        raise ValueError(f"case {case.id!r}: expected_sources must be a non-empty list of strings")
    return raw
