"""The system under test: a small retrieval-augmented assistant for a (fictional) ferry line.

Two parts, both deterministic and offline:

* a **BM25 retriever** (Okapi BM25, k1 = 1.5, b = 0.75) over the passages of
  ``handbook.jsonl``, written with the standard library: the formula is a
  dozen lines, and it keeps the example free of an extra install;
* a **templated extractive answerer**, standing in for the LLM that would
  write the answer: it answers with the retrieved sentence that shares the
  most (idf-weighted) words with the question, plus the next best one when it
  scores at least half as well. It is not an LLM, and it only ever repeats
  what it retrieved, so its answers are as good as its retrieval.

:func:`answer` returns an :class:`~pytest_llmfunnel.output.Output`: the answer
text and the retrieved chunks, in rank order, with their ids, sources and
BM25 scores, which is what the RAG judges grade.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pytest_llmfunnel.output import Chunk, Output

HANDBOOK = Path(__file__).with_name("handbook.jsonl")
NOT_FOUND = "I could not find that in the Harbourline handbook."
STOPWORDS = frozenset(
    """a an and are at be by can do does for from how i if in is it its my of on or
    the there to what when where which who will with you your""".split()  # noqa: SIM905
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Settings:
    """How the retriever reads text and how many passages it returns.

    ``fold`` lowercases words and strips a plural "s" ("Refunds" finds
    "refund"); ``top_k`` is how many passages reach the answerer (and the
    judges); ``chunk_chars``, when set, is the most characters of a passage
    that are indexed and returned (a chunker's size limit, cut at a word).
    """

    top_k: int = 3
    fold: bool = True
    k1: float = 1.5
    b: float = 0.75
    chunk_chars: int | None = None


#: The shipped retriever.
SHIPPED = Settings()
#: A chunker change that looks harmless: passages cut to 80 characters, so
#: the facts in their second half are neither found nor returned. It is what
#: LLMFUNNEL_DEMO_REGRESSION=1 runs.
REGRESSED = Settings(chunk_chars=80)


def tokens(text: str, fold: bool = True) -> list[str]:
    """The retriever's terms of ``text``: words without stop words, folded or not."""
    found = re.findall(r"[A-Za-z0-9]+", text)
    if not fold:
        return [w for w in found if w.lower() not in STOPWORDS]
    terms = []
    for word in (w.lower() for w in found):
        if word in STOPWORDS:
            continue
        terms.append(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return terms


@dataclass(frozen=True)
class Passage:
    id: str
    source: str
    text: str


def load_handbook(path: Path = HANDBOOK) -> list[Passage]:
    """The corpus: one passage per JSONL line (``id``, ``source``, ``text``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Passage(**json.loads(line)) for line in lines if line.strip()]


@dataclass(frozen=True)
class Retriever:
    """Okapi BM25 over the passages, with the given settings."""

    passages: tuple[Passage, ...]
    settings: Settings = SHIPPED

    @cached_property
    def chunks(self) -> tuple[Passage, ...]:
        """The passages as the chunker left them (cut to ``chunk_chars``)."""
        limit = self.settings.chunk_chars
        if limit is None:
            return self.passages
        return tuple(
            Passage(p.id, p.source, p.text if len(p.text) <= limit else
                    p.text[:limit].rsplit(" ", 1)[0])
            for p in self.passages
        )

    @cached_property
    def _index(self) -> tuple[list[Counter[str]], dict[str, float], float]:
        docs = [Counter(tokens(p.text, self.settings.fold)) for p in self.chunks]
        n = len(docs)
        df = Counter(term for doc in docs for term in doc)
        idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1.0) for t, f in df.items()}
        average = sum(sum(d.values()) for d in docs) / n
        return docs, idf, average

    def idf(self, term: str) -> float:
        return self._index[1].get(term, 0.0)

    def search(self, query: str) -> list[tuple[Passage, float]]:
        """The ``top_k`` passages by BM25 score (ties: corpus order), with their scores."""
        docs, idf, average = self._index
        k1, b = self.settings.k1, self.settings.b
        terms = tokens(query, self.settings.fold)
        scored = []
        for index, doc in enumerate(docs):
            length = sum(doc.values())
            score = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    score += idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
            scored.append((score, -index))
        best = sorted(scored, reverse=True)[: self.settings.top_k]
        return [(self.chunks[-i], round(s, 4)) for s, i in best]


def compose(question: str, found: list[tuple[Passage, float]], retriever: Retriever) -> str:
    """The templated answer: the best-matching retrieved sentence (and the runner-up)."""
    asked = set(tokens(question, retriever.settings.fold))
    candidates = []
    for rank, (passage, _) in enumerate(found):
        for position, sentence in enumerate(_SENTENCE_END.split(passage.text)):
            shared = asked & set(tokens(sentence, retriever.settings.fold))
            weight = sum(retriever.idf(t) for t in shared)
            candidates.append((weight, -rank, -position, sentence))
    candidates.sort(reverse=True)
    if not candidates or candidates[0][0] == 0:
        return NOT_FOUND
    best, *rest = candidates
    chosen = [best[3]]
    if rest and rest[0][0] >= 0.5 * best[0]:
        chosen.append(rest[0][3])
    return " ".join(chosen)


def answer(question: str, retriever: Retriever) -> Output:
    """Retrieve, then answer: the text and the chunks it was written from."""
    found = retriever.search(question)
    chunks = tuple(
        Chunk(text=p.text, id=p.id, source=p.source, score=score) for p, score in found
    )
    return Output(text=compose(question, found, retriever), context=chunks)
