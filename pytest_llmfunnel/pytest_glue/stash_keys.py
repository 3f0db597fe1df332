"""Where a run keeps its settings and its session: the keys of ``config.stash``.

Small on purpose: the entry point imports it in every run, funnel on or off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmfunnel.config import Settings
    from pytest_llmfunnel.pytest_glue.session import FunnelSession

SESSION_KEY: pytest.StashKey[FunnelSession] = pytest.StashKey()
SETTINGS_KEY: pytest.StashKey[Settings] = pytest.StashKey()


def session_of(config: pytest.Config) -> FunnelSession | None:
    """The session object, if this run has one yet (with --llm-funnel it always has)."""
    return config.stash.get(SESSION_KEY, None)
