"""pytest-llmfunnel: LLM evals as regression tests, run as an evaluation funnel.

Declare the stages of a dataset once::

    from pytest_llmfunnel import Funnel, checks, judges, scorers

    SUPPORT = Funnel(checks.not_empty(), scorers.rouge_l(), judges.faithfulness())

    @pytest.mark.llm_dataset("support.jsonl", funnel=SUPPORT)
    def test_support(case, llm_result): ...

The names are loaded on first use (PEP 562): pytest imports this package for
its entry point in every run, and a run without ``--llm-funnel`` must not pay
for the funnel, its models or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmfunnel.funnel.definition import Funnel
    from pytest_llmfunnel.funnel.live_variants import Variant
    from pytest_llmfunnel.funnel.stages import checks, conversations, scorers
    from pytest_llmfunnel.funnel.stages import judge as judges
    from pytest_llmfunnel.funnel.target import TransientTargetError
    from pytest_llmfunnel.models import Case, CaseResult, ChatMessage, StageResult, Usage, Verdict
    from pytest_llmfunnel.output import Chunk, Message, Output, TokenUsage, ToolCall

__all__ = [
    "Case",
    "CaseResult",
    "ChatMessage",
    "Chunk",
    "Funnel",
    "Message",
    "Output",
    "StageResult",
    "TokenUsage",
    "ToolCall",
    "TransientTargetError",
    "Usage",
    "Variant",
    "Verdict",
    "checks",
    "conversations",
    "judges",
    "scorers",
]
__version__ = "0.1.0.dev0"

# Public name -> (module, attribute in it; None: the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "Case": ("pytest_llmfunnel.models", "Case"),
    "CaseResult": ("pytest_llmfunnel.models", "CaseResult"),
    "ChatMessage": ("pytest_llmfunnel.models", "ChatMessage"),
    "StageResult": ("pytest_llmfunnel.models", "StageResult"),
    "Usage": ("pytest_llmfunnel.models", "Usage"),
    "Verdict": ("pytest_llmfunnel.models", "Verdict"),
    "Funnel": ("pytest_llmfunnel.funnel.definition", "Funnel"),
    "Output": ("pytest_llmfunnel.output", "Output"),
    "Chunk": ("pytest_llmfunnel.output", "Chunk"),
    "ToolCall": ("pytest_llmfunnel.output", "ToolCall"),
    "Message": ("pytest_llmfunnel.output", "Message"),
    "TokenUsage": ("pytest_llmfunnel.output", "TokenUsage"),
    "TransientTargetError": ("pytest_llmfunnel.funnel.target", "TransientTargetError"),
    "Variant": ("pytest_llmfunnel.funnel.live_variants", "Variant"),
    "checks": ("pytest_llmfunnel.funnel.stages.checks", None),
    "scorers": ("pytest_llmfunnel.funnel.stages.scorers", None),
    "conversations": ("pytest_llmfunnel.funnel.stages.conversations", None),
    "judges": ("pytest_llmfunnel.funnel.stages.judge", None),
}


def __getattr__(name: str) -> Any:
    """Import a public name on use, from the module loaded now.

    Not kept as a module attribute: a module can be unloaded and loaded again
    in one process (pytest's in-process ``pytester`` runs do so), and a kept
    class would then differ from the one the plugin checks against.
    """
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    # Start-up choice: the public API loads when a test file first asks for it.
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
