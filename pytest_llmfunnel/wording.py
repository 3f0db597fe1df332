"""Counted nouns in messages: "1 case", "2 cases" (one helper for every message)."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in agreement; ``many`` when the plural is not ``noun + "s"``."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
