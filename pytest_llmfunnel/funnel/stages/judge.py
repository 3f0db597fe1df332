"""LLM judge stages: running one judge on one case, and turning its answers into a result.

A judge renders the exact chat-completions body it sends (see
:mod:`pytest_llmfunnel.funnel.prompts`), asks the answer store first, then the
backend, and parses the answer strictly: an answer that cannot be parsed is
retried a few times and then becomes an *error* verdict, never a pass or fail.
The judges themselves (rubric and pairwise, and the built-in factories) are
defined in :mod:`pytest_llmfunnel.funnel.stages.judge_kinds` and re-exported here,
as ``pytest_llmfunnel.judges``, with the answer format.

Two decisions worth knowing:

* **Pass/fail is derived at read time** from the (cached) score and the
  threshold in force, so changing a threshold re-decides every case for free.
* **Usage counts only requests actually sent** in this run. A cache hit costs
  nothing now; what it cost when it was recorded stays in the store/lockfile.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import TypedDict

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.backend import (
    AnswerStore,
    CachedAnswer,
    CacheMissError,
    JudgeBackend,
    JudgeCallError,
    JudgeRequest,
)
from pytest_llmfunnel.funnel.judge_answers import (
    JudgeAnswer,
    JudgeParseError,
    PairwiseAnswer,
    parse_answer,
    parse_pairwise_answer,
)
from pytest_llmfunnel.funnel.stages.judge_kinds import (
    MissingFieldError,
    PairwiseJudge,
    RubricJudge,
    coherence,
    correctness,
    faithfulness,
    pairwise,
    relevance,
    requests_for,
    rubric,
    tone,
)
from pytest_llmfunnel.funnel.stages.rag_judges import (
    RagJudge,
    answer_relevance,
    context_precision,
    context_recall,
    rag_faithfulness,
)
from pytest_llmfunnel.models import NO_USAGE, Case, StageResult, Usage, Verdict
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.wording import plural

# The judges and the answer format (defined next to the prompts) are re-exported
# as part of the stage API.
__all__ = [
    "JudgeAnswer",
    "JudgeParseError",
    "MissingFieldError",
    "PairwiseAnswer",
    "PairwiseJudge",
    "RagJudge",
    "RubricJudge",
    "answer_relevance",
    "coherence",
    "context_precision",
    "context_recall",
    "correctness",
    "faithfulness",
    "pairwise",
    "parse_answer",
    "parse_pairwise_answer",
    "rag_faithfulness",
    "relevance",
    "rubric",
    "run_judge",
    "run_pairwise",
    "tone",
]

# A bound against a runaway answer only, far above any real reasoning: the
# reports show a judge's reason whole (the record keeps the same bound).
REASON_LIMIT = 8000


class _Totals(TypedDict, total=False):
    """What every request of one judge stage adds up to: the verdict's shared fields."""

    criterion: str
    judge: str
    usage: Usage
    requests: int
    cache_hits: int


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
    judge: RubricJudge | PairwiseJudge,
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
            score, reasoning = judge.parse(completion, request)
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
    tries = plural(sent, 'attempt')
    error = f"the judge's answer could not be parsed after {tries} ({last.cause}): {last}"
    return _Outcome(usage=usage, requests=sent, error=error)


async def _ask(
    judge: RubricJudge | PairwiseJudge,
    case: Case,
    outputs: tuple[str | Output, ...],
    backend: JudgeBackend,
    store: AnswerStore,
    parse_retries: int,
) -> tuple[list[_Outcome], _Totals, str | None]:
    """Render and answer every request concurrently: outcomes, Verdict totals, first error."""
    totals: _Totals = {"criterion": judge.criterion, "judge": backend.identity}
    try:
        requests = requests_for(judge, case, outputs, backend)
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
    # Every cached answer carries its own copy of the judge's name; a run
    # keeps a verdict per case, so keep one copy.
    totals["judge"] = sys.intern(" + ".join(labels))
    totals["usage"] = usage
    totals["requests"] = sum(o.requests for o in outcomes)
    totals["cache_hits"] = sum(o.cache_hit for o in outcomes)
    what = "repeat" if isinstance(judge, RubricJudge) else "order"
    for index, outcome in enumerate(outcomes):
        if outcome.error is not None:
            prefix = f"{what} {index + 1} of {len(outcomes)}: " if len(outcomes) > 1 else ""
            return outcomes, totals, prefix + outcome.error
    return outcomes, totals, None


def _error(judge: RubricJudge | PairwiseJudge, error: str, totals: _Totals) -> StageResult:
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
    output: str | Output,
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
        reason=f"{decided}: {truncate(nearest.reasoning, REASON_LIMIT, at_word=True)}",
        verdict=verdict,
    )


def _winner(a_view: float, variant_a: str, variant_b: str) -> str:
    if a_view > 0:
        return f"{variant_a} wins"
    return f"{variant_b} wins" if a_view < 0 else "tie"


async def run_pairwise(
    judge: PairwiseJudge,
    case: Case,
    output_a: str | Output,
    output_b: str | Output,
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
        reason=truncate("; ".join([summary, *lines]), REASON_LIMIT, at_word=True),
        verdict=verdict,
    )
