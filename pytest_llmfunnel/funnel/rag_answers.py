"""What the RAG judges must answer, how it is checked, and the score computed from it.

Each RAG judge answers with verdicts, not a number: a verdict per claim
(faithfulness, context recall), per chunk (context precision) or per
statement (answer relevance). The answer is parsed as strictly as a rubric
judge's (:mod:`pytest_llmfunnel.funnel.judge_answers`), then checked against
the request (every chunk number cited exists; a precision answer lists every
chunk exactly once), and the score, in ``[0, 1]``, is computed here:

faithfulness
    supported claims / claims. An answer that makes no claim (it says the
    chunks do not hold the answer) has nothing unsupported: 1.
context precision (order-aware)
    the average precision of the ranking: with ``rel_k`` 1 when the chunk at
    rank k is relevant, ``AP = sum_k (P@k * rel_k) / R``, where ``P@k`` is
    the share of relevant chunks among the first k and ``R`` the number of
    relevant chunks; 0 when none is relevant. A relevant chunk ranked below
    irrelevant ones lowers it; the same chunks in a better order raise it.
context relevance (``order_aware=False``)
    relevant chunks / chunks.
context recall
    attributed claims of the expected answer / claims (at least one claim).
answer relevance
    relevant statements / statements, and 0 when the answer is noncommittal.

Scores are rounded to four decimals, so a score reads the same in the cache,
the lockfile and every report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.backend import Completion, JudgeSubject
from pytest_llmfunnel.funnel.judge_answers import JudgeParseError, parse_structured
from pytest_llmfunnel.output import Chunk

RagKind = Literal["faithfulness", "context_precision", "context_recall", "answer_relevance"]
DIGITS = 4
#: How much of a claim, statement or reason the summary quotes.
QUOTE_LIMIT = 80


@dataclass(frozen=True)
class RagSubject(JudgeSubject):
    """A RAG request's plain fields: the judge kind and the retrieved chunks.

    ``output`` is the answer's text and ``expected`` the expected answer, as
    for a rubric judge; the offline reference judge reads these fields.
    """

    kind: RagKind = "faithfulness"
    chunks: tuple[Chunk, ...] = ()
    order_aware: bool = True


class _Answer(BaseModel):
    # strict: "true" is not a boolean and "2" is not a chunk number.
    # defer_build: a run without a RAG judge never validates one (start-up cost).
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)


class ClaimSupport(_Answer):
    claim: str
    supported: bool
    chunk: int | None


class FaithfulnessAnswer(_Answer):
    """Each claim of the output, supported by a chunk (its number) or not (null)."""

    reasoning: str
    claims: list[ClaimSupport]


class ChunkRelevance(_Answer):
    chunk: int
    relevant: bool
    reason: str


class ContextPrecisionAnswer(_Answer):
    """Every retrieved chunk, once, relevant to the question or not."""

    reasoning: str
    chunks: list[ChunkRelevance]


class ClaimAttribution(_Answer):
    claim: str
    attributed: bool
    chunk: int | None


class ContextRecallAnswer(_Answer):
    """Each claim of the expected answer, found in a chunk (its number) or not."""

    reasoning: str
    claims: list[ClaimAttribution]


class StatementRelevance(_Answer):
    statement: str
    relevant: bool


class AnswerRelevanceAnswer(_Answer):
    """Each statement of the output, relevant to the question or not; evasive or not."""

    reasoning: str
    noncommittal: bool
    statements: list[StatementRelevance]


ANSWERS: dict[str, type[BaseModel]] = {
    "faithfulness": FaithfulnessAnswer,
    "context_precision": ContextPrecisionAnswer,
    "context_recall": ContextRecallAnswer,
    "answer_relevance": AnswerRelevanceAnswer,
}


def average_precision(relevant: Sequence[bool]) -> float:
    """Average precision of a ranking given each rank's relevance (0 if none is relevant)."""
    hits, total = 0, 0.0
    for rank, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def _quote(text: str) -> str:
    return repr(truncate(" ".join(text.split()), QUOTE_LIMIT, at_word=True))


def _cited(chunk: int | None, yes: bool, what: str, chunks: int) -> None:
    if yes and chunk is None:
        raise JudgeParseError("schema", f"a {what} claim names no chunk (chunk is null)")
    if not yes and chunk is not None:
        raise JudgeParseError(
            "schema", f"a claim that is not {what} names chunk {chunk}; it should be null"
        )
    if chunk is not None and not 1 <= chunk <= chunks:
        raise JudgeParseError(
            "out_of_range", f"chunk {chunk} does not exist (the chunks are numbered 1-{chunks})"
        )


def _score(value: float) -> float:
    return round(value, DIGITS)


