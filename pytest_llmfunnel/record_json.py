"""The per-case record's JSON forms: what crosses the xdist wire and goes into files.

:class:`~pytest_llmfunnel.record.CaseRecord` and its stages turn into these
with ``to_json()`` and are read back, validated, with ``from_json()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from typing_extensions import NotRequired, TypedDict

from pytest_llmfunnel.models import StageKind, StageStatus


class _StageFields(TypedDict):
    """The fields every stage's JSON form has."""

    stage: str
    kind: StageKind
    status: StageStatus
    gating: bool
    must: bool
    score: float | None
    samples: tuple[float, ...]
    reason: str
    judge: str | None
    scale: tuple[float, float] | None
    threshold: float | None
    requests: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int


class StageJSON(_StageFields, total=False):
    """:meth:`StageRecord.to_json`: the stage's fields; ``pair`` only on a comparison,
    ``reused`` only on a verdict reused from the baseline."""

    pair: tuple[str, str]
    reused: bool


class BaselineJSON(TypedDict):
    """A record's nested ``baseline``: its own fields without dataset, path and tags."""

    case: str
    variant: str
    fingerprint: str
    output: str | None
    promoted: bool
    dropped_at: str | None
    error: str | None
    stages: list[StageJSON]
    # Only when set: a plain output's record keeps the form it always had.
    structured: NotRequired[Mapping[str, object]]  # Output.model_dump(exclude_defaults)
    target_errors: NotRequired[int]
    repeat_outputs: NotRequired[Sequence[str]]  # Output.digest() of each target repeat


class CaseJSON(BaselineJSON):
    """:meth:`CaseRecord.to_json`: the xdist wire form and the files' form."""

    dataset: str
    path: str
    tags: tuple[str, ...]
    input: str
    baseline: BaselineJSON | None
    funnel: NotRequired[str]  # the funnel's name=, only when given
