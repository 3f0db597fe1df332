"""A retrieval-augmented ferry assistant, evaluated on its retrieval as well as its answers.

The target retrieves passages from the shipped handbook with BM25 and answers
from them (:mod:`harbourline`); it returns an ``Output`` whose ``context`` is
the list of retrieved chunks, in rank order. The free checks drop empty and
overlong answers; the RAG judges then grade each answer against its own
chunks: are its claims supported by them (``rag_faithfulness``), are the
chunks relevant and the relevant ones ranked first (``context_precision``),
do they hold what the expected answer needs (``context_recall``), and does
the answer address the question (``answer_relevance``).
"""

from __future__ import annotations

import pytest
from demo_switch import retriever_settings
from harbourline import Retriever, answer, load_handbook

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges
from pytest_llmfunnel.output import Output

# Read at import time: it holds for the whole run.
RETRIEVER = Retriever(tuple(load_handbook()), retriever_settings())


def ferry_assistant(case: Case) -> Output:
    """The system under test: retrieve, then answer (a templated answerer, not an LLM)."""
    return answer(case.input_text(), RETRIEVER)


RAG = Funnel(
    checks.not_empty(),
    checks.max_chars(400),
    judges.rag_faithfulness(),
    judges.context_precision(),
    judges.context_recall(),
    judges.answer_relevance(),
    target=ferry_assistant,
    name="rag",
)


@pytest.mark.llm_dataset("questions.jsonl", funnel=RAG)
def test_ferry_answer(case: Case, llm_result: CaseResult) -> None:
    # Ordinary assertions about the dataset itself: a broken row fails here.
    assert case.expected, "every question carries its expected answer"
    assert llm_result.case_id == case.id
