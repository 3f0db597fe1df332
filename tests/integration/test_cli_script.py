"""The ``llmfunnel`` command: cache housekeeping, exit codes, and the on-demand modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmfunnel import cli
from tests.support.judge_requests import fill_cache


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv(cli.CACHE_MODE_ENV, raising=False)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    directory = tmp_path / "cache"
    fill_cache(directory, 3)
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
