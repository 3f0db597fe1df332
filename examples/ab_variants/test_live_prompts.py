"""Two live prompt variants of the helpdesk assistant, produced now through a target.

Where ``test_ab_variants.py`` judges answers logged in the dataset, this test
asks a target for each variant's answer (``prompts.answer``, called with the
case and the variant's settings), records the answers per variant, and judges
them the same way: the checks and rubric judges per variant, then the
pairwise judge compares each answer with the control's in both orders.
"""

from __future__ import annotations

import pytest
from helpdesk import HELPFULNESS_RUBRIC
from prompts import LIVE_CONTROL, LIVE_VARIANTS, answer

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges

LIVE = Funnel(
    checks.not_empty(),
    checks.max_chars(400),
    judges.relevance(),
    judges.faithfulness(),
    judges.pairwise("helpfulness", rubric=HELPFULNESS_RUBRIC),
    target=answer,
    target_version="1",
    variants=LIVE_VARIANTS,
    control=LIVE_CONTROL,
    name="helpdesk_prompts",
)


# Ranked against each other, with no baseline to gate against (see test_ab_variants.py).
@pytest.mark.llm_dataset("helpdesk.jsonl", funnel=LIVE, baseline=False)
def test_live_prompt(case: Case, llm_variant: str, llm_result: CaseResult) -> None:
    assert llm_result.variant == llm_variant
    assert llm_result.output, "the target answered from the policy passage"
    comparison = llm_result.stage("pairwise_helpfulness")
    assert comparison is not None and comparison.pair == (LIVE_CONTROL, "matching")
