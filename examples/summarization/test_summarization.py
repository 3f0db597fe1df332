"""One-paragraph news summaries, checked for length and format, scored against a reference.

The funnel: free checks (not empty, at most 45 words, no bullet list, no
"Here is a summary" preamble), then ROUGE-L against the editor's reference
summary (gating below 0.3, so a summary about something else stops here), a
length ratio that only measures, and finally a coherence judge on the
survivors (repetition, run-on sentences, text that stops mid-sentence).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from newsroom import BULLET, MAX_WORDS, MIN_ROUGE_L, PREAMBLE, within_word_limit

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges, scorers

SUMMARIES = Funnel(
    checks.not_empty(),
    checks.check(within_word_limit, name=f"at_most_{MAX_WORDS}_words"),
    checks.not_matches(BULLET, re.MULTILINE, name="no_bullet_list"),
    checks.not_matches(PREAMBLE, re.IGNORECASE, name="no_preamble"),
    scorers.rouge_l(threshold=MIN_ROUGE_L),
    scorers.length_ratio("words"),
    judges.coherence(),
    name="summarization",
)


@pytest.mark.llm_dataset("articles.jsonl", funnel=SUMMARIES)
def test_summary(
    case: Case,
    llm_result: CaseResult,
    count_words: Callable[[str], int],
    one_paragraph: Callable[[str], bool],
) -> None:
    # The reference summary must meet the house rules itself, or comparing
    # against it would be unfair: a broken row fails as an ordinary test.
    assert case.expected, "every article has a reference summary"
    assert count_words(case.expected) <= MAX_WORDS
    assert one_paragraph(case.expected)
    assert llm_result.variant == "default"
