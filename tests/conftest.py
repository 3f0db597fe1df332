"""Shared fixtures for the plugin's integration tests (run through ``pytester``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer

ENV_PREFIXES = ("LLM_FUNNEL", "OPENAI_", "PYTEST_XDIST_", "GITHUB_STEP_SUMMARY")


def _load_the_http_stack() -> None:
    """Import what the ``openai`` SDK imports on the first client it builds.

    A pytester run in this process unloads the modules it imported. Were the
    SDK's HTTP transport first imported inside one, a later client would import
    it afresh while the SDK's exception mapping still named the unloaded
    classes: a timeout would escape as a raw transport error instead of
    ``APITimeoutError``, failing whichever test came next.
    """
    import asyncio

    import openai

    client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    asyncio.run(client.close())


_load_the_http_stack()


def _load_the_dataset_readers() -> None:
    """Import the dataset readers and PyYAML before any pytester run, for the same reason.

    Were they first imported inside one, a later load would see a fresh PyYAML
    whose errors the readers (still holding the unloaded module) do not catch,
    and a YAML error would escape raw.
    """
    import yaml  # noqa: F401



_load_the_dataset_readers()


@pytest.fixture(params=["no-xdist", "n0", "n2"])
def plugin_args(request: pytest.FixtureRequest) -> list[str]:
    """Run an integration test three ways: without xdist, with ``-n 0``, with ``-n 2``."""
    return {"no-xdist": ["-p", "no:xdist"], "n0": ["-n", "0"], "n2": ["-n", "2"]}[request.param]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested pytest runs must not see the outer run's endpoint, keys, xdist worker or CI."""
    import os

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


def judge_args(server: JudgeServer, *extra: str) -> list[str]:
    """Flags that point the judge at ``server``."""
    return [
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={server.base_url}",
        "--llm-funnel-max-retries=0",
        "-p",
        "no:cacheprovider",
        *extra,
    ]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cases(n: int, *, tags: tuple[str, ...] = (), **extra: Any) -> list[dict[str, Any]]:
    """``n`` simple cases ``c00``..: a question, its context and a plain answer."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "id": f"c{i:02d}",
            "input": f"What is item {i}?",
            "context": f"Item {i} is a blue box.",
            "output": f"Item {i} is a blue box.",
        }
        if tags:
            row["tags"] = [tags[i % len(tags)]]
        row.update(extra)
        rows.append(row)
    return rows
