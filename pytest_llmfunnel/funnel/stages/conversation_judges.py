"""Whole-conversation judges: goal completed, consistent, remembers earlier facts.

Each grades a conversation (the output's ``messages``: a live target's
turns, or a row's logged ``messages``) as a whole, pass/fail:

* :func:`goal_completed`: did the assistant complete the user's goal (the
  case's ``goal``, else its ``expected`` outcome)?
* :func:`consistent`: does the assistant never contradict itself?
* :func:`remembers_facts`: does the assistant retain what the user said
  earlier (knowledge retention)?

Each is a :class:`~pytest_llmfunnel.funnel.stages.judge_kinds.RubricJudge`
on the pass/fail scale with its own prompt
(:mod:`pytest_llmfunnel.funnel.conversation_prompts`, every message fenced
as untrusted), so the funnel, the cache (keyed by the whole conversation),
the baseline, the gate (``<name> pass rate``) and the reports treat it like
any judge. The offline reference judge answers them by the rules of
:mod:`pytest_llmfunnel.funnel.offline_conversation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_llmfunnel.funnel.backend import JudgeRequest, JudgeSubject, outputs_digest
from pytest_llmfunnel.funnel.conversation_prompts import (
    TASKS,
    ConversationKind,
    render_conversation_messages,
)
from pytest_llmfunnel.funnel.judge_answers import PassFailAnswer, shared_response_format
from pytest_llmfunnel.funnel.stages.judge_kinds import MissingFieldError, RubricJudge
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Message, Output

__all__ = ["ConversationJudge", "ConversationSubject", "consistent", "goal_completed",
           "remembers_facts"]


@dataclass(frozen=True)
class ConversationSubject(JudgeSubject):
    """A whole-conversation request's plain fields, for the offline reference judge."""

    kind: ConversationKind = "goal_completed"
    messages: tuple[Message, ...] = ()
    goal: str | None = None


def conversation_messages(case: Case, whole: Output) -> tuple[Message, ...]:
    """The conversation judged: the output's messages, else the input and the answer."""
    if whole.messages:
        return whole.messages
    return (Message(role="user", content=case.input_text()),
            Message(role="assistant", content=whole.text, tool_calls=whole.tool_calls))


@dataclass(eq=False)
class ConversationJudge(RubricJudge):
    """A judge of a whole conversation (see the module); pass/fail."""

    aspect: ConversationKind = "goal_completed"

    whole_conversation: ClassVar[bool] = True
    #: What the judge identity renders to version the prompt: a one-turn conversation.
    probe_output: ClassVar[Output] = Output(text="probe reply", messages=(
        Message(role="user", content="probe question"),
        Message(role="assistant", content="probe reply"),
    ))

    def __post_init__(self) -> None:
        if self.aspect not in TASKS:
            raise ValueError(f"judge {self.name!r}: aspect must be one of {', '.join(TASKS)}, "
                             f"got {self.aspect!r}")
        if self.scale != "pass_fail":
            raise ValueError(f"judge {self.name!r}: a conversation judge is pass/fail")
        super().__post_init__()

    def requests(
        self, case: Case, output: str | Output, *, model: str, base_url: str, json_schema: bool
    ) -> list[JudgeRequest]:
        """The exact requests for one conversation, one per repeat.

        Raises MissingFieldError when the goal judge's case has neither a goal
        nor an expected outcome.
        """
        whole = Output.of(output)
        task = TASKS[self.aspect]
        goal = (case.goal or case.expected) if task.shows_goal else None
        if task.shows_goal and not (goal or "").strip():
            raise MissingFieldError(
                f"judge {self.name!r} needs the user's goal but case {case.id!r} has none; "
                "add goal (or expected) to the dataset row or drop this judge for it"
            )
        messages = conversation_messages(case, whole)
        rendered = render_conversation_messages(task, messages, goal)
        answer = shared_response_format(PassFailAnswer, "judge_answer", json_schema=json_schema)
        body = self._body(rendered, model, answer)
        subject = ConversationSubject(
            self.criterion, case.input_text(), whole.text, None, goal, 0.0, 1.0,
            structured=whole, kind=self.aspect, messages=messages, goal=goal,
        )
        digest = outputs_digest(whole)
        return [
            JudgeRequest(body=body, base_url=base_url, repeat=i, subject=subject,
                         output_digest=digest)
            for i in range(self.repeats)
        ]


def _conversation(kind: ConversationKind, default_name: str, **kw: Any) -> ConversationJudge:
    task = TASKS[kind]
    kw.setdefault("scale", "pass_fail")
    kw.setdefault("fields", ())
    return ConversationJudge(kw.pop("name", default_name), task.criterion, task.steps,
                             aspect=kind, **kw)


def goal_completed(**kw: Any) -> ConversationJudge:
    """Did the assistant complete the user's goal (the case's ``goal``, else ``expected``)?

    Keyword arguments as for a rubric judge (``name``, ``gating``, ``repeats``, ...).
    """
    return _conversation("goal_completed", "goal_completed", **kw)


def consistent(**kw: Any) -> ConversationJudge:
    """Does the assistant never contradict what it said in earlier turns?"""
    return _conversation("consistency", "consistent", **kw)


def remembers_facts(**kw: Any) -> ConversationJudge:
    """Does the assistant retain the facts the user gave earlier (knowledge retention)?"""
    return _conversation("knowledge_retention", "remembers_facts", **kw)
