"""The system under test: a multi-turn support assistant for a small web shop.

It stands in for an LLM chat assistant: deterministic rules over a tiny FAQ
(``FAQ``) with a memory of what the user said earlier in the conversation
(their name, order number and e-mail address), so the example runs offline
and answers the same way every time. It is called once per user turn with the
conversation so far (the case's ``input``: the chat history ending with the
new user message) and returns its reply; a refund is a tool call.

``LLMFUNNEL_DEMO_REGRESSION=1`` switches on its "new prompt window", which
keeps only the last user message: the assistant forgets what it was told.
"""

from __future__ import annotations

import os
import re

from pytest_llmfunnel import Case, Output, ToolCall

SWITCH = "LLMFUNNEL_DEMO_REGRESSION"

#: The shop's FAQ: keywords that pick an answer, and the answer.
FAQ: tuple[tuple[tuple[str, ...], str], ...] = (
    (("international", "abroad", "country", "countries"),
     "We ship to 20 countries in Europe; international shipping takes 5 to 8 business days."),
    (("ship", "shipping", "deliver", "delivery"),
     "Standard shipping takes 3 to 5 business days; express shipping takes 1 business day."),
    (("return", "returns"),
     "You can return any item within 30 days of delivery; the return label is free."),
    (("hours", "open", "opening"),
     "Our support team is available Monday to Friday, 9:00 to 17:00."),
    (("password", "login", "log"),
     "You can reset your password from the sign-in page with the 'Forgot password' link."),
    (("pay", "payment", "card", "paypal"),
     "We accept credit cards and PayPal; you are charged when your order ships."),
)


def forgetful() -> bool:
    """The demo regression's switch: the assistant sees only the last user message."""
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def _memory(said: list[str]) -> dict[str, str]:
    """What the user told the assistant, from their messages so far."""
    facts: dict[str, str] = {}
    for text in said:
        if order := re.search(r"\b(\d{5})\b", text):
            facts["order"] = order[1]
        if name := re.search(r"\bmy name is ([A-Z][a-z]+)", text):
            facts["name"] = name[1]
        if email := re.search(r"[\w.+-]+@[\w-]+\.\w+", text):
            facts["email"] = email[0]
    return facts


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def reply(history: list[tuple[str, str]]) -> Output:
    """The assistant's reply to the last user message of ``history`` ((role, content) pairs)."""
    said = [content for role, content in history if role == "user"]
    last = said[-1]
    facts = _memory(said[-1:] if forgetful() else said)
    words = _words(last)
    order, name = facts.get("order"), facts.get("name")
    greet = f", {name}" if name else ""
    if "refund" in words or "money" in words:
        if order is None:
            return Output(text="I can help with a refund. What is your order number?")
        call = ToolCall(name="start_refund", arguments={"order": order},
                        result={"status": "started"})
        return Output(
            text=f"I have started a refund for order {order}{greet}; refunds are paid "
                 "within 14 days of the return arriving.",
            tool_calls=(call,),
        )
    if words & {"where", "status", "track", "arrive", "arrived"} and "order" in words:
        if order is None:
            return Output(text="I can check that. What is your order number?")
        return Output(text=f"Order {order} is on its way and should arrive within 3 to 5 "
                           "business days.")
    for keywords, answer in FAQ:
        if words & set(keywords):
            return Output(text=answer)
    if words & {"thanks", "thank", "bye"}:
        return Output(text=f"You are welcome{greet}! Have a good day.")
    if words & {"email", "mail"}:
        where = facts.get("email")
        if where is None:
            return Output(text="Which e-mail address should we use?")
        return Output(text=f"Noted: we will write to {where} about your order.")
    if order is not None and order in last:
        return Output(text=f"Thank you{greet}, I have noted order {order}. How can I help "
                           "with it?")
    if name is not None and name in last:
        return Output(text=f"Hello {name}! How can I help you with your order today?")
    return Output(text="Sorry, I can only help with orders, shipping, returns, refunds, "
                       "payment and sign-in.")


def support_assistant(case: Case) -> Output:
    """The target: one turn's reply, given the conversation so far as the case's input."""
    messages = case.input if not isinstance(case.input, str) else ()
    history = [(m.role, m.content) for m in messages] or [("user", case.input_text())]
    return reply(history)
