"""The newsroom's rules for a summary, shared by the test module and conftest.py."""

from __future__ import annotations

import re

from pytest_llmfunnel import Case

MAX_WORDS = 45
MIN_ROUGE_L = 0.3
BULLET = r"^\s*(?:[-*•]|\d+[.)])\s"
PREAMBLE = r"^\s*(?:here is|here's|summary:)"


def word_count(text: str) -> int:
    return len(text.split())


def within_word_limit(case: Case, output: str) -> tuple[bool, str]:
    """A summary is one short paragraph: at most MAX_WORDS words."""
    count = word_count(output)
    return count <= MAX_WORDS, f"{count} words (limit {MAX_WORDS})"


def is_one_paragraph(text: str) -> bool:
    return not re.search(BULLET, text, re.MULTILINE) and "\n\n" not in text.strip()
