"""Checks of the tool calls a structured output made.

Called or not, arguments valid against a schema, arguments as expected, and
an order-insensitive precision/recall/F1 against the expected calls. Expected
calls come from the factory's arguments or, when left out, from the case's
``expected_tool_calls`` metadata (a list of ``{"name": ..., "arguments":
{...}}``, or that list as a JSON string in a CSV cell).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.stages.base import Check, CheckOutcome, Scorer
from pytest_llmfunnel.funnel.stages.structure import OutputCheck, tool_calls_of
from pytest_llmfunnel.models import Case, StageResult
from pytest_llmfunnel.output import Output, ToolCall
from pytest_llmfunnel.wording import plural

__all__ = [
    "args_match",
    "expected_tool_calls",
    "match_calls",
    "precision_recall_f1",
    "tool_args_match",
    "tool_args_valid",
    "tool_called",
    "tool_calls_f1",
    "tool_not_called",
]

ArgsMode = Literal["exact", "subset"]
_MISSING: Any = object()


@functools.cache
def _calls_adapter() -> TypeAdapter[list[ToolCall]]:
    # Built on first use: importing the checks stays cheap at start-up.
    return TypeAdapter(list[ToolCall])


def _names(calls: Sequence[ToolCall]) -> str:
    return ", ".join(call.name for call in calls) or "none"


# --- called / not called ----------------------------------------------------------------


def tool_called(
    tool: str,
    *,
    times: int | None = None,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when the output called ``tool`` (exactly ``times`` times when given)."""
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError(f"times must be a non-negative integer, got {times!r}")

    def fn(case: Case, output: Output) -> CheckOutcome:
        calls = tool_calls_of(output)
        n = sum(call.name == tool for call in calls)
        if times is None:
            if n:
                return CheckOutcome(True, f"called {tool} {plural(n, 'time')}")
            return CheckOutcome(False, f"{tool} was not called (calls: {_names(calls)})")
        if n == times:
            return CheckOutcome(True, f"called {tool} {plural(n, 'time')}")
        return CheckOutcome(
            False, f"called {tool} {plural(n, 'time')}, expected {times} (calls: {_names(calls)})"
        )

    default = f"tool_called({tool})" if times is None else f"tool_called({tool}, times={times})"
    return OutputCheck(name or default, fn, must=must)


def tool_not_called(tool: str, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output never called ``tool``."""

    def fn(case: Case, output: Output) -> CheckOutcome:
        n = sum(call.name == tool for call in tool_calls_of(output))
        if n:
            return CheckOutcome(False, f"{tool} was called {plural(n, 'time')}")
        return CheckOutcome(True, f"{tool} was not called")

    return OutputCheck(name or f"tool_not_called({tool})", fn, must=must)


# --- arguments ---------------------------------------------------------------------------


def _schema_validator(schema: type[BaseModel] | Mapping[str, Any]) -> Callable[[Any], str | None]:
    """A function giving the first problems of a value against ``schema``, or None."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        model = schema

        def by_model(value: Any) -> str | None:
            try:
                model.model_validate(value)
            except ValidationError as exc:
                problems = [
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors()[:3]
                ]
                return "; ".join(problems)
            return None

        return by_model
    if isinstance(schema, Mapping):
        try:
            # Start-up: a JSON Schema validator is an optional extra, loaded
            # only for a check that is given a JSON Schema.
            import jsonschema
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "validating tool arguments against a JSON Schema needs the 'jsonschema' "
                "package: pip install 'pytest-llmfunnel[jsonschema]' (or pass a pydantic model)"
            ) from exc
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(dict(schema))
        validator = validator_cls(schema)

        def by_schema(value: Any) -> str | None:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))[:3]
            if not errors:
                return None
            return "; ".join(
                f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors
            )

        return by_schema
    raise TypeError(f"a schema is a pydantic model or a JSON Schema mapping, got {schema!r}")


