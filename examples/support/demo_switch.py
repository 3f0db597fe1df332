"""The regression demonstration's switch, shared by the test module and conftest.py.

With ``LLMFUNNEL_DEMO_REGRESSION=1`` the example evaluates the
``answer_after_change`` column (the answers after a prompt change that made
the assistant vaguer) instead of ``answer`` (the shipped prompt).
"""

from __future__ import annotations

import os

SWITCH = "LLMFUNNEL_DEMO_REGRESSION"
NORMAL_COLUMN = "answer"
REGRESSED_COLUMN = "answer_after_change"


def regression_demo_on() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def answer_column() -> str:
    """The dataset column evaluated as the assistant's output."""
    return REGRESSED_COLUMN if regression_demo_on() else NORMAL_COLUMN
