"""The ``llmfunnel`` command: cache housekeeping, exit codes, and the on-demand modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmfunnel import cli
from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.models import Usage
from pytest_llmfunnel.store.verdict_cache import VerdictStore


def request(text: str) -> JudgeRequest:
    body = {"model": "judge", "messages": [{"role": "user", "content": text}], "seed": 1}
    return JudgeRequest(body=body, base_url="http://judge.local/v1")


def fill(directory: Path, count: int) -> list[JudgeRequest]:
    requests = [request(f"case {i}") for i in range(count)]
    with VerdictStore(directory) as store:
        for i, req in enumerate(requests):
            answer = CachedAnswer(
                score=float(1 + i % 5), reasoning="r", usage=Usage(prompt_tokens=5),
                model="judge-1", judge="openai:judge",
            )
            store.put(req, answer, case_id=f"case-{i}", stage="relevance")
    return requests


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv(cli.CACHE_MODE_ENV, raising=False)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    directory = tmp_path / "cache"
    fill(directory, 3)
    return directory


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).with_name("llmfunnel")
    found = str(script) if script.exists() else shutil.which("llmfunnel")
    if found is None:
        pytest.skip("the llmfunnel console script is not installed in this environment")
    result = subprocess.run(
        [found, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: llmfunnel")
    assert "cache" in result.stdout and "report" in result.stdout and "review" in result.stdout
