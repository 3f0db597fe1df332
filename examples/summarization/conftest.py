"""Fixtures of the summarization example: the newsroom rules as test helpers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from newsroom import MAX_WORDS, is_one_paragraph, word_count


def pytest_report_header(config: pytest.Config) -> str:
    return f"summarization example: summaries of at most {MAX_WORDS} words, one paragraph"


@pytest.fixture(scope="session")
def count_words() -> Callable[[str], int]:
    return word_count


@pytest.fixture(scope="session")
def one_paragraph() -> Callable[[str], bool]:
    return is_one_paragraph
