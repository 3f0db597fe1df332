"""Shared pieces of the support example: which answer column is evaluated.

The regression demonstration is switched on with LLMFUNNEL_DEMO_REGRESSION=1.
Without it the funnel evaluates the ``answer`` column (the shipped prompt);
with it, ``answer_after_change`` (the same questions answered after a prompt
change that made the assistant vaguer). The test module reads the choice at
import time, so the switch applies to the whole run.
"""

from __future__ import annotations

import os

import pytest

SWITCH = "LLMFUNNEL_DEMO_REGRESSION"


def answer_column() -> str:
    """The dataset column to evaluate as the assistant's output."""
    on = os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}
    return "answer_after_change" if on else "answer"


def pytest_report_header(config: pytest.Config) -> str:
    return f"support example: evaluating the {answer_column()!r} column ({SWITCH}=1 switches)"


@pytest.fixture(scope="session")
def evaluated_column() -> str:
    return answer_column()
