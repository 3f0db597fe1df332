"""Reading a docs page's walk-through, as the tests that run it check it."""

from __future__ import annotations

import re
from pathlib import Path

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def code_blocks(page: Path, language: str) -> list[str]:
    """The bodies of the page's fenced code blocks in ``language``, in page order."""
    return [body for lang, body in _FENCE.findall(page.read_text("utf-8")) if lang == language]


def words(text: str) -> str:
    """``text`` with every run of whitespace one space: output compared however it wraps."""
    return " ".join(text.split())
