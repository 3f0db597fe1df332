"""Two prompts of an IT helpdesk assistant, compared on the same questions.

Every row holds the answer of the old prompt (``output_control``) and of the
new one (``output_treatment``), so each case runs twice, once per variant,
through the same checks and rubric judges (which measure, not gate). The
pairwise judge then compares the two answers of each case in both orders
(A/B, then B/A) and counts orders that disagree as a tie, which keeps the
judge's position bias out of the result.
"""

from __future__ import annotations

from collections import Counter

import pytest
from helpdesk import CONTROL, HELPFULNESS_RUBRIC, TREATMENT

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges

AB = Funnel(
    checks.not_empty(),
    checks.max_chars(400),
    judges.relevance(),
    judges.faithfulness(),
    judges.pairwise("helpfulness", rubric=HELPFULNESS_RUBRIC),
    name="ab_variants",
)


# This example ranks its variants against each other; it keeps no baseline to gate
# against (a CI run would otherwise ask for one).
@pytest.mark.llm_dataset("helpdesk.jsonl", funnel=AB, baseline=False)
def test_helpdesk_variant(
    case: Case,
    llm_variant: str,
    llm_result: CaseResult,
    variants: tuple[str, ...],
    ab_tally: Counter[str],
) -> None:
    assert tuple(case.outputs) == variants, "every row has both variants, control first"
    assert llm_result.variant == llm_variant
    comparison = llm_result.stage("pairwise_helpfulness")
    assert comparison is not None, "both variants passed the checks, so they were compared"
    # Scored from this item's variant's point of view: +1 win, 0 tie, -1 loss.
    assert comparison.status == "measured" and comparison.score in (-1.0, 0.0, 1.0)
    if llm_variant == CONTROL:
        winner = {1.0: CONTROL, -1.0: TREATMENT}.get(comparison.score, "tie")
        ab_tally[winner] += 1
