"""The other half of the contract with the judge: the answer it must give, and reading it.

The answer models (:class:`JudgeAnswer`, :class:`PassFailAnswer`,
:class:`PairwiseAnswer`), the ``response_format`` derived from them, and the
strict parsers. An answer is accepted only when the whole of it (or the whole
of one ```json fence) is one JSON object of the right shape; the text is never
searched for the first ``{...}``, since that would let a verdict quoted from
the output under test win. The prompts that ask for it are in
:mod:`pytest_llmfunnel.funnel.prompts`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.backend import Completion
from pytest_llmfunnel.funnel.prompts import Scale, scale_bounds
from pytest_llmfunnel.jsontypes import JSONObject


class JudgeAnswer(BaseModel):
    """A rubric judge's structured answer; reasoning comes first on purpose."""

    # strict: "4" or true is not a score; 4 and 4.0 are.
    model_config = ConfigDict(strict=True)

    reasoning: str
    score: float


class PassFailAnswer(BaseModel):
    """The answer schema a pass/fail judge sends: the score is 0 or 1, nothing else.

    Only the schema differs from :class:`JudgeAnswer` (which parses both): an
    endpoint that enforces structured output can then answer nothing the
    parser would reject as off the scale.
    """

    model_config = ConfigDict(strict=True, defer_build=True)  # built on first use

    reasoning: str
    score: Literal[0, 1]


class PairwiseAnswer(BaseModel):
    """A pairwise judge's structured answer, about the outputs as shown (A, B)."""

    model_config = ConfigDict(strict=True, defer_build=True)  # built on first use

    reasoning: str
    winner: Literal["A", "B", "tie"]


#: How a pairwise winner is stored in ``CachedAnswer.score``.
WINNER_SCORES: dict[str, float] = {"A": 1.0, "tie": 0.5, "B": 0.0}


class JudgeParseError(Exception):
    """A judge answer that cannot be used; ``cause`` is a short label."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def strict_schema(model: type[BaseModel]) -> JSONObject:
    """The JSON schema of ``model`` in the form strict structured outputs accept.

    Titles are dropped so the schema (part of every cache key) stays small and
    does not change with cosmetic pydantic changes; every property is required.
    Each call returns a fresh copy, so a caller may change it freely.
    """
    schema: JSONObject = _copy_json(_strict_schema(model))
    return schema


def _copy_json(value: Any) -> Any:
    # A deep copy of JSON-shaped data, several times cheaper than copy.deepcopy.
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


@functools.cache
def _strict_schema(model: type[BaseModel]) -> JSONObject:
    # Generating a schema costs about 0.3 ms and every judge request needs
    # one: once per answer model is enough (answer models are classes defined
    # once, so the cache stays as small as their number).
    schema = model.model_json_schema()
    return _strict(schema, schema.get("$defs", {}))


def _strict(node: JSONObject, defs: JSONObject) -> JSONObject:
    # Nested models (a list of claims) are inlined: strict structured outputs
    # want every object closed and fully required, and a $ref to the dropped
    # $defs would leave the schema dangling.
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    if "properties" in node:
        props = {name: _strict(prop, defs) for name, prop in node["properties"].items()}
        return {
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }
    out = {k: v for k, v in node.items() if k != "title"}
    if "items" in out:
        out["items"] = _strict(out["items"], defs)
    if "anyOf" in out:
        out["anyOf"] = [_strict(option, defs) for option in out["anyOf"]]
    return out


@functools.cache
def shared_response_format(
    model: type[BaseModel], name: str, *, json_schema: bool
) -> JSONObject:
    """:func:`response_format`, built once and shared by every request that uses it.

    Request bodies are never changed in place (a fallback builds a new body),
    so one copy serves them all; building it per request cost about a tenth
    of a cached verdict's time. Treat the result as read-only.
    """
    return response_format(model, name, json_schema=json_schema)


def response_format(model: type[BaseModel], name: str, *, json_schema: bool) -> JSONObject:
    """``json_schema`` structured output when supported, else plain JSON mode (a fresh copy)."""
    if not json_schema:
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "strict": True, "schema": strict_schema(model)},
    }


# A whole answer wrapped in one ```json fence; text around the fence does not match.
_FENCED = re.compile(r"\A```(?:json)?[ \t]*\n(?P<body>.*?)\n?[ \t]*```\Z", re.DOTALL | re.I)


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> JSONObject:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _DuplicateKeyError(f"key {key!r} appears more than once")
    return dict(pairs)


def _load_object(completion: Completion) -> JSONObject:
    """The answer as one JSON object, without ever searching the text for one."""
    if completion.finish_reason == "length":
        raise JudgeParseError(
            "truncated",
            "the judge's answer was cut off (finish_reason=length); raise the judge's max_tokens",
        )
    text = (completion.content or "").strip()
    if not text:
        raise JudgeParseError("empty", "the judge returned no content")
    fenced = _FENCED.match(text)
    if fenced:
        text = fenced.group("body").strip()
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as exc:
        raise JudgeParseError("schema", f"the judge's JSON answer is ambiguous: {exc}") from exc
    except ValueError as exc:
        raise JudgeParseError(
            "not_json",
            f"the judge's answer is not a single JSON object ({exc}): {truncate(text, 120)!r}",
        ) from exc
    if not isinstance(value, dict):
        raise JudgeParseError(
            "schema", f"the judge's answer is JSON but not an object: {truncate(text, 120)!r}"
        )
    return value


def _validate(model: type[BaseModel], value: JSONObject, shape: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()
        )
        raise JudgeParseError("schema", f"the judge's answer is not {shape} ({problems})") from exc


def parse_answer(completion: Completion, scale: Scale) -> JudgeAnswer:
    """Parse a rubric judge's answer; raise JudgeParseError saying what is wrong."""
    answer: JudgeAnswer = _validate(
        JudgeAnswer, _load_object(completion), '{"reasoning": string, "score": number}'
    )
    if not math.isfinite(answer.score):
        raise JudgeParseError("non_finite", f"the judge's score is not finite ({answer.score!r})")
    low, high = scale_bounds(scale)
    if scale == "pass_fail" and answer.score not in (0.0, 1.0):
        raise JudgeParseError(
            "out_of_scale", f"a pass/fail score must be 0 or 1, got {answer.score:g}"
        )
    if not low <= answer.score <= high:
        raise JudgeParseError(
            "out_of_scale",
            f"the judge's score {answer.score:g} is outside the scale {low:g}-{high:g}",
        )
    return answer


def parse_pairwise_answer(completion: Completion) -> PairwiseAnswer:
    """Parse a pairwise judge's answer; raise JudgeParseError saying what is wrong."""
    shape = '{"reasoning": string, "winner": "A" | "B" | "tie"}'
    answer: PairwiseAnswer = _validate(PairwiseAnswer, _load_object(completion), shape)
    return answer


def parse_structured(completion: Completion, model: type[BaseModel], shape: str) -> Any:
    """The answer validated as ``model`` (for judges with their own answer form).

    As strict as :func:`parse_answer`: the whole answer (or the whole of one
    ```json fence) must be one JSON object; ``shape`` describes it in errors.
    """
    return _validate(model, _load_object(completion), shape)
