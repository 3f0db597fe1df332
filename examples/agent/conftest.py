"""Shared pieces of the agent example: say which prompt the agent runs with."""

from __future__ import annotations

from agent import SWITCH, proactive


def pytest_report_header() -> str:
    prompt = "the 'be proactive' prompt" if proactive() else "the shipped prompt"
    return f"agent example: the agent runs with {prompt} ({SWITCH}=1 switches)"
