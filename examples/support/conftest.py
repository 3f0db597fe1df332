"""Shared pieces of the support example: say which answer column is evaluated."""

from __future__ import annotations

import pytest
from demo_switch import NORMAL_COLUMN, REGRESSED_COLUMN, SWITCH, answer_column


def pytest_report_header(config: pytest.Config) -> str:
    return f"support example: evaluating the {answer_column()!r} column ({SWITCH}=1 switches)"


@pytest.fixture(scope="session")
def other_column() -> str:
    """The answer column that is not evaluated in this run (it lands in metadata)."""
    return NORMAL_COLUMN if answer_column() == REGRESSED_COLUMN else REGRESSED_COLUMN
