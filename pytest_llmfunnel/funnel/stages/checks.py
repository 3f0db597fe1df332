"""Built-in checks: cheap, deterministic pass/fail stages that gate promotion.

Every factory returns a :class:`Check`. Its default ``name`` describes its
arguments (``min_chars(20)``, ``contains(any: 'paris')``) so two checks of the
same kind stay distinguishable in reports; pass ``name=`` for a stable,
readable one. ``must=True`` makes a failure fail the test item outright.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.stages.base import Check, CheckOutcome
from pytest_llmfunnel.funnel.stages.injection import JUDGE_ADDRESSING_PATTERNS, not_addressing_judge
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.wording import plural

__all__ = [
    "JUDGE_ADDRESSING_PATTERNS",
    "check",
    "contains",
    "json_schema",
    "length_between",
    "matches",
    "max_chars",
    "min_chars",
    "not_addressing_judge",
    "not_contains",
    "not_empty",
    "not_matches",
    "valid_json",
]

CheckFn = Callable[[Case, Any], CheckOutcome | Awaitable[CheckOutcome]]

class _FnCheck(Check):
    """A check whose logic is a closure; the factories below build these."""

    def __init__(self, name: str, fn: CheckFn, *, must: bool) -> None:
        super().__init__(name, must=must)
        self._fn = fn

    def check(self, case: Case, output: str) -> CheckOutcome | Awaitable[CheckOutcome]:
        return self._fn(case, output)

    def __repr__(self) -> str:
        return f"<Check {self.name!r} must={self.must}>"


def _non_negative(n: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    return n


def not_empty(*, name: str | None = None, must: bool = False) -> Check:
    """Fail an output that is empty or only whitespace."""

    def fn(case: Case, output: str) -> CheckOutcome:
        if output.strip():
            return CheckOutcome(True)
        return CheckOutcome(False, "output is empty" if not output else "output is only whitespace")

    return _FnCheck(name or "not_empty", fn, must=must)


def length_between(lo: int, hi: int, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when ``lo <= len(output) <= hi`` (characters)."""
    _non_negative(lo, "lo")
    _non_negative(hi, "hi")
    if lo > hi:
        raise ValueError(f"length_between needs lo <= hi, got lo={lo}, hi={hi}")

    def fn(case: Case, output: str) -> CheckOutcome:
        n = len(output)
        if n < lo:
            return CheckOutcome(False, f"{plural(n, 'char')} < minimum {lo}")
        if n > hi:
            return CheckOutcome(False, f"{plural(n, 'char')} > maximum {hi}")
        return CheckOutcome(True, plural(n, "char"))

    return _FnCheck(name or f"length_between({lo}, {hi})", fn, must=must)


def min_chars(n: int, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output has at least ``n`` characters."""
    return length_between(_non_negative(n, "n"), 2**63, name=name or f"min_chars({n})", must=must)


def max_chars(n: int, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output has at most ``n`` characters."""
    return length_between(0, _non_negative(n, "n"), name=name or f"max_chars({n})", must=must)


def _regex_check(
    pattern: str, flags: int, *, wanted: bool, factory: str, name: str | None, must: bool
) -> Check:
    """``matches`` (``wanted=True``) or ``not_matches``; a bad regex fails here, early."""
    try:
        rx = re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"{factory}(): invalid regular expression {pattern!r}: {exc}") from exc

    def fn(case: Case, output: str) -> CheckOutcome:
        m = rx.search(output)
        if m is None:
            return CheckOutcome(not wanted, f"nothing matched /{truncate(pattern, 40)}/")
        quoted = truncate(m.group(0), 60, one_line=True)
        return CheckOutcome(wanted, f"matched {quoted!r} at char {m.start()}")

    return _FnCheck(name or f"{factory}(/{truncate(pattern, 40)}/)", fn, must=must)


def matches(pattern: str, flags: int = 0, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when ``re.search(pattern, output, flags)`` finds a match."""
    return _regex_check(pattern, flags, wanted=True, factory="matches", name=name, must=must)


def not_matches(
    pattern: str, flags: int = 0, *, name: str | None = None, must: bool = False
) -> Check:
    """Fail when ``re.search(pattern, output, flags)`` finds a match."""
    return _regex_check(pattern, flags, wanted=False, factory="not_matches", name=name, must=must)


def _needles(needles: tuple[str, ...], factory: str) -> tuple[str, ...]:
    if not needles or not all(isinstance(n, str) and n for n in needles):
        raise ValueError(f"{factory}() needs one or more non-empty strings, got {needles!r}")
    return needles


def _found(needles: tuple[str, ...], output: str, case_sensitive: bool) -> list[str]:
    if case_sensitive:
        return [n for n in needles if n in output]
    folded = output.casefold()
    return [n for n in needles if n.casefold() in folded]


def _listed(needles: list[str] | tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in needles)


def contains(
    *needles: str,
    mode: Literal["any", "all"] = "any",
    case_sensitive: bool = False,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when the output contains any (``mode="any"``) or all of ``needles``."""
    _needles(needles, "contains")
    if mode not in ("any", "all"):
        raise ValueError(f"contains(): mode must be 'any' or 'all', got {mode!r}")

    def fn(case: Case, output: str) -> CheckOutcome:
        found = _found(needles, output, case_sensitive)
        missing = [n for n in needles if n not in found]
        if mode == "all" and missing:
            return CheckOutcome(False, f"missing {_listed(missing)}")
        if mode == "any" and not found:
            return CheckOutcome(False, f"none of {_listed(needles)} found")
        return CheckOutcome(True, f"found {_listed(found)}")

    default = f"contains({mode}: {truncate(_listed(needles), 40)})"
    return _FnCheck(name or default, fn, must=must)


def not_contains(
    *needles: str, case_sensitive: bool = False, name: str | None = None, must: bool = False
) -> Check:
    """Fail when the output contains any of ``needles``."""
    _needles(needles, "not_contains")

    def fn(case: Case, output: str) -> CheckOutcome:
        found = _found(needles, output, case_sensitive)
        if found:
            return CheckOutcome(False, f"found {_listed(found)}")
        return CheckOutcome(True, f"none of {_listed(needles)} found")

    return _FnCheck(name or f"not_contains({truncate(_listed(needles), 40)})", fn, must=must)


_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)


