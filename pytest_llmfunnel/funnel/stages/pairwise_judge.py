"""The pairwise judge: two variants' outputs on the same case, compared in both orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_llmfunnel.funnel import prompts
from pytest_llmfunnel.funnel.backend import Completion, JudgeRequest, JudgeSubject, outputs_digest
from pytest_llmfunnel.funnel.judge_answers import (
    WINNER_SCORES,
    PairwiseAnswer,
    parse_pairwise_answer,
)
from pytest_llmfunnel.funnel.stages.judge_base import BaseJudge
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output

__all__ = ["PairwiseJudge", "pairwise"]


@dataclass(eq=False)
class PairwiseJudge(BaseJudge):
    """Compares two variants' outputs on the same case, judging both orders.

    Each order is one request (A=first, B=second, then swapped); the answers
    are mapped back to variant names and orders that disagree count as a tie,
    which keeps the judge's position bias out of the result. A comparison
    measures; it never gates promotion.
    """

    gating: ClassVar[bool] = False
    must: ClassVar[bool] = False

    def requests(
        self,
        case: Case,
        output_a: str | Output,
        output_b: str | Output,
        *,
        model: str,
        base_url: str,
        json_schema: bool,
    ) -> list[JudgeRequest]:
        """Two requests: ``output_a`` shown as A, then ``output_b`` shown as A.

        Each side is shown with its own retrieved chunks (when the judge is
        shown the context) and tool calls (when it is shown ``tool_calls``);
        the cache key covers both whole outputs either way.
        """
        context, expected = self._case_fields(case)
        text = case.input_text()
        whole_a, whole_b = Output.of(output_a), Output.of(output_b)
        chunks = "context" in self.fields
        tools = "tool_calls" in self.fields
        result = []
        for first, second in ((whole_a, whole_b), (whole_b, whole_a)):
            messages = prompts.render_pairwise_messages(
                self.rubric,
                self.criterion,
                input=text,
                output_a=first.text,
                output_b=second.text,
                context=context,
                expected=expected,
                chunks_a=first.context if chunks else (),
                tool_calls_a=first.tool_calls if tools else (),
                chunks_b=second.context if chunks else (),
                tool_calls_b=second.tool_calls if tools else (),
            )
            subject = JudgeSubject(
                self.criterion, text, first.text, context, expected, 0.0, 1.0,
                output_b=second.text,
            )
            result += self._requests(
                messages, PairwiseAnswer, "pairwise_answer", subject,
                outputs_digest(first, second),
                model=model, base_url=base_url, json_schema=json_schema,
            )
        return result

    def parse(
        self, completion: Completion, request: JudgeRequest | None = None
    ) -> tuple[float, str]:
        answer = parse_pairwise_answer(completion)
        return WINNER_SCORES[answer.winner], answer.reasoning

    def valid_score(self, score: float) -> bool:
        return score in WINNER_SCORES.values()


def pairwise(criterion: str = "overall", rubric: str | None = None, **kw: Any) -> PairwiseJudge:
    """A pairwise judge; a built-in criterion's rubric is applied to both outputs."""
    if rubric is None and criterion in prompts.RUBRICS:
        rubric = (
            "Apply this standard to each output and prefer the one that meets it better:\n"
            + prompts.RUBRICS[criterion]
        )
    text = rubric if rubric is not None else prompts.PAIRWISE_RUBRIC
    return PairwiseJudge(kw.pop("name", f"pairwise_{criterion}"), criterion, text, **kw)
