"""Per-turn stages: any check, scorer or rubric judge run on every turn of a conversation.

``each_turn(stage)`` wraps an existing stage instead of giving every stage a
``per_turn=`` flag: the stages stay as they are (a wrapper cannot be
forgotten by one of them), the funnel reads ``each_turn(checks.contains("order"))``
as what it does, and the wrapped stage needs nothing new to know about turns.

For each turn (see :func:`~pytest_llmfunnel.funnel.conversation.turns_of`)
the wrapped stage is given the turn's case, whose ``input`` is the history
ending with the user's message, whose ``expected`` and metadata are the
turn's own expectations, and the assistant's reply as the output (its text
and tool calls). A judge per turn therefore sees the history as its input, so
an unchanged turn renders the same request and is answered from the cache.

The results fold into one stage result, named like the wrapped stage:

* ``failed`` when any turn failed (the case fails the stage), else ``error``
  when any turn could not be decided, else ``passed`` (``measured`` for a
  scorer that only measures);
* ``score``: the lowest turn score (the weakest turn decides, as it does
  pass/fail);
* ``reason``: the failing (or erring) turns, 1-based with the user's message:
  ``turn 2 (user: 'And my order?'): missing 'order'``;
* for a judge, one verdict summing the turns' requests, cache hits and usage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pytest_llmfunnel.funnel.backend import AnswerStore, JudgeBackend
from pytest_llmfunnel.funnel.conversation import ConversationTurn, turns_of
from pytest_llmfunnel.funnel.stages.base import Check, Scorer
from pytest_llmfunnel.funnel.stages.judge import run_judge
from pytest_llmfunnel.funnel.stages.judge_kinds import RubricJudge
from pytest_llmfunnel.models import NO_USAGE, Case, StageResult, StageStatus, Verdict
from pytest_llmfunnel.output import Output

TurnStage = Check | Scorer | RubricJudge
#: How the runner runs a wrapped stage on one turn (a judge needs its backend and cache).
RunStage = Callable[[TurnStage, Case, Output], Awaitable[StageResult]]

#: At most this many failing turns are spelled out in a reason.
SHOWN_TURNS = 3


class EachTurn:
    """A stage run on every turn of a conversation (see the module)."""

    def __init__(self, stage: TurnStage, *, name: str | None = None) -> None:
        if isinstance(stage, EachTurn) or not isinstance(stage, (Check, Scorer, RubricJudge)):
            raise TypeError(
                f"each_turn() wraps a check, a scorer or a rubric judge, not {stage!r}"
            )
        if getattr(stage, "whole_conversation", False):
            raise TypeError(
                f"{stage.name!r} judges the whole conversation; use it as a stage of its "
                "own, not inside each_turn()"
            )
        self.stage = stage
        self.name = name or stage.name
        self.kind = stage.kind

    @property
    def gating(self) -> bool:
        return self.stage.gating

    @property
    def must(self) -> bool:
        return self.stage.must

    def __repr__(self) -> str:
        return f"each_turn({self.stage.name!r})"

    async def run_turns(self, case: Case, output: Output, run_stage: RunStage) -> StageResult:
        """Run the wrapped stage on every turn, one after another; one folded result."""
        turns = turns_of(case, output)
        results = [(turn, await run_stage(self.stage, turn.case, turn.output)) for turn in turns]
        return self.fold(results)

    def fold(self, results: list[tuple[ConversationTurn, StageResult]]) -> StageResult:
        """One result from the turns' results (see the module)."""
        failed = [(t, r) for t, r in results if r.status == "failed"]
        errors = [(t, r) for t, r in results if r.status == "error"]
        status: StageStatus
        if failed:
            status, bad = "failed", failed
        elif errors:
            status, bad = "error", errors
        else:
            status, bad = ("measured" if not self.gating else "passed"), []
        scores = [r.score for _, r in results if r.score is not None]
        score = min(scores) if scores else None
        if bad:
            shown = [f"{t.label()}: {r.reason or r.status}" for t, r in bad[:SHOWN_TURNS]]
            more = len(bad) - SHOWN_TURNS
            reason = "; ".join(shown) + (f"; and {more} more turns" if more > 0 else "")
            reason = f"{len(bad)} of {len(results)} turns {status}: {reason}"
        else:
            reason = f"all {len(results)} turns {status}"
        verdict = self._verdict(results, score, status, reason)
        return StageResult(
            stage=self.name, kind=self.stage.kind, status=status, gating=self.gating,  # type: ignore[arg-type]
            score=score, reason=reason, verdict=verdict, must=self.must,
        )

    def _verdict(
        self, results: list[tuple[ConversationTurn, StageResult]], score: float | None,
        status: StageStatus, reason: str,
    ) -> Verdict | None:
        verdicts = [r.verdict for _, r in results if r.verdict is not None]
        if not isinstance(self.stage, RubricJudge) or not verdicts:
            return None
        usage = NO_USAGE
        for v in verdicts:
            usage = usage + v.usage
        error = reason if status == "error" else None
        return Verdict(
            criterion=verdicts[0].criterion, judge=verdicts[0].judge,
            score=None if error else score, passed=None if error else status == "passed",
            reasoning=reason, samples=tuple(v.score for v in verdicts if v.score is not None),
            usage=usage, requests=sum(v.requests for v in verdicts),
            cache_hits=sum(v.cache_hits for v in verdicts), error=error,
        )


def stage_runner(backend: JudgeBackend, store: AnswerStore, parse_retries: int) -> RunStage:
    """How the runner runs a wrapped stage on one turn: a judge through its backend and cache."""

    async def run(stage: TurnStage, case: Case, output: Output) -> StageResult:
        if isinstance(stage, RubricJudge):
            return await run_judge(stage, case, output, backend=backend, store=store,
                                   parse_retries=parse_retries)
        return await stage.arun(case, output)

    return run


def each_turn(stage: TurnStage, *, name: str | None = None) -> EachTurn:
    """Run ``stage`` (a check, scorer or rubric judge) on every turn; a case fails if a turn does.

    ``name`` defaults to the wrapped stage's name.
    """
    return EachTurn(stage, name=name)
