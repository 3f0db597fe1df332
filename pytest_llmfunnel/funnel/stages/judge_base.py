"""What every LLM judge kind shares: its identity, its sampling, what it is shown.

A judge describes one stage: :class:`BaseJudge` holds what rubric judges
(:mod:`pytest_llmfunnel.funnel.stages.judge_kinds`), RAG judges
(:mod:`pytest_llmfunnel.funnel.stages.rag_judges`) and pairwise judges
(:mod:`pytest_llmfunnel.funnel.stages.pairwise_judge`) have in common, and
builds the request tail for all of them, so a request body (and with it its
cache key) is put together in exactly one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel

from pytest_llmfunnel.funnel.backend import Completion, JudgeRequest, JudgeSubject
from pytest_llmfunnel.funnel.judge_answers import shared_response_format
from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.models import Case

__all__ = ["BaseJudge", "CaseField", "MissingFieldError", "ShownField"]

#: A case field a judge can require.
CaseField = Literal["context", "expected"]
#: What a judge can be shown beside the input and the output: the case's
#: ``context`` (and the output's retrieved chunks with it), its ``expected``
#: answer, and the output's ``tool_calls`` with their results.
ShownField = Literal["context", "expected", "tool_calls"]


class MissingFieldError(ValueError):
    """The case lacks a field (``context``, ``expected``) the judge needs."""


@dataclass(eq=False)
class BaseJudge:
    """What rubric and pairwise judges share: identity, sampling and shown fields."""

    kind: ClassVar[str] = "judge"

    name: str
    criterion: str
    rubric: str
    _: KW_ONLY
    model: str | None = None
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 512
    fields: Sequence[ShownField] = ("context", "expected", "tool_calls")

    def _case_fields(
        self, case: Case, requires: Sequence[CaseField] = ()
    ) -> tuple[str | None, str | None]:
        """The case's context and expected as shown to this judge."""
        missing = [name for name in requires if getattr(case, name) is None]
        if missing:
            names = " and ".join(missing)
            raise MissingFieldError(
                f"judge {self.name!r} needs {names} but case {case.id!r} has none; "
                f"add {names} to the dataset row or drop this judge for it"
            )
        shown = (*self.fields, *requires)
        return (
            case.context if "context" in shown else None,
            case.expected if "expected" in shown else None,
        )

    def _body(
        self, messages: list[dict[str, str]], model: str, response: JSONObject
    ) -> JSONObject:
        return {
            "model": self.model or model,
            "messages": messages,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "response_format": response,
        }

    def _requests(
        self,
        messages: list[dict[str, str]],
        answer: type[BaseModel],
        answer_name: str,
        subject: JudgeSubject,
        digest: str | None,
        *,
        model: str,
        base_url: str,
        json_schema: bool,
        repeats: int = 1,
    ) -> list[JudgeRequest]:
        """The requests for rendered ``messages``: one per repeat, differing by index only.

        Every judge kind ends here, so the body (and with it the cache key)
        is built the same way for all of them.
        """
        response = shared_response_format(answer, answer_name, json_schema=json_schema)
        body = self._body(messages, model, response)
        return [
            JudgeRequest(
                body=body, base_url=base_url, repeat=i, subject=subject, output_digest=digest
            )
            for i in range(repeats)
        ]

    def parse(
        self, completion: Completion, request: JudgeRequest | None = None
    ) -> tuple[float, str]:
        """``(score as stored, reasoning)`` of the answer to ``request``; raises JudgeParseError."""
        raise NotImplementedError

    def valid_score(self, score: float) -> bool:
        """Whether a stored score can have come from this judge."""
        raise NotImplementedError
