"""The kinds of LLM judge: rubric judges and the built-in factories (pairwise re-exported).

A judge describes one stage rather than running it: it renders the exact
chat-completions requests it sends for a case (see
:mod:`pytest_llmfunnel.funnel.prompts`), parses an answer strictly, tells whether a
stored score can have come from it and, for a rubric judge, reduces its
repeats to one score. Running a judge (the answer store first, then the
backend) and turning its answers into a stage result is
:mod:`pytest_llmfunnel.funnel.stages.judge`, which re-exports everything here, so
``pytest_llmfunnel.judges`` stays the one place to import judges from.

Repeats: with ``repeats=k`` a judge sends k requests that differ only by their
repeat index, which is part of the cache key. With ``temperature=0`` the bodies
are identical on purpose: each repeat is its own cached sample, and sampling
noise (servers are rarely fully deterministic) is what the reducer averages.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pytest_llmfunnel.funnel import prompts
from pytest_llmfunnel.funnel.backend import (
    Completion,
    JudgeBackend,
    JudgeRequest,
    JudgeSubject,
    outputs_digest,
)
from pytest_llmfunnel.funnel.judge_answers import JudgeAnswer, PassFailAnswer, parse_answer
from pytest_llmfunnel.funnel.prompts import Scale, scale_bounds
from pytest_llmfunnel.funnel.stages.judge_base import (
    BaseJudge,
    CaseField,
    MissingFieldError,
    ShownField,
)
from pytest_llmfunnel.funnel.stages.pairwise_judge import PairwiseJudge, pairwise
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output

__all__ = [
    "BaseJudge",
    "CaseField",
    "MissingFieldError",
    "PairwiseJudge",
    "RubricJudge",
    "ShownField",
    "coherence",
    "correctness",
    "faithfulness",
    "pairwise",
    "relevance",
    "requests_for",
    "rubric",
    "tone",
]

Reducer = Literal["mean", "majority"]


@dataclass(eq=False)
class RubricJudge(BaseJudge):
    """An LLM judge that grades one output on one criterion against a rubric.

    Args:
        name: the stage name (unique within a funnel).
        criterion: what is graded, shown to the judge.
        rubric: the rubric text (trusted; see :mod:`pytest_llmfunnel.funnel.prompts`).
        scale: ``(low, high)`` or ``"pass_fail"`` (0 or 1).
        threshold: pass when the reduced score is at least this; ``None`` means
            three quarters up the scale (4 on 1-5) and 1 for pass/fail.
        repeats, reducer: ask ``repeats`` times and reduce by ``"mean"`` or
            ``"majority"`` (the median: with an odd number of repeats, a
            majority of repeats passes exactly when the median does).
        gating: whether a failure stops promotion (judges measure by default).
        must: a failure fails the test item.
        model: overrides the backend's default model.
        temperature, seed, max_tokens: sent as they are.
        fields: which optional case fields the judge is shown (when present).
        requires: fields that must be present (and are shown); a case without
            them gets an error verdict.
    """

    scale: Scale = (1, 5)
    threshold: float | None = None
    repeats: int = 1
    reducer: Reducer = "mean"
    gating: bool = False
    must: bool = False
    requires: Sequence[CaseField] = ()

    def __post_init__(self) -> None:
        low, high = scale_bounds(self.scale)
        problems = [
            (
                not (math.isfinite(low) and math.isfinite(high) and low < high),
                f"scale must be (low, high) with low < high, got {self.scale!r}",
            ),
            (
                not low <= self.pass_threshold <= high,
                f"threshold {self.pass_threshold:g} is outside the scale {low:g}-{high:g}",
            ),
            (self.repeats < 1, f"repeats must be at least 1, got {self.repeats}"),
            (
                self.reducer not in ("mean", "majority"),
                f"reducer must be 'mean' or 'majority', got {self.reducer!r}",
            ),
            (
                self.reducer == "majority" and self.repeats % 2 == 0,
                f"a majority needs an odd number of repeats, got {self.repeats}",
            ),
        ]
        for bad, problem in problems:
            if bad:
                raise ValueError(f"judge {self.name!r}: {problem}")

    @property
    def pass_threshold(self) -> float:
        """The threshold in force (the explicit one, or the scale's default)."""
        if self.threshold is not None:
            return float(self.threshold)
        low, high = scale_bounds(self.scale)
        return 1.0 if self.scale == "pass_fail" else low + 0.75 * (high - low)

    def requests(
        self, case: Case, output: str | Output, *, model: str, base_url: str, json_schema: bool
    ) -> list[JudgeRequest]:
        """The exact requests for one output (a string or an Output), one per repeat.

        Args:
            model, base_url: the backend's defaults (``self.model`` overrides).
            json_schema: whether the backend supports ``json_schema`` output;
                otherwise plain JSON mode is requested.

        Raises MissingFieldError when the case lacks a required field.
        """
        whole = Output.of(output)
        # Retrieved chunks are context too: a judge shown the context is shown
        # them, one fence each, and they satisfy a required context.
        chunks_only = bool(whole.context) and case.context is None
        requires = [r for r in self.requires if not (r == "context" and chunks_only)]
        context, expected = self._case_fields(case, requires)
        shows_context = "context" in (*self.fields, *self.requires)
        text = case.input_text()
        messages = prompts.render_messages(
            self.rubric,
            self.criterion,
            self.scale,
            input=text,
            output=whole.text,
            context=context,
            expected=expected,
            chunks=whole.context if shows_context else (),
            tool_calls=whole.tool_calls if "tool_calls" in self.fields else (),
        )
        answer = PassFailAnswer if self.scale == "pass_fail" else JudgeAnswer
        low, high = scale_bounds(self.scale)
        structured = None if whole.is_plain else whole
        subject = JudgeSubject(
            self.criterion, text, whole.text, context, expected, low, high, structured=structured
        )
        return self._requests(
            messages, answer, "judge_answer", subject, outputs_digest(whole),
            model=model, base_url=base_url, json_schema=json_schema, repeats=self.repeats,
        )

    def parse(
        self, completion: Completion, request: JudgeRequest | None = None
    ) -> tuple[float, str]:
        answer = parse_answer(completion, self.scale)
        return answer.score, answer.reasoning

    def valid_score(self, score: float) -> bool:
        if self.scale == "pass_fail":
            return score in (0.0, 1.0)
        low, high = scale_bounds(self.scale)
        return math.isfinite(score) and low <= score <= high

    def reduce(self, scores: Sequence[float]) -> float:
        """One score from the repeats' scores (mean, or median for a majority)."""
        if self.reducer == "majority":
            return float(statistics.median(scores))
        return statistics.fmean(scores)


def _builtin(criterion: str, kw: dict[str, Any], needs: tuple[CaseField, ...] = ()) -> RubricJudge:
    # A built-in judge is shown only the fields it grades against.
    kw.setdefault("fields", ())
    kw.setdefault("requires", needs)
    text = kw.pop("rubric", prompts.RUBRICS[criterion])
    return RubricJudge(kw.pop("name", criterion), criterion, text, **kw)


def relevance(**kw: Any) -> RubricJudge:
    """Does the output address the input? (Keyword arguments as for RubricJudge.)"""
    return _builtin("relevance", kw)


def coherence(**kw: Any) -> RubricJudge:
    """Is the output well organised and easy to follow?"""
    return _builtin("coherence", kw)


def faithfulness(**kw: Any) -> RubricJudge:
    """Is every claim supported by the case's ``context``? (Requires it.)"""
    return _builtin("faithfulness", kw, ("context",))


def correctness(**kw: Any) -> RubricJudge:
    """Does the output agree with the case's ``expected`` answer? (Requires it.)"""
    return _builtin("correctness", kw, ("expected",))


def tone(*, rubric_extra: str | None = None, **kw: Any) -> RubricJudge:
    """Is the tone appropriate? ``rubric_extra`` adds house rules to the rubric."""
    if rubric_extra:
        kw["rubric"] = f"{kw.get('rubric', prompts.TONE_RUBRIC)}\n\n{rubric_extra}"
    return _builtin("tone", kw)


def rubric(criterion: str, text: str, **kw: Any) -> RubricJudge:
    """A judge with a custom rubric ``text``; shown context/expected when present."""
    return RubricJudge(kw.pop("name", criterion), criterion, text, **kw)


def requests_for(
    judge: RubricJudge | PairwiseJudge,
    case: Case,
    outputs: Sequence[str | Output],
    backend: JudgeBackend,
) -> list[JudgeRequest]:
    """The exact requests ``judge`` sends ``backend`` about ``outputs`` of ``case``.

    The backend gives the default model, the base URL and whether it takes a
    ``json_schema`` response format: what a run sends, and what an explanation
    of the cache renders, are the same requests. Raises MissingFieldError.
    """
    return judge.requests(
        case,
        *outputs,
        model=backend.model,
        base_url=backend.base_url,
        json_schema=backend.supports_json_schema,
    )