def _json_text(output: str, allow_fenced: bool) -> str:
    """The JSON part of ``output``: the first fenced block if allowed and present."""
    if allow_fenced:
        m = _FENCE.search(output)
        if m is not None:
            return m.group(1)
    return output


def _json_error(text: str) -> str | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    return None


def valid_json(*, allow_fenced: bool = False, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output parses as JSON.

    With ``allow_fenced=True`` the first ```` ```json ```` (or bare ```` ``` ````)
    fenced block is parsed when there is one, so prose around it is tolerated.
    """

    def fn(case: Case, output: str) -> CheckOutcome:
        error = _json_error(_json_text(output, allow_fenced))
        return CheckOutcome(error is None, error or "valid JSON")

    return _FnCheck(name or "valid_json", fn, must=must)


def _validation_summary(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False)
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:limit]
    ]
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    return "; ".join(parts) + more


def json_schema(
    model: type[BaseModel],
    *,
    allow_fenced: bool = False,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when the output is JSON that validates against the pydantic ``model``.

    The reason lists the first three validation errors as ``path: message``.
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"json_schema() needs a pydantic BaseModel subclass, got {model!r}")

    def fn(case: Case, output: str) -> CheckOutcome:
        text = _json_text(output, allow_fenced)
        error = _json_error(text)
        if error is not None:
            return CheckOutcome(False, error)
        try:
            model.model_validate_json(text)
        except ValidationError as exc:
            return CheckOutcome(
                False, f"does not match {model.__name__}: {_validation_summary(exc)}"
            )
        return CheckOutcome(True, f"valid {model.__name__}")

    return _FnCheck(name or f"json_schema({model.__name__})", fn, must=must)


def check(
    fn: Callable[[Case, Any], object],
    name: str | None = None,
    must: bool = False,
    *,
    structured: bool = False,
) -> Check:
    """Turn ``fn(case, output) -> bool | (bool, reason) | CheckOutcome`` into a check.

    ``fn`` may be ``async def``: the funnel awaits it, and the checks of
    different cases run concurrently. ``output`` is the output's text; with
    ``structured=True`` it is the whole :class:`~pytest_llmfunnel.output.Output`
    (retrieved ``context``, ``tool_calls``, ``metadata``, ...).
    The default name is the function's ``__name__``; pass ``name=`` for lambdas.
    Any other return value (``None``, a string, a number) is an error result.
    """
    if not callable(fn):
        raise TypeError(f"check() needs a callable fn(case, output), got {fn!r}")
    default = getattr(fn, "__name__", type(fn).__name__)
    check_name = name or ("check" if default == "<lambda>" else default)

    def outcome(result: object) -> CheckOutcome:
        if isinstance(result, CheckOutcome):
            return result
        if isinstance(result, bool):
            return CheckOutcome(result)
        if isinstance(result, tuple) and len(result) == 2:
            passed, reason = result
            if isinstance(passed, bool) and isinstance(reason, str):
                return CheckOutcome(passed, reason)
        # raised, not returned: Check.run turns it into an error result naming the check
        raise TypeError(
            f"check {check_name!r} returned {type(result).__name__} "
            f"({truncate(repr(result), 40)}); "
            "return a bool, a (bool, reason) tuple or a CheckOutcome"
        )

    async def later(pending: Awaitable[object]) -> CheckOutcome:
        return outcome(await pending)

    async def awaited(case: Case, output: Any) -> CheckOutcome:
        # fn is called only when awaited: a coroutine never awaited is never made
        return outcome(await fn(case, output))  # type: ignore[misc]

    def wrapped(case: Case, output: Any) -> CheckOutcome | Awaitable[CheckOutcome]:
        result = fn(case, output)
        return later(result) if inspect.isawaitable(result) else outcome(result)

    made = _FnCheck(
        check_name, awaited if inspect.iscoroutinefunction(fn) else wrapped, must=must
    )
    made.structured = structured
    return made
