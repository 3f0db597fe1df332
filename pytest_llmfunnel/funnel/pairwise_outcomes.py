"""A pairwise comparison's outcome when nothing is sent, and seen from the other variant."""

from __future__ import annotations

from dataclasses import replace

from pytest_llmfunnel.funnel.stages.judge_kinds import PairwiseJudge
from pytest_llmfunnel.models import CaseResult, StageResult, Usage


def walkover(judge: PairwiseJudge, first: CaseResult, other: CaseResult) -> StageResult:
    """The comparison when one side was dropped: the promoted side wins, nothing is sent."""
    winner, loser = (first, other) if first.promoted else (other, first)
    where = loser.dropped_at or "an earlier stage"
    reason = (
        f"{winner.variant} wins without a request: {loser.variant} was dropped at {where}"
    )
    return StageResult(
        stage=judge.name,
        kind="judge",
        status="measured",
        gating=False,
        score=1.0 if first.promoted else -1.0,
        reason=reason,
    )


def mirror(result: StageResult) -> StageResult:
    """A comparison from the other variant's point of view (counted on the first only)."""
    score = None if result.score is None else -result.score
    verdict = result.verdict
    if verdict is not None:
        verdict = verdict.model_copy(
            update={
                "score": score,
                "samples": tuple(-s for s in verdict.samples),
                "requests": 0,
                "cache_hits": 0,
                "reused": False,
                "usage": Usage(),
            }
        )
    return replace(result, score=score, verdict=verdict)
