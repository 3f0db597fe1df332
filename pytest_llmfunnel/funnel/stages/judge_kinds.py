"""The kinds of LLM judge: rubric judges and pairwise judges, and the built-in factories.

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
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from pytest_llmfunnel.funnel import prompts
from pytest_llmfunnel.funnel.backend import (
    Completion,
    JudgeBackend,
    JudgeRequest,
    JudgeSubject,
    outputs_digest,
)
from pytest_llmfunnel.funnel.judge_answers import (
    WINNER_SCORES,
    JudgeAnswer,
    PairwiseAnswer,
    PassFailAnswer,
    parse_answer,
    parse_pairwise_answer,
    shared_response_format,
)
from pytest_llmfunnel.funnel.prompts import Scale, scale_bounds
from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output

__all__ = [
    "MissingFieldError",
    "PairwiseJudge",
    "RubricJudge",
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
CaseField = Literal["context", "expected"]


class MissingFieldError(ValueError):
    """The case lacks a field (``context``, ``expected``) the judge needs."""



@dataclass(eq=False)
class _Judge:
    """What rubric and pairwise judges share: identity, sampling and shown fields."""

    kind: ClassVar[str] = "judge"

    name: str
    criterion: str
    rubric: str
    _: KW_ONLY
    model: str | None = None
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 512
    fields: Sequence[CaseField] = ("context", "expected")

    def _case_fields(
        self, case: Case, requires: Sequence[CaseField] = ()
    ) -> tuple[str | None, str | None]:
        """The case's context and expected as shown to this judge."""
        missing = [name for name in requires if getattr(case, name) is None]
        if missing:
            names = " and ".join(missing)
            raise MissingFieldError(
                f"judge {self.name!r} needs {names} but case {case.id!r} has none; "
                f"add {names} to the dataset row or drop this judge for it"
            )
        shown = (*self.fields, *requires)
        return (
            case.context if "context" in shown else None,
            case.expected if "expected" in shown else None,
        )

    def _body(
        self, messages: list[dict[str, str]], model: str, response: JSONObject
    ) -> JSONObject:
        return {
            "model": self.model or model,
            "messages": messages,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "response_format": response,
        }

    def _requests(
        self,
        messages: list[dict[str, str]],
        answer: type[BaseModel],
        answer_name: str,
        subject: JudgeSubject,
        digest: str | None,
        *,
        model: str,
        base_url: str,
        json_schema: bool,
        repeats: int = 1,
    ) -> list[JudgeRequest]:
        """The requests for rendered ``messages``: one per repeat, differing by index only.

        Every judge kind ends here, so the body (and with it the cache key)
        is built the same way for all of them.
        """
        response = shared_response_format(answer, answer_name, json_schema=json_schema)
        body = self._body(messages, model, response)
        return [
            JudgeRequest(
                body=body, base_url=base_url, repeat=i, subject=subject, output_digest=digest
            )
            for i in range(repeats)
        ]

    def parse(
        self, completion: Completion, request: JudgeRequest | None = None
    ) -> tuple[float, str]:
        """``(score as stored, reasoning)`` of the answer to ``request``; raises JudgeParseError."""
        raise NotImplementedError

    def valid_score(self, score: float) -> bool:
        """Whether a stored score can have come from this judge."""
        raise NotImplementedError


@dataclass(eq=False)
class RubricJudge(_Judge):
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


@dataclass(eq=False)
class PairwiseJudge(_Judge):
    """Compares two variants' outputs on the same case, judging both orders.

    Each order is one request (A=first, B=second, then swapped); the answers
    are mapped back to variant names and orders that disagree count as a tie,
    which keeps the judge's position bias out of the result. A comparison
    measures; it never gates promotion.
    """

    gating: ClassVar[bool] = False
    must: ClassVar[bool] = False

    def requests(
        self,
        case: Case,
        output_a: str | Output,
        output_b: str | Output,
        *,
        model: str,
        base_url: str,
        json_schema: bool,
    ) -> list[JudgeRequest]:
        """Two requests: ``output_a`` shown as A, then ``output_b`` shown as A."""
        context, expected = self._case_fields(case)
        text = case.input_text()
        whole_a, whole_b = Output.of(output_a), Output.of(output_b)
        digests = (outputs_digest(whole_a, whole_b), outputs_digest(whole_b, whole_a))
        output_a, output_b = whole_a.text, whole_b.text
        result = []
        for (first, second), digest in zip(
            ((output_a, output_b), (output_b, output_a)), digests, strict=True
        ):
            messages = prompts.render_pairwise_messages(
                self.rubric,
                self.criterion,
                input=text,
                output_a=first,
                output_b=second,
                context=context,
                expected=expected,
            )
            subject = JudgeSubject(
                self.criterion, text, first, context, expected, 0.0, 1.0, output_b=second
            )
            result += self._requests(
                messages, PairwiseAnswer, "pairwise_answer", subject, digest,
                model=model, base_url=base_url, json_schema=json_schema,
            )
        return result

    def parse(
        self, completion: Completion, request: JudgeRequest | None = None
    ) -> tuple[float, str]:
        answer = parse_pairwise_answer(completion)
        return WINNER_SCORES[answer.winner], answer.reasoning

    def valid_score(self, score: float) -> bool:
        return score in WINNER_SCORES.values()


def pairwise(criterion: str = "overall", rubric: str | None = None, **kw: Any) -> PairwiseJudge:
    """A pairwise judge; a built-in criterion's rubric is applied to both outputs."""
    if rubric is None and criterion in prompts.RUBRICS:
        rubric = (
            "Apply this standard to each output and prefer the one that meets it better:\n"
            + prompts.RUBRICS[criterion]
        )
    text = rubric if rubric is not None else prompts.PAIRWISE_RUBRIC
    return PairwiseJudge(kw.pop("name", f"pairwise_{criterion}"), criterion, text, **kw)


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
