"""Hooks a ``conftest.py`` (or another plugin) implements to extend pytest-llmfunnel.

Registered by :func:`pytest_llmfunnel.plugin.pytest_addhooks`; see
``docs/plugins.md`` for what each receives and returns, with an example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmfunnel.config import Settings
    from pytest_llmfunnel.funnel.backend import JudgeBackend
    from pytest_llmfunnel.record import CaseRecord


@pytest.hookspec(firstresult=True)
def pytest_llmfunnel_make_backend(config: pytest.Config, settings: Settings) -> JudgeBackend | None:
    """The judge backend of this process; the first one not None is used (else the built-in)."""


@pytest.hookspec
def pytest_llmfunnel_report_sections(
    config: pytest.Config, records: list[CaseRecord]
) -> Sequence[tuple[str, str]] | None:
    """Extra (title, text) sections for the terminal summary and the Markdown report."""
