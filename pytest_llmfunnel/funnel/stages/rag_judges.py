"""RAG judges: an answer and its retrieval, graded against the chunks the retriever found.

A target that returns an :class:`~pytest_llmfunnel.output.Output` with
``context`` (its retrieved chunks, in rank order) can be graded on the
retrieval itself, not only on the answer:

* :func:`rag_faithfulness`: is each claim of the answer supported by a chunk
  (and which one)?
* :func:`context_precision`: is each chunk relevant to the question, and are
  the relevant ones ranked first (average precision)? With
  ``order_aware=False`` it is the plain share of relevant chunks
  (``context_relevance``).
* :func:`context_recall`: do the chunks hold each claim of the case's
  ``expected`` answer?
* :func:`answer_relevance`: does each statement of the answer address the
  question, and is the answer not evasive?

Each is a :class:`~pytest_llmfunnel.funnel.stages.judge_kinds.RubricJudge`
on the scale 0-1 whose judge answers with verdicts per claim, chunk or
statement (:mod:`pytest_llmfunnel.funnel.rag_answers`) from which the score
is computed; so the funnel, the cache, the baseline, the gate and the reports
treat it like any judge: ``<name> pass rate`` (gated) and ``<name> mean
score``. The default threshold is 0.75. A case whose output has no chunks,
or which lacks the expected answer a judge needs, gets an error verdict that
names the missing field, never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_llmfunnel.funnel.backend import Completion, JudgeRequest, outputs_digest
from pytest_llmfunnel.funnel.judge_answers import JudgeParseError
from pytest_llmfunnel.funnel.rag_answers import ANSWERS, RagKind, RagSubject, parse_rag_answer
from pytest_llmfunnel.funnel.rag_prompts import TASKS, render_rag_messages
from pytest_llmfunnel.funnel.stages.judge_kinds import MissingFieldError, RubricJudge
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Chunk, Output

__all__ = [
    "RagJudge",
    "answer_relevance",
    "context_precision",
    "context_recall",
    "rag_faithfulness",
]

NO_CHUNKS = (
    "return an Output with context=[Chunk(text=...), ...] from the target, or log the "
    "chunks in the dataset row's output, or drop this judge for it"
)


@dataclass(eq=False)
class RagJudge(RubricJudge):
    """A judge of a retrieval-augmented answer against its retrieved chunks (see the module).

    Args:
        aspect: which RAG judge: ``"faithfulness"``, ``"context_precision"``,
            ``"context_recall"`` or ``"answer_relevance"``.
        order_aware: context precision only: average precision over the
            ranking (True) or the plain share of relevant chunks (False).
        Everything else as for a rubric judge; the scale is always 0-1.
    """

    aspect: RagKind = "faithfulness"
    order_aware: bool = True

    #: What :func:`~pytest_llmfunnel.gate.baseline_side.judge_identities` renders to
    #: version the prompt: an output with one chunk, so every RAG judge can render.
    probe_output: ClassVar[Output] = Output(text="probe output", context=(Chunk(text="probe"),))

    def __post_init__(self) -> None:
        if self.aspect not in TASKS:
            raise ValueError(
                f"judge {self.name!r}: aspect must be one of {', '.join(TASKS)}, "
                f"got {self.aspect!r}"
            )
        if self.scale != (0, 1) and self.scale != (0.0, 1.0):
            raise ValueError(f"judge {self.name!r}: a RAG judge's scale is 0-1, got {self.scale!r}")
        super().__post_init__()

    def _check_fields(self, case: Case, whole: Output) -> None:
        shows = TASKS[self.aspect].shows
        if "CHUNKS" in shows and not whole.context:
            raise MissingFieldError(
                f"judge {self.name!r} needs the retrieved chunks (the output's context) but "
                f"case {case.id!r} has none; {NO_CHUNKS}"
            )
        if "EXPECTED" in shows and not (case.expected or "").strip():
            raise MissingFieldError(
                f"judge {self.name!r} needs an expected answer but case {case.id!r} has none; "
                "add expected to the dataset row or drop this judge for it"
            )

    def requests(
        self,
        case: Case,
        output: str | Output,
        *,
        model: str,
        base_url: str,
        json_schema: bool,
    ) -> list[JudgeRequest]:
        """The exact requests for one output, one per repeat.

        Raises MissingFieldError when the output has no chunks (or the case no
        expected answer) and the judge needs them.
        """
        whole = Output.of(output)
        self._check_fields(case, whole)
        task = TASKS[self.aspect]
        question = case.input_text()
        expected = case.expected if "EXPECTED" in task.shows else None
        messages = render_rag_messages(
            task, input=question, chunks=whole.context, expected=expected, output=whole.text
        )
        subject = RagSubject(
            self.criterion, question, whole.text, None, expected, 0.0, 1.0,
            structured=whole, kind=self.aspect, chunks=whole.context,
            order_aware=self.order_aware,
        )
        # Keyed by the whole output, like every judge's verdict (see JudgeRequest).
        return self._requests(
            messages, ANSWERS[self.aspect], f"rag_{self.aspect}_answer", subject,
            outputs_digest(whole), model=model, base_url=base_url, json_schema=json_schema,
            repeats=self.repeats,
        )

    def parse(
        self, completion: Completion, request: JudgeRequest | None = None
    ) -> tuple[float, str]:
        subject = request.subject if request is not None else None
        if not isinstance(subject, RagSubject):
            raise JudgeParseError("no_subject", "a RAG judge's answer is read with its request")
        return parse_rag_answer(completion, subject)

    def valid_score(self, score: float) -> bool:
        return 0.0 <= score <= 1.0


def _rag(kind: RagKind, default_name: str, **kw: Any) -> RagJudge:
    task = TASKS[kind]
    kw.setdefault("scale", (0, 1))
    kw.setdefault("fields", ())
    # A verdict per claim or chunk is longer than a score and one reason.
    kw.setdefault("max_tokens", 1024)
    return RagJudge(kw.pop("name", default_name), task.criterion, task.steps, aspect=kind, **kw)


def rag_faithfulness(**kw: Any) -> RagJudge:
    """Is each claim of the answer supported by a retrieved chunk? Score: supported share.

    Keyword arguments as for :class:`RagJudge` (``name``, ``threshold``,
    ``gating``, ``repeats``, ``model``, ...).
    """
    return _rag("faithfulness", "rag_faithfulness", **kw)


def context_precision(*, order_aware: bool = True, **kw: Any) -> RagJudge:
    """Is each retrieved chunk relevant to the question? Score: average precision.

    With ``order_aware=False`` the score is the share of relevant chunks and
    the default name ``context_relevance``.
    """
    name = "context_precision" if order_aware else "context_relevance"
    return _rag("context_precision", name, order_aware=order_aware, **kw)


def context_recall(**kw: Any) -> RagJudge:
    """Do the chunks hold each claim of the case's expected answer? (Requires it.)"""
    return _rag("context_recall", "context_recall", **kw)


def answer_relevance(**kw: Any) -> RagJudge:
    """Does each statement of the answer address the question? 0 if it is evasive."""
    return _rag("answer_relevance", "answer_relevance", **kw)
