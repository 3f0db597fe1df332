"""A support assistant answering from retrieved context, evaluated as a funnel.

Checks drop empty, overlong and off-policy answers for free; only the promoted
slice reaches the judges, which ask whether the answer sticks to the retrieved
context (faithfulness) and takes up the question (relevance).
"""

from __future__ import annotations

import pytest
from demo_switch import answer_column

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges, scorers

# Read at import time: the marker below needs it, and it holds for the whole run.
ANSWER_COLUMN = answer_column()


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
def test_support_answer(case: Case, llm_result: CaseResult, other_column: str) -> None:
    # Ordinary assertions sit beside the funnel's verdicts: these are about
    # the dataset itself, so a broken row fails as a plain test failure.
    assert case.context, "every support case carries its retrieved context"
    assert other_column in case.metadata, "every row has both answer columns"
    assert llm_result.case_id == case.id
    assert llm_result.output == case.output
