"""Shared pieces of the RAG example: say which retriever setting is evaluated."""

from __future__ import annotations

import pytest
from demo_switch import SWITCH, retriever_settings


def pytest_report_header(config: pytest.Config) -> str:
    return f"rag example: retriever {retriever_settings()} ({SWITCH}=1 switches)"
