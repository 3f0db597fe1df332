"""Paths as a run's messages show them, and where CI wants what."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import pytest

from pytest_llmfunnel.display import shown_path as display_path

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
_TRUE = {"1", "true", "yes", "on"}


class HasConfig(Protocol):
    @property
    def config(self) -> pytest.Config: ...


def shown_path(path: str, fs: HasConfig) -> str:
    """A path as the summary shows it: relative to the rootdir when inside it."""
    return display_path(path, fs.config.rootpath)


def step_summary_path() -> Path | None:
    """Where GitHub Actions collects the job summary, when it does."""
    value = os.environ.get(STEP_SUMMARY, "").strip()
    return Path(value) if value else None


def in_ci() -> bool:
    """Whether the run is in CI: the ``CI`` environment variable is set to a true value."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def create_command(key: str) -> str:
    """The command that writes the baseline of eval test ``key``."""
    return f"pytest --llm-funnel --llm-funnel-update-baseline {key}"