def _faithfulness(answer: FaithfulnessAnswer, subject: RagSubject) -> tuple[float, str]:
    for c in answer.claims:
        _cited(c.chunk, c.supported, "supported", len(subject.chunks))
    if not answer.claims:
        return 1.0, f"no factual claims, so nothing unsupported. {answer.reasoning}"
    supported = [c for c in answer.claims if c.supported]
    score = _score(len(supported) / len(answer.claims))
    lines = [f"{len(supported)} of {len(answer.claims)} claims supported by the chunks"]
    lines += [f"unsupported: {_quote(c.claim)}" for c in answer.claims if not c.supported]
    lines += [f"chunk {c.chunk} supports {_quote(c.claim)}" for c in supported]
    return score, "; ".join(lines) + f". {answer.reasoning}"


def _precision(answer: ContextPrecisionAnswer, subject: RagSubject) -> tuple[float, str]:
    count = len(subject.chunks)
    numbers = [c.chunk for c in answer.chunks]
    if sorted(numbers) != list(range(1, count + 1)):
        raise JudgeParseError(
            "schema",
            f"the answer must list each of the chunks 1-{count} exactly once, got {numbers}",
        )
    by_rank = sorted(answer.chunks, key=lambda c: c.chunk)
    flags = [c.relevant for c in by_rank]
    share = sum(flags) / count
    ap = average_precision(flags)
    marks = " ".join(f"{c.chunk}{'+' if c.relevant else '-'}" for c in by_rank)
    summary = (
        f"{sum(flags)} of {count} chunks relevant ({marks}); "
        f"average precision {ap:.4g}, share relevant {share:.4g}"
    )
    reasons = [f"chunk {c.chunk}: {_quote(c.reason)}" for c in by_rank if not c.relevant]
    text = "; ".join([summary, *reasons]) + f". {answer.reasoning}"
    return _score(ap if subject.order_aware else share), text


def _recall(answer: ContextRecallAnswer, subject: RagSubject) -> tuple[float, str]:
    if not answer.claims:
        raise JudgeParseError("schema", "the answer lists no claims of the expected answer")
    for c in answer.claims:
        _cited(c.chunk, c.attributed, "attributed", len(subject.chunks))
    found = [c for c in answer.claims if c.attributed]
    lines = [f"{len(found)} of {len(answer.claims)} expected claims found in the chunks"]
    lines += [f"missing: {_quote(c.claim)}" for c in answer.claims if not c.attributed]
    lines += [f"chunk {c.chunk} holds {_quote(c.claim)}" for c in found]
    return _score(len(found) / len(answer.claims)), "; ".join(lines) + f". {answer.reasoning}"


def _answer_relevance(answer: AnswerRelevanceAnswer, subject: RagSubject) -> tuple[float, str]:
    statements = answer.statements
    relevant = [s for s in statements if s.relevant]
    lines = [f"{len(relevant)} of {len(statements)} statements relevant to the question"]
    lines += [f"off the question: {_quote(s.statement)}" for s in statements if not s.relevant]
    if answer.noncommittal:
        return 0.0, "; ".join(["noncommittal answer, so 0", *lines]) + f". {answer.reasoning}"
    if not statements:
        return 0.0, f"no statements. {answer.reasoning}"
    return _score(len(relevant) / len(statements)), "; ".join(lines) + f". {answer.reasoning}"


SHAPES = {
    "faithfulness": '{"reasoning": string, "claims": [{"claim": string, "supported": bool, '
    '"chunk": int | null}]}',
    "context_precision": '{"reasoning": string, "chunks": [{"chunk": int, "relevant": bool, '
    '"reason": string}]}',
    "context_recall": '{"reasoning": string, "claims": [{"claim": string, "attributed": bool, '
    '"chunk": int | null}]}',
    "answer_relevance": '{"reasoning": string, "noncommittal": bool, "statements": '
    '[{"statement": string, "relevant": bool}]}',
}


def parse_rag_answer(completion: Completion, subject: RagSubject) -> tuple[float, str]:
    """``(score in [0, 1], reasoning)`` from a RAG judge's answer; raises JudgeParseError.

    The reasoning starts with what decided the score (the counts, the
    unsupported claims or missing ones, the chunk behind each supported one),
    then the judge's own reasoning.
    """
    kind = subject.kind
    value = parse_structured(completion, ANSWERS[kind], SHAPES[kind])
    if isinstance(value, FaithfulnessAnswer):
        return _faithfulness(value, subject)
    if isinstance(value, ContextPrecisionAnswer):
        return _precision(value, subject)
    if isinstance(value, ContextRecallAnswer):
        return _recall(value, subject)
    assert isinstance(value, AnswerRelevanceAnswer)
    return _answer_relevance(value, subject)
