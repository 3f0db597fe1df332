"""LLM judge stages: rubric judges, pairwise judges, and how one is executed.

A judge renders the exact chat-completions body it sends (see
:mod:`pytest_llmfunnel.prompts`), asks the answer store first, then the
backend, and parses the answer strictly: an answer that cannot be parsed is
retried a few times and then becomes an *error* verdict, never a pass or fail.

Two decisions worth knowing:

* **Pass/fail is derived at read time** from the (cached) score and the
  threshold in force, so changing a threshold re-decides every case for free.
* **Usage counts only requests actually sent** in this run. A cache hit costs
  nothing now; what it cost when it was recorded stays in the store/lockfile.

Repeats: with ``repeats=k`` a judge sends k requests that differ only by their
repeat index, which is part of the cache key. With ``temperature=0`` the bodies
are identical on purpose: each repeat is its own cached sample, and sampling
noise (servers are rarely fully deterministic) is what the reducer averages.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

from pytest_llmfunnel import prompts
from pytest_llmfunnel.backend import (
    AnswerStore,
    CachedAnswer,
    CacheMissError,
    Completion,
    JudgeBackend,
    JudgeCallError,
    JudgeRequest,
    JudgeSubject,
)
from pytest_llmfunnel.models import NO_USAGE, Case, StageResult, Usage, Verdict
from pytest_llmfunnel.prompts import (
    WINNER_SCORES,
    JudgeAnswer,
    JudgeParseError,
    PairwiseAnswer,
    Scale,
    parse_answer,
    parse_pairwise_answer,
    scale_bounds,
    shared_response_format,
)

# The answer format (defined next to the prompts) is re-exported as part of the stage API.
__all__ = [
    "JudgeAnswer",
    "JudgeParseError",
    "MissingFieldError",
    "PairwiseAnswer",
    "PairwiseJudge",
    "RubricJudge",
    "coherence",
    "correctness",
    "faithfulness",
    "pairwise",
    "parse_answer",
    "parse_pairwise_answer",
    "relevance",
    "rubric",
    "run_judge",
    "run_pairwise",
    "tone",
]

Reducer = Literal["mean", "majority"]
CaseField = Literal["context", "expected"]
REASON_LIMIT = 500


class MissingFieldError(ValueError):
    """The case lacks a field (``context``, ``expected``) the judge needs."""


def truncate(text: str, limit: int = REASON_LIMIT) -> str:
    """Shorten ``text`` to ``limit`` characters at a word boundary, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


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
        self, messages: list[dict[str, str]], model: str, response: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "model": self.model or model,
            "messages": messages,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "response_format": response,
        }

    def parse(self, completion: Completion) -> tuple[float, str]:
        """``(score as stored, reasoning)``; raises JudgeParseError."""
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
        rubric: the rubric text (trusted; see :mod:`pytest_llmfunnel.prompts`).
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
        self, case: Case, output: str, *, model: str, base_url: str, json_schema: bool
    ) -> list[JudgeRequest]:
        """The exact requests for one output, one per repeat.

        Args:
            model, base_url: the backend's defaults (``self.model`` overrides).
            json_schema: whether the backend supports ``json_schema`` output;
                otherwise plain JSON mode is requested.

        Raises MissingFieldError when the case lacks a required field.
        """
        context, expected = self._case_fields(case, self.requires)
        text = case.input_text()
        messages = prompts.render_messages(
            self.rubric,
            self.criterion,
            self.scale,
            input=text,
            output=output,
            context=context,
            expected=expected,
        )
        answer_format = shared_response_format(JudgeAnswer, "judge_answer", json_schema=json_schema)
        body = self._body(messages, model, answer_format)
        low, high = scale_bounds(self.scale)
        subject = JudgeSubject(self.criterion, text, output, context, expected, low, high)
        return [
            JudgeRequest(body=body, base_url=base_url, repeat=i, subject=subject)
            for i in range(self.repeats)
        ]

    def parse(self, completion: Completion) -> tuple[float, str]:
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
        output_a: str,
        output_b: str,
        *,
        model: str,
        base_url: str,
        json_schema: bool,
    ) -> list[JudgeRequest]:
        """Two requests: ``output_a`` shown as A, then ``output_b`` shown as A."""
        context, expected = self._case_fields(case)
        text = case.input_text()
        response = shared_response_format(
            PairwiseAnswer, "pairwise_answer", json_schema=json_schema
        )
        result = []
        for first, second in ((output_a, output_b), (output_b, output_a)):
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
            body = self._body(messages, model, response)
            result.append(JudgeRequest(body=body, base_url=base_url, subject=subject))
        return result

    def parse(self, completion: Completion) -> tuple[float, str]:
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


