"""The conversation stages in one place: ``from pytest_llmfunnel import conversations``.

* :func:`each_turn`: any check, scorer or rubric judge on every turn;
* :func:`goal_completed`, :func:`consistent`, :func:`remembers_facts`:
  judges of the whole conversation.

See ``docs/conversations.md``.
"""

from __future__ import annotations

from pytest_llmfunnel.funnel.stages.conversation_judges import (
    ConversationJudge as ConversationJudge,
)
from pytest_llmfunnel.funnel.stages.conversation_judges import consistent as consistent
from pytest_llmfunnel.funnel.stages.conversation_judges import goal_completed as goal_completed
from pytest_llmfunnel.funnel.stages.conversation_judges import remembers_facts as remembers_facts
from pytest_llmfunnel.funnel.stages.conversation_turns import EachTurn as EachTurn
from pytest_llmfunnel.funnel.stages.conversation_turns import each_turn as each_turn

__all__ = ["ConversationJudge", "EachTurn", "consistent", "each_turn", "goal_completed",
           "remembers_facts"]
