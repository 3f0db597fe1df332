"""A support assistant answering from retrieved context, evaluated as a funnel.

Checks drop empty, overlong and off-policy answers for free; only the promoted
slice reaches the judges. With no endpoint configured the judges are answered
by the offline reference judge (rule-based, not an LLM) and say so.
"""

import pytest

from pytest_llmfunnel import Funnel, checks, judges, scorers

SUPPORT = Funnel(
    checks.not_empty(),
    checks.max_chars(600),
    checks.not_contains("as an AI language model", "dispute the charge"),
    scorers.token_f1(),
    judges.faithfulness(),
    judges.relevance(),
)


@pytest.mark.llm_dataset("support.jsonl", funnel=SUPPORT)
def test_support_answers(case, llm_result):
    # Ordinary assertions can sit beside the funnel's own verdicts.
    assert case.context, "every support case carries its retrieved context"
    assert llm_result.case_id == case.id
