"""Ad-hoc judging inside ordinary tests: ``assert llm_judge("Is it polite?", reply).passed``."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmfunnel.funnel.stages.judge import run_judge
from pytest_llmfunnel.funnel.stages.judge_kinds import rubric
from pytest_llmfunnel.models import Case, StageResult, sha256_text
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.pytest_glue.specs import ENABLE_HINT


class AdHocJudge:
    """Callable behind the ``llm_judge`` fixture; blocks, and is cached like the funnel."""

    def __init__(self, fs: FunnelSession) -> None:
        self._fs = fs

    def __call__(
        self,
        question: str,
        output: str,
        *,
        input: str = "",
        context: str | None = None,
        expected: str | None = None,
        **judge_options: Any,
    ) -> StageResult:
        """Judge ``output`` against the rubric ``question``; returns the stage result.

        ``judge_options`` go to the rubric judge (``scale``, ``threshold``, ``model``...).
        Without --llm-funnel the calling test is skipped, so plain pytest stays free.
        """
        if not self._fs.settings.enabled:
            pytest.skip(ENABLE_HINT)
        judge = rubric("adhoc", question, **judge_options)
        case = Case(
            id="adhoc-" + sha256_text(input + "\x00" + output)[:12],
            input=input or question,
            context=context,
            expected=expected,
        )
        backends = self._fs.backends
        return backends.loop.run(
            run_judge(judge, case, output, backend=backends.backend, store=backends.store)
        )