# Execution ------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """One request's result: an answer (from the store or the backend) or an error."""

    score: float | None = None
    reasoning: str = ""
    judge: str = ""
    usage: Usage | None = None
    requests: int = 0
    cache_hit: bool = False
    error: str | None = None


async def _answer(
    request: JudgeRequest,
    judge: _Judge,
    case_id: str,
    backend: JudgeBackend,
    store: AnswerStore,
    parse_retries: int,
) -> _Outcome:
    stage = judge.name
    try:
        cached = store.get(request, case_id=case_id, stage=stage)
    except CacheMissError:
        return _Outcome(
            error=f"replay-only: no cached verdict for case {case_id}, stage {stage}; "
            "record one with --llm-funnel-cache=read-write"
        )
    if cached is not None:
        if not judge.valid_score(cached.score):
            return _Outcome(
                error=f"the cached answer for case {case_id}, stage {stage} has an invalid "
                f"score ({cached.score!r}); remove it from the cache or lockfile and re-record"
            )
        return _Outcome(cached.score, cached.reasoning, cached.judge, cache_hit=True)
    usage, sent = NO_USAGE, 0
    last: JudgeParseError | None = None
    while sent <= parse_retries:
        sent += 1
        try:
            completion = await backend.complete(request)
        except JudgeCallError as exc:
            error = f"judge call failed ({exc.cause}): {exc}"
            return _Outcome(usage=usage, requests=sent, error=error)
        usage += completion.usage
        try:
            score, reasoning = judge.parse(completion)
        except JudgeParseError as exc:
            last = exc
            continue
        answer = CachedAnswer(
            score=score,
            reasoning=reasoning,
            usage=completion.usage,
            model=completion.model,
            judge=backend.identity,
        )
        store.put(request, answer, case_id=case_id, stage=stage)
        return _Outcome(score, reasoning, backend.identity, usage, sent)
    assert last is not None
    error = f"the judge's answer could not be parsed after {sent} attempts ({last.cause}): {last}"
    return _Outcome(usage=usage, requests=sent, error=error)


async def _ask(
    judge: RubricJudge | PairwiseJudge,
    case: Case,
    outputs: tuple[str, ...],
    backend: JudgeBackend,
    store: AnswerStore,
    parse_retries: int,
) -> tuple[list[_Outcome], dict[str, Any], str | None]:
    """Render and answer every request concurrently: outcomes, Verdict totals, first error."""
    totals: dict[str, Any] = {"criterion": judge.criterion, "judge": backend.identity}
    try:
        requests = judge.requests(
            case,
            *outputs,
            model=backend.model,
            base_url=backend.base_url,
            json_schema=backend.supports_json_schema,
        )
    except MissingFieldError as exc:
        return [], totals, str(exc)
    answers = [_answer(r, judge, case.id, backend, store, parse_retries) for r in requests]
    # Most judges ask once: a task and a turn of the event loop for that one
    # request would cost about a quarter of a cached verdict's time.
    single = len(answers) == 1
    outcomes = [await answers[0]] if single else list(await asyncio.gather(*answers))
    usage = NO_USAGE
    for outcome in outcomes:
        if outcome.usage is not None:
            usage += outcome.usage
    labels = dict.fromkeys(o.judge for o in outcomes if o.judge) or {backend.identity: None}
    totals.update(
        # Every cached answer carries its own copy of the judge's name; a run
        # keeps a verdict per case, so keep one copy.
        judge=sys.intern(" + ".join(labels)),
        usage=usage,
        requests=sum(o.requests for o in outcomes),
        cache_hits=sum(o.cache_hit for o in outcomes),
    )
    what = "repeat" if isinstance(judge, RubricJudge) else "order"
    for index, outcome in enumerate(outcomes):
        if outcome.error is not None:
            prefix = f"{what} {index + 1} of {len(outcomes)}: " if len(outcomes) > 1 else ""
            return outcomes, totals, prefix + outcome.error
    return outcomes, totals, None


