"""A multi-turn support assistant, evaluated turn by turn and as a whole conversation.

The assistant is called once per scripted user turn with the conversation so
far. Free checks run on every turn (a reply, holding what the turn expects);
the judges then grade every turn's relevance and the whole conversation:
did the assistant remember what the user told it, stay consistent, and
complete the user's goal?
"""

from __future__ import annotations

import pytest
from support_bot import support_assistant

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, conversations, judges


def as_expected(case: Case, reply: str) -> tuple[bool, str]:
    """The turn's reply holds the turn's ``expected`` phrase (a turn without one passes)."""
    if case.expected is None or case.expected.lower() in reply.lower():
        return True, ""
    return False, f"the reply {reply!r} does not say {case.expected!r}"


SUPPORT_CHAT = Funnel(
    conversations.each_turn(checks.not_empty(), name="replied"),
    conversations.each_turn(checks.check(as_expected), name="turn as expected"),
    conversations.each_turn(judges.tone(gating=True), name="turn tone"),
    conversations.remembers_facts(gating=True),
    conversations.consistent(),
    conversations.goal_completed(),
    target=support_assistant,
    name="support_chat",
)


@pytest.mark.llm_dataset("conversations.jsonl", funnel=SUPPORT_CHAT)
def test_support_chat(case: Case, llm_result: CaseResult) -> None:
    # Ordinary assertions beside the funnel: about the dataset itself.
    assert case.turns and case.goal
    assert llm_result.case_id == case.id
