"""Fixtures shared by the whole suite, and the markers tests get from where they live.

Helpers live in ``tests/support/`` (``from tests.support.runs import ...``), not here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.preload import load_the_dataset_readers, load_the_funnel, load_the_http_stack

ENV_PREFIXES = ("LLM_FUNNEL", "OPENAI_", "PYTEST_XDIST_", "GITHUB_STEP_SUMMARY")

# Before any in-process pytester run can unload them (see tests/support/preload.py).
load_the_http_stack()
load_the_dataset_readers()
load_the_funnel()

_HERE = Path(__file__).resolve().parent
_INTEGRATION = (_HERE / "integration", _HERE / "examples")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests under tests/integration/ and tests/examples/ ``integration``, and the
    ``-n 2`` runs of ``plugin_args`` ``slow`` (each starts two worker processes)."""
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in _INTEGRATION):
            item.add_marker(pytest.mark.integration)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("plugin_args") == "n2":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["no-xdist", "n0", "n2"])
def plugin_args(request: pytest.FixtureRequest) -> list[str]:
    """Run an integration test three ways: without xdist, with ``-n 0``, with ``-n 2``."""
    return {"no-xdist": ["-p", "no:xdist"], "n0": ["-n", "0"], "n2": ["-n", "2"]}[request.param]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested pytest runs must not see the outer run's endpoint, keys, xdist worker or CI."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES) or name == "CI":
            monkeypatch.delenv(name)


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    """An OpenAI-compatible server on loopback answering score 4 at once."""
    with JudgeServer(latency=0.0) as server:
        yield server


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The judge's API key, as a user would set it."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