def _error(judge: RubricJudge | PairwiseJudge, error: str, totals: dict[str, Any]) -> StageResult:
    verdict = Verdict(error=error, **totals)
    return StageResult(
        stage=judge.name,
        kind="judge",
        status="error",
        gating=judge.gating,
        must=judge.must,
        reason=error,
        verdict=verdict,
    )


async def run_judge(
    judge: RubricJudge,
    case: Case,
    output: str,
    *,
    backend: JudgeBackend,
    store: AnswerStore,
    parse_retries: int = 2,
) -> StageResult:
    """Judge one output: store first, then the backend; errors never pass or fail.

    Args:
        parse_retries: how many more times to ask after an unparseable answer.
    """
    outcomes, totals, error = await _ask(judge, case, (output,), backend, store, parse_retries)
    if error is not None:
        return _error(judge, error, totals)
    scores = [o.score for o in outcomes if o.score is not None]
    score = judge.reduce(scores)
    passed = score >= judge.pass_threshold
    # The reasoning shown is that of the repeat closest to the reduced score.
    nearest = min(outcomes, key=lambda o: abs((o.score or 0.0) - score))
    verdict = Verdict(
        score=score, passed=passed, reasoning=nearest.reasoning, samples=tuple(scores), **totals
    )
    decided = f"score {score:g} {'>=' if passed else '<'} threshold {judge.pass_threshold:g}"
    return StageResult(
        stage=judge.name,
        kind="judge",
        status="passed" if passed else "failed",
        gating=judge.gating,
        must=judge.must,
        score=score,
        reason=f"{decided}: {truncate(nearest.reasoning)}",
        verdict=verdict,
    )


def _winner(a_view: float, variant_a: str, variant_b: str) -> str:
    if a_view > 0:
        return f"{variant_a} wins"
    return f"{variant_b} wins" if a_view < 0 else "tie"


async def run_pairwise(
    judge: PairwiseJudge,
    case: Case,
    output_a: str,
    output_b: str,
    *,
    variant_a: str,
    variant_b: str,
    backend: JudgeBackend,
    store: AnswerStore,
    parse_retries: int = 2,
) -> StageResult:
    """Compare two variants on one case, in both orders.

    The score is from ``variant_a``'s point of view: +1 it wins, 0 tie, -1 it
    loses; orders that disagree give 0. ``verdict.samples`` holds each order's
    result on the same scale, for position-consistency checks. The status is
    ``measured``: a comparison is not a pass or fail of one output.
    """
    outputs = (output_a, output_b)
    outcomes, totals, error = await _ask(judge, case, outputs, backend, store, parse_retries)
    if error is not None:
        return _error(judge, error, totals)
    first, swapped = (o.score if o.score is not None else 0.5 for o in outcomes)
    # Stored scores are about the output shown as A (A=1, tie=0.5, B=0).
    views = (2.0 * first - 1.0, 1.0 - 2.0 * swapped)
    agree = views[0] == views[1]
    score = views[0] if agree else 0.0
    shown = ((variant_a, variant_b), (variant_b, variant_a))
    lines = [
        f"order {i + 1} (A={a}, B={b}): {_winner(view, variant_a, variant_b)}: {o.reasoning}"
        for i, ((a, b), view, o) in enumerate(zip(shown, views, outcomes, strict=True))
    ]
    agreement = "both orders agree" if agree else "the orders disagree, so it counts as a tie"
    summary = f"{_winner(score, variant_a, variant_b)} ({agreement})"
    verdict = Verdict(score=score, reasoning="\n".join([summary, *lines]), samples=views, **totals)
    return StageResult(
        stage=judge.name,
        kind="judge",
        status="measured",
        gating=False,
        score=score,
        reason=truncate("; ".join([summary, *lines])),
        verdict=verdict,
    )
