"""pytest-llmfunnel: LLM evals as regression tests, run as an evaluation funnel."""

from __future__ import annotations

from pytest_llmfunnel.models import Case, CaseResult, ChatMessage, StageResult, Usage, Verdict

__all__ = ["Case", "CaseResult", "ChatMessage", "StageResult", "Usage", "Verdict"]
__version__ = "0.1.0.dev0"
