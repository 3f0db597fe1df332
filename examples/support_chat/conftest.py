"""Shared pieces of the support-chat example: say which assistant runs."""

from __future__ import annotations

from support_bot import SWITCH, forgetful


def pytest_report_header() -> str:
    window = "only the last message (the new prompt window)" if forgetful() else \
        "the whole conversation"
    return f"support-chat example: the assistant sees {window} ({SWITCH}=1 switches)"
