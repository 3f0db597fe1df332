"""Where the repository's folders are, for tests that read them."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository root (the folder holding ``pyproject.toml``)."""

PACKAGE = REPO / "pytest_llmfunnel"
DOCS = REPO / "docs"
EXAMPLES = REPO / "examples"
TESTS = REPO / "tests"
DATA = TESTS / "data"
"""Datasets the tests load."""
GOLDEN = TESTS / "golden"
"""Expected report output; ``LLMFUNNEL_UPDATE_GOLDEN=1`` rewrites it."""
