"""Reading a conversation row: its scripted ``turns`` and its pre-logged ``messages``.

``turns`` is a list whose items are a user message (a string) or an object
``{user, expected, expected_tool_calls}``; ``messages`` is a logged
conversation, a list of ``{role, content, tool_calls}``. In a CSV either is a
cell holding the list as JSON. Each reader raises :class:`RowError` naming the
turn or message at fault (``turn 2: field 'user': Field required``);
:mod:`pytest_llmfunnel.dataset.load` adds the file and line.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from pytest_llmfunnel.dataset import json_rows as dataset_json
from pytest_llmfunnel.dataset.readers import kind
from pytest_llmfunnel.dataset.row_fields import RowError
from pytest_llmfunnel.models import Turn
from pytest_llmfunnel.output import Message, Output


def _list(column: str, value: Any, from_text: bool, what: str) -> list[Any]:
    if from_text and isinstance(value, str):
        try:
            value = dataset_json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError(
                column, f"should hold a JSON list of {what}: {exc.msg} at char {exc.pos}"
            ) from None
        except dataset_json.JSONProblem as exc:
            raise RowError(column, f"the JSON in this cell is refused: {exc}") from None
    if not isinstance(value, list) or not value:
        raise RowError(column, f"should be a non-empty list of {what}, got {kind(value)}")
    return value


def _problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
    return f"field '{where}': {message}" if where else message


def turns(column: str, value: Any, from_text: bool) -> tuple[Turn, ...]:
    """The scripted user turns of a conversation row (see the module)."""
    items = _list(column, value, from_text, "user turns (strings or {user, expected, ...})")
    result = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, str):
            item = {"user": item}
        if not isinstance(item, dict):
            raise RowError(
                column, f"turn {number} should be a string or an object {{user, expected, "
                f"...}}, got {kind(item)}"
            )
        try:
            turn = Turn.model_validate(item)
        except ValidationError as exc:
            raise RowError(column, f"turn {number}: {_problem(exc)}") from None
        if not turn.user.strip():
            raise RowError(column, f"turn {number}: the user message is empty")
        result.append(turn)
    return tuple(result)


def messages(column: str, value: Any, from_text: bool) -> Output:
    """A pre-logged conversation as an Output: its messages, its text the last reply."""
    items = _list(column, value, from_text, "messages {role, content}")
    parsed = []
    for number, item in enumerate(items, start=1):
        try:
            parsed.append(Message.model_validate(item))
        except ValidationError as exc:
            raise RowError(column, f"message {number}: {_problem(exc)}") from None
    if not any(m.role == "user" for m in parsed):
        raise RowError(column, "a logged conversation needs at least one user message")
    replies = [m.content for m in parsed if m.role == "assistant"]
    return Output(text=replies[-1] if replies else "", messages=tuple(parsed))


def first_user_message(turn_list: tuple[Turn, ...] | None, output: Output | None) -> str | None:
    """The conversation's opening user message: what stands as the case's ``input``."""
    if turn_list:
        return turn_list[0].user
    if output is not None:
        return next(m.content for m in output.messages if m.role == "user")
    return None
