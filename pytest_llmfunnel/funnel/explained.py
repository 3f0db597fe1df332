"""Explaining a case's judge requests against the verdict cache (``--llm-funnel-explain-cache``).

For the one case asked about, each judge request is rendered as it would be
sent and compared with what the cache holds (see
:meth:`pytest_llmfunnel.store.verdict_cache.VerdictStore.explain`); the lines
say why a request hits or misses.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmfunnel.funnel.backend import AnswerStore, JudgeBackend
from pytest_llmfunnel.funnel.stages.judge_kinds import PairwiseJudge, RubricJudge, requests_for
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output


def explain_requests(
    store: AnswerStore, backend: JudgeBackend, judge: RubricJudge | PairwiseJudge, case: Case,
    variant: str, outputs: Sequence[str | Output],
) -> list[str]:
    """One rendered explanation per request of ``judge`` on ``outputs`` (none without a cache)."""
    explain = getattr(store, "explain", None)
    if not callable(explain):
        return []
    try:
        requests = requests_for(judge, case, outputs, backend)
    except ValueError as exc:
        return [f"{case.id} [{judge.name}] ({variant}): not asked: {exc}"]
    lines = []
    for request in requests:
        text = explain(case.id, judge.name, request).render()
        lines.append(text.replace(f"{case.id} [", f"{case.id}:{variant} [", 1))
    return lines
