"""pytest-llmfunnel: LLM evals as regression tests, run as an evaluation funnel.

Declare the stages of a dataset once::

    from pytest_llmfunnel import Funnel, checks, judges, scorers

    SUPPORT = Funnel(checks.not_empty(), scorers.rouge_l(), judges.faithfulness())

    @pytest.mark.llm_dataset("support.jsonl", funnel=SUPPORT)
    def test_support(case, llm_result): ...
"""

from __future__ import annotations

from pytest_llmfunnel.funnel.runner import Funnel
from pytest_llmfunnel.funnel.stages import checks, scorers
from pytest_llmfunnel.funnel.stages import judge as judges
from pytest_llmfunnel.models import Case, CaseResult, ChatMessage, StageResult, Usage, Verdict

__all__ = [
    "Case",
    "CaseResult",
    "ChatMessage",
    "Funnel",
    "StageResult",
    "Usage",
    "Verdict",
    "checks",
    "judges",
    "scorers",
]
__version__ = "0.1.0.dev0"
