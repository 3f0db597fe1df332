"""A warm run does per item only what that item needs: tests of structure, never of time.

A warm eval run (every verdict cached) should cost about what ordinary
parametrized tests cost (``benchmarks/warm_cache.py``). These tests pin the
work it no longer does per case: nothing cleaned for a case that has nothing
to report, no model built to tell a plain output. (That importing the checks
compiles nothing is tested in a process of its own, in
``tests/integration/test_warm_path_imports.py``.)
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Literal

import pytest

from pytest_llmfunnel.models import CaseResult, StageResult
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.pytest_glue import items


def _fs(result: CaseResult, *, strict: bool = False) -> Any:
    return SimpleNamespace(current_result=result, settings=SimpleNamespace(strict=strict))


def _result(
    status: Literal["passed", "failed"], *, must: bool = False, error: str | None = None
) -> CaseResult:
    stage = StageResult(stage="relevance", kind="judge", status=status, gating=True, must=must)
    return CaseResult(
        case_id="case-1", variant="default", output="text", stages=(stage,), promoted=True,
        error=error,
    )


def test_a_case_with_nothing_to_enforce_cleans_no_text(monkeypatch: pytest.MonkeyPatch) -> None:
    cleaned: list[object] = []

    def counting(text: object, limit: int | None = 120) -> str:
        cleaned.append(text)
        return str(text)

    monkeypatch.setattr(items, "terminal_text", counting)
    item: Any = None
    items.enforce(item, _fs(_result("passed")))
    items.enforce(item, _fs(_result("failed")))  # not must, not strict: reported, not enforced
    assert cleaned == []
    with pytest.raises(pytest.fail.Exception, match="failed funnel stage"):
        items.enforce(item, _fs(_result("failed", must=True)))
    assert cleaned  # a failure's message is still cleaned
    with pytest.raises(pytest.fail.Exception, match="boom"):
        items.enforce(item, _fs(_result("passed", error="boom"), strict=True))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"usage": {"prompt_tokens": 0}},
        {"latency_s": 0.0},
        {"cost": 0.0},
        {"metadata": {"run": 1}},
        {"context": [{"text": "a chunk"}]},
        {"tool_calls": [{"name": "lookup"}]},
        {"messages": [{"role": "user", "content": "hi"}]},
    ],
)
def test_is_plain_says_what_comparing_with_a_text_only_output_says(
    fields: dict[str, Any],
) -> None:
    # is_plain reads the fields instead of building an Output to compare with.
    output = Output.model_validate({"text": "the answer", **fields})
    assert output.is_plain == (output == Output(text=output.text))
    assert output.is_plain == (not fields)
