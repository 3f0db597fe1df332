"""A support assistant answering from retrieved context, evaluated as a funnel.

Checks drop empty, overlong and off-policy answers for free; only the promoted
slice reaches the judges, which ask whether the answer sticks to the retrieved
context (faithfulness) and takes up the question (relevance).
"""

from __future__ import annotations

import os

import pytest

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges, scorers

# The same switch as in conftest.py; read here because the marker below is
# evaluated when this module is imported.
DEMO_REGRESSION = os.environ.get("LLMFUNNEL_DEMO_REGRESSION", "").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}
ANSWER_COLUMN = "answer_after_change" if DEMO_REGRESSION else "answer"


def answer_words(case: Case, output: str) -> float:
    """How long answers are, in words: measured, never gating."""
    return float(len(output.split()))


SUPPORT = Funnel(
    checks.not_empty(),
    checks.max_chars(600),
    checks.not_contains("as an AI language model", "system prompt", "dispute the charge"),
    checks.not_addressing_judge(),
    scorers.scorer(answer_words),
    judges.faithfulness(),
    judges.relevance(),
    name="support",
)


@pytest.mark.llm_dataset("support.jsonl", funnel=SUPPORT, columns={ANSWER_COLUMN: "output"})
def test_support_answer(case: Case, llm_result: CaseResult, evaluated_column: str) -> None:
    # Ordinary assertions sit beside the funnel's verdicts: these are about
    # the dataset itself, so a broken row fails as a plain test failure.
    assert evaluated_column == ANSWER_COLUMN
    assert case.context, "every support case carries its retrieved context"
    assert llm_result.case_id == case.id
    assert llm_result.output == case.output
