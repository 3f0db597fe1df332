"""The offline reference judge's rules for the RAG judges: word overlap, per claim and chunk.

Like the rubric rules of :mod:`pytest_llmfunnel.funnel.offline_judge`, whose
*content words* they compare (:mod:`pytest_llmfunnel.funnel.offline_words`:
lowercased, stop words dropped, lightly stemmed), these rules are
deliberately simple and predictable; they are not an LLM and say so. They
answer in the same structured form an LLM judge must use
(:mod:`pytest_llmfunnel.funnel.rag_answers`), so their answers are checked
and scored by the same code, and every reasoning starts with
:data:`~pytest_llmfunnel.funnel.offline_words.PREFIX`.

Sentences
    the text split after ``.``, ``!`` or ``?`` followed by white space, and
    at line breaks.
Key words of a claim
    its content words that are not in the question (repeating the question
    claims nothing); if that leaves none, all its content words. A sentence
    without content words is not a claim.
Best chunk for a claim
    the chunk holding the largest share of the claim's key words (the
    higher-ranked one on a tie).

faithfulness
    each sentence of the output with key words is a claim; it is supported,
    by its best chunk, when that chunk holds at least
    :data:`SUPPORT_SHARE` (70%) of its key words.
context precision
    a chunk is relevant when it holds at least :data:`RELEVANT_SHARE` (50%)
    of the question's content words (none is, when the question has none).
context recall
    each sentence of the expected answer with key words is a claim; it is
    attributed to its best chunk when that chunk holds at least 70% of them.
answer relevance
    each sentence of the output with content words is a statement; it is
    relevant when it shares at least one content word with the question. The
    answer is noncommittal when it contains a phrase of :data:`NONCOMMITTAL`
    ("it depends", "not sure", ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pytest_llmfunnel.funnel.backend import JudgeCallError
from pytest_llmfunnel.funnel.offline_words import PREFIX, content_words
from pytest_llmfunnel.funnel.rag_answers import RagSubject

SUPPORT_SHARE = 0.7
RELEVANT_SHARE = 0.5
NONCOMMITTAL = (
    "it depends",
    "depends on",
    "not sure",
    "i don't know",
    "i do not know",
    "cannot answer",
    "can't answer",
    "cannot help",
    "contact support",
    "no information",
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_NONCOMMITTAL = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in NONCOMMITTAL) + r")\b", re.IGNORECASE
)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see the module), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def claims(text: str, question: str) -> list[tuple[str, set[str]]]:
    """Each sentence of ``text`` that is a claim, with its key words."""
    asked = content_words(question)
    found = []
    for sentence in sentences(text):
        own = content_words(sentence)
        key = (own - asked) or own
        if key:
            found.append((sentence, key))
    return found


def best_chunk(key: set[str], chunks: Sequence[set[str]]) -> tuple[int, float]:
    """``(number from 1, share of key words it holds)`` of the best chunk for a claim."""
    shares = [len(key & chunk) / len(key) for chunk in chunks]
    best = max(range(len(shares)), key=lambda i: (shares[i], -i))
    return best + 1, shares[best]


def _rule(name: str, text: str) -> str:
    return f"{PREFIX}, RAG {name} rule: {text}"


def _attributed(
    subject: RagSubject, text: str, flag: str, label: str, by: str
) -> dict[str, object]:
    chunk_words = [content_words(c.text) for c in subject.chunks]
    rows: list[dict[str, object]] = []
    for sentence, key in claims(text, subject.input):
        number, share = best_chunk(key, chunk_words)
        held = share >= SUPPORT_SHARE
        rows.append({"claim": sentence, flag: held, "chunk": number if held else None})
    rule = _rule(
        label,
        f"a claim is {flag} {by} the chunk holding the most of its key words when that "
        f"chunk holds at least {SUPPORT_SHARE:.0%} of them",
    )
    return {"reasoning": rule, "claims": rows}


def faithfulness(subject: RagSubject) -> dict[str, object]:
    return _attributed(subject, subject.output, "supported", "faithfulness", "by")


def context_recall(subject: RagSubject) -> dict[str, object]:
    return _attributed(subject, subject.expected or "", "attributed", "context recall", "to")


def context_precision(subject: RagSubject) -> dict[str, object]:
    asked = content_words(subject.input)
    rows: list[dict[str, object]] = []
    for number, chunk in enumerate(subject.chunks, start=1):
        held = asked & content_words(chunk.text)
        share = len(held) / len(asked) if asked else 0.0
        rows.append(
            {
                "chunk": number,
                "relevant": bool(asked) and share >= RELEVANT_SHARE,
                "reason": f"holds {len(held)} of the question's {len(asked)} content words",
            }
        )
    rule = _rule(
        "context precision",
        f"a chunk is relevant when it holds at least {RELEVANT_SHARE:.0%} of the question's "
        "content words",
    )
    return {"reasoning": rule, "chunks": rows}


def answer_relevance(subject: RagSubject) -> dict[str, object]:
    asked = content_words(subject.input)
    rows: list[dict[str, object]] = [
        {"statement": s, "relevant": bool(asked & content_words(s))}
        for s in sentences(subject.output)
        if content_words(s)
    ]
    evasive = sorted({m.group().lower() for m in _NONCOMMITTAL.finditer(subject.output)})
    rule = _rule(
        "answer relevance",
        "a statement is relevant when it shares a content word with the question; "
        + (f"noncommittal phrases found: {', '.join(evasive)}" if evasive
           else "no noncommittal phrase"),
    )
    return {"reasoning": rule, "noncommittal": bool(evasive), "statements": rows}


RULES = {
    "faithfulness": faithfulness,
    "context_precision": context_precision,
    "context_recall": context_recall,
    "answer_relevance": answer_relevance,
}


def answer(subject: RagSubject) -> dict[str, object]:
    """The structured answer of the RAG rule for ``subject.kind``.

    Raises JudgeCallError when the subject lacks the chunks or the expected
    answer the rule needs (the judge's requests never lack them).
    """
    if subject.kind != "answer_relevance" and not subject.chunks:
        raise JudgeCallError("missing_field", f"the offline RAG {subject.kind} rule needs chunks")
    if subject.kind == "context_recall" and not (subject.expected or "").strip():
        raise JudgeCallError(
            "missing_field", "the offline RAG context recall rule needs an expected answer"
        )
    return RULES[subject.kind](subject)