def tool_args_valid(
    tool: str,
    schema: type[BaseModel] | Mapping[str, Any],
    *,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when every call of ``tool`` has arguments valid against ``schema``.

    ``schema`` is a pydantic model or a JSON Schema (a mapping; needs the
    ``jsonschema`` extra). An output that never called ``tool`` passes, as
    there is nothing to validate: add :func:`tool_called` to require a call.
    """
    problems_of = _schema_validator(schema)
    label = schema.__name__ if isinstance(schema, type) else "schema"

    def fn(case: Case, output: Output) -> CheckOutcome:
        calls = [call for call in tool_calls_of(output) if call.name == tool]
        if not calls:
            return CheckOutcome(True, f"{tool} was not called: nothing to validate")
        for i, call in enumerate(calls, 1):
            problems = problems_of(call.arguments)
            if problems is not None:
                return CheckOutcome(
                    False, f"call {i} of {tool}: arguments do not match {label}: {problems}"
                )
        return CheckOutcome(True, f"{plural(len(calls), 'call')} of {tool} valid against {label}")

    return OutputCheck(name or f"tool_args_valid({tool})", fn, must=must)


def _subset(expected: Any, actual: Any) -> bool:
    """``expected`` is contained in ``actual``: mappings by key, recursively; else equal."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def args_match(expected: Mapping[str, Any], actual: Mapping[str, Any], mode: ArgsMode) -> bool:
    """Whether ``actual`` arguments match ``expected`` (``exact`` or ``subset``)."""
    return dict(expected) == dict(actual) if mode == "exact" else _subset(expected, actual)


def _field_problem(field: str, want: Any, args: Mapping[str, Any]) -> str | None:
    if field not in args:
        return f"{field} is missing"
    got = args[field]
    if callable(want):
        try:
            ok = want(got)
        except Exception as exc:  # a predicate that raises says no, with its reason
            return (
                f"{field}={truncate(repr(got), 60)}: predicate raised {type(exc).__name__}: {exc}"
            )
        return None if ok is True else f"{field}={truncate(repr(got), 60)} fails its predicate"
    if got != want:
        return f"{field}={truncate(repr(got), 60)}, expected {truncate(repr(want), 60)}"
    return None


def tool_args_match(
    tool: str,
    expected: Mapping[str, Any] | None = None,
    *,
    mode: ArgsMode = "subset",
    fields: Mapping[str, Any] | None = None,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when some call of ``tool`` has the expected arguments.

    ``expected`` is compared ``exact`` (equal objects) or ``subset`` (every
    expected key present with an equal value, nested objects likewise). When
    left out, the arguments of the case's ``expected_tool_calls`` entry for
    ``tool`` are used. ``fields`` checks single arguments, each against a
    value or a predicate (``{"days": lambda d: 1 <= d <= 7}``).
    """
    if mode not in ("exact", "subset"):
        raise ValueError(f"mode must be 'exact' or 'subset', got {mode!r}")

    def fn(case: Case, output: Output) -> CheckOutcome:
        calls = [call for call in tool_calls_of(output) if call.name == tool]
        want = expected
        if want is None and fields is None:
            want = _expected_args(case, tool)
            if want is None:  # the case expects no call of this tool
                if calls:
                    return CheckOutcome(
                        False, f"{tool} was called, but the case expects no call of it"
                    )
                return CheckOutcome(True, f"{tool} not called, as the case expects")
        if not calls:
            return CheckOutcome(False, f"{tool} was not called")
        problems: list[str] = []
        for call in calls:
            field_problems = [
                p for f, w in (fields or {}).items() if (p := _field_problem(f, w, call.arguments))
            ]
            if want is not None and not args_match(want, call.arguments, mode):
                field_problems.insert(
                    0,
                    f"arguments {truncate(json.dumps(call.arguments, sort_keys=True), 120)} "
                    f"do not {'equal' if mode == 'exact' else 'contain'} "
                    f"{truncate(json.dumps(dict(want), sort_keys=True), 120)}",
                )
            if not field_problems:
                return CheckOutcome(True, f"{tool} called with the expected arguments")
            problems.append("; ".join(field_problems))
        return CheckOutcome(False, f"no call of {tool} matches: {problems[0]}")

    return OutputCheck(name or f"tool_args_match({tool})", fn, must=must)


def _expected_args(case: Case, tool: str) -> Mapping[str, Any] | None:
    """The arguments of the case's expected call of ``tool``; None when it expects none."""
    for call in expected_tool_calls(case):
        if call.name == tool:
            return call.arguments
    return None


def expected_tool_calls(case: Case) -> tuple[ToolCall, ...]:
    """The case's ``expected_tool_calls`` metadata as tool calls (a JSON string is parsed)."""
    raw = case.metadata.get("expected_tool_calls", _MISSING)
    if raw is _MISSING:
        raise ValueError(f"case {case.id!r} has no expected_tool_calls")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"case {case.id!r}: expected_tool_calls is not JSON: {exc}") from None
    if not isinstance(raw, list):
        raise ValueError(f"case {case.id!r}: expected_tool_calls must be a list of calls")
    try:
        return tuple(_calls_adapter().validate_python(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ValueError(
            f"case {case.id!r}: expected_tool_calls: {where}: {first['msg']}"
        ) from None


# --- precision / recall / F1 -----------------------------------------------------------


def match_calls(
    expected: Sequence[ToolCall], actual: Sequence[ToolCall], mode: ArgsMode | None
) -> int:
    """The most expected calls matched one-to-one by actual calls, in any order.

    Two calls match when their names are equal and, unless ``mode`` is None,
    their arguments match in that mode. A maximum bipartite matching (Kuhn's
    augmenting paths): ``subset`` matching is not an equivalence, so a greedy
    pairing could miss the best one.
    """
    edges = [
        [
            j
            for j, got in enumerate(actual)
            if got.name == want.name
            and (mode is None or args_match(want.arguments, got.arguments, mode))
        ]
        for want in expected
    ]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(augment(i, set()) for i in range(len(expected)))


def precision_recall_f1(matched: int, n_expected: int, n_actual: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``matched`` pairs; no calls expected and none made is 1, 1, 1."""
    if n_expected == 0 and n_actual == 0:
        return 1.0, 1.0, 1.0
    precision = matched / n_actual if n_actual else 0.0
    recall = matched / n_expected if n_expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class _ToolCallsF1(Scorer):
    structured = True

    def __init__(
        self,
        name: str,
        expected: Sequence[ToolCall] | None,
        mode: ArgsMode | None,
        threshold: float | None,
        must: bool,
    ) -> None:
        super().__init__(name, threshold=threshold, must=must)
        self._expected = expected
        self._mode = mode

    def _scores(self, case: Case, output: Output) -> tuple[float, str]:
        want = self._expected if self._expected is not None else expected_tool_calls(case)
        got = tool_calls_of(output)
        matched = match_calls(want, got, self._mode)
        p, r, f1 = precision_recall_f1(matched, len(want), len(got))
        detail = (
            f"F1 {f1:.3f} (precision {p:.3f}: {matched} of {len(got)} calls expected; "
            f"recall {r:.3f}: {matched} of {len(want)} expected calls made)"
        )
        return f1, detail

    def score(self, case: Case, output: str | Output) -> float:
        return self._scores(case, Output.of(output))[0]

    def run(self, case: Case, output: str | Output) -> StageResult:
        """Score once, with precision and recall in the reason."""
        try:
            f1, detail = self._scores(case, Output.of(output))
        except Exception as exc:
            return self._raised(exc)
        result = self._result(f1)
        if result.status == "measured":
            return replace(result, reason=detail)
        return replace(result, reason=f"{detail}; {result.reason}")

    async def arun(self, case: Case, output: str | Output) -> StageResult:
        return self.run(case, output)  # nothing to await: the matching is local


def tool_calls_f1(
    expected: Sequence[ToolCall | Mapping[str, Any]] | None = None,
    *,
    args: ArgsMode | None = "subset",
    threshold: float | None = None,
    name: str | None = None,
    must: bool = False,
) -> Scorer:
    """Order-insensitive F1 of the output's tool calls against the expected calls.

    A scorer: it measures, and with ``threshold`` it gates (F1 ≥ threshold).
    The reason gives precision and recall. ``args`` says how arguments must
    match (``"exact"``, ``"subset"``, or ``None`` for names only). Expected
    calls default to the case's ``expected_tool_calls``.
    """
    if args not in ("exact", "subset", None):
        raise ValueError(f"args must be 'exact', 'subset' or None, got {args!r}")
    if threshold is not None and not (0.0 <= threshold <= 1.0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be within [0, 1], got {threshold!r}")
    calls = None if expected is None else tuple(ToolCall.model_validate(c) for c in expected)
    return _ToolCallsF1(name or "tool_calls_f1", calls, args, threshold, must)
