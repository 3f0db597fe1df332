"""Conversations, turn by turn: calling a target with the history, and cutting turns out.

A conversation case (:attr:`Case.turns`) scripts the user's turns. A live
target is called once per turn with the conversation so far: a :class:`Case`
whose ``input`` is the chat history ending with the new user message (and
whose ``expected`` and metadata are the turn's own expectations). It answers
the assistant's turn as a str or an :class:`Output` (its text and tool calls
become the assistant message). One case's turns are sequential; cases run
concurrently, each call under the target's own limit, timeout and retries.
The conversation is one :class:`Output`: its ``messages`` are the whole
exchange and its ``text`` the last reply, so recording it (``target_version``)
records every turn.

A pre-logged conversation (a row's ``messages``) is cut into the same turns:
each user message opens a turn, the assistant messages after it are its reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.live_variants import Variant
from pytest_llmfunnel.funnel.target import TargetCaller, TargetError
from pytest_llmfunnel.models import Case, ChatMessage, Turn
from pytest_llmfunnel.output import Message, Output, TokenUsage, ToolCall


@dataclass(frozen=True)
class ConversationTurn:
    """One turn as a stage sees it: its case (history + user message) and the reply."""

    number: int  # 1-based
    user: str
    case: Case
    output: Output

    def label(self) -> str:
        """``turn 2 (user: 'Where is my parcel?')``: how reports name this turn."""
        return turn_label(self.number, self.user)


def turn_label(number: int, user: str) -> str:
    """How a turn is named in reasons and reports: 1-based, with the user's message."""
    return f"turn {number} (user: {truncate(user, 60, one_line=True)!r})"


def is_conversation(case: Case, output: Output | None = None) -> bool:
    """Whether ``case`` (with ``output``) is a conversation: scripted turns or logged messages."""
    return bool(case.turns) or (output is not None and bool(output.messages))


def turn_case(case: Case, history: tuple[Message, ...], turn: Turn) -> Case:
    """The case one turn is called and checked with: the history, then the user's message."""
    chat = (*(ChatMessage(role=m.role, content=m.content) for m in history),
            ChatMessage(role="user", content=turn.user))
    metadata = dict(case.metadata)
    if turn.expected_tool_calls is not None:
        metadata["expected_tool_calls"] = [
            call.model_dump(mode="json", exclude_defaults=True) for call in turn.expected_tool_calls
        ]
    return case.model_copy(update={
        "input": chat, "expected": turn.expected, "metadata": metadata, "outputs": {},
    })


async def converse(
    caller: TargetCaller, case: Case, variant: Variant | None = None,
) -> Output:
    """Play the case's scripted turns against the target; the whole conversation.

    ``variant`` is the live variant every turn is called with (``None``: none).
    Raises :class:`TargetError` naming the turn when a turn's call fails (after
    the caller's retries).
    """
    history: tuple[Message, ...] = ()
    if not isinstance(case.input, str):
        # A chat-style input's system messages (a system prompt) open the history.
        history = tuple(Message(role=m.role, content=m.content) for m in case.input
                        if m.role == "system")
    prompt = completion = 0
    latency = cost = 0.0
    timed = costed = counted = False
    for number, turn in enumerate(case.turns, start=1):
        try:
            reply = await caller.call(turn_case(case, history, turn), variant)
        except TargetError as exc:
            raise TargetError(f"{turn_label(number, turn.user)}: {exc}", transient=False) from exc
        history += (
            Message(role="user", content=turn.user),
            Message(role="assistant", content=reply.text, tool_calls=reply.tool_calls),
        )
        if reply.usage is not None:
            counted = True
            prompt += reply.usage.prompt_tokens
            completion += reply.usage.completion_tokens
        if reply.latency_s is not None:
            timed, latency = True, latency + reply.latency_s
        if reply.cost is not None:
            costed, cost = True, cost + reply.cost
    last = history[-1].content if history else ""
    return Output(
        text=last,
        messages=history,
        usage=TokenUsage(prompt_tokens=prompt, completion_tokens=completion) if counted else None,
        latency_s=latency if timed else None,
        cost=cost if costed else None,
    )


def turns_of(case: Case, output: Output) -> list[ConversationTurn]:
    """The turns of one conversation output, each with its case (see the module).

    Turn k takes the expectations of the case's scripted turn k, when there
    is one. An output without messages is one turn: the case's input and the
    output itself.
    """
    if not output.messages:
        single = case.turns[0] if case.turns else Turn(user=case.input_text(),
                                                        expected=case.expected)
        only = case if not case.turns else turn_case(case, (), single)
        return [ConversationTurn(1, single.user, only, output)]
    found: list[ConversationTurn] = []
    messages = output.messages
    index = 0
    while index < len(messages):
        if messages[index].role != "user":
            index += 1
            continue
        user = messages[index]
        end = index + 1
        while end < len(messages) and messages[end].role != "user":
            end += 1
        replies = [m for m in messages[index + 1:end] if m.role == "assistant"]
        calls: tuple[ToolCall, ...] = tuple(c for m in replies for c in m.tool_calls)
        reply = Output(text="\n".join(m.content for m in replies if m.content), tool_calls=calls)
        number = len(found) + 1
        script = case.turns[number - 1] if number <= len(case.turns) else None
        turn = (Turn(user=user.content) if script is None
                else script.model_copy(update={"user": user.content}))
        found.append(ConversationTurn(number, user.content,
                                      turn_case(case, messages[:index], turn), reply))
        index = end
    return found
