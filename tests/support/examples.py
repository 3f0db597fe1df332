"""Running a shipped example the way a user would: copied out of the repository, then pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import EXAMPLES

IGNORED = shutil.ignore_patterns(".*", "__pycache__")
"""What is not copied with an example (hidden files, caches)."""


def run_example(
    name: str, tmp_path: Path, *args: str, cwd: Path | None = None, columns: int = 120,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Copy example ``name`` into ``tmp_path`` and run pytest in it (or in ``cwd``), with a
    terminal ``columns`` wide."""
    folder = tmp_path / name
    if not folder.exists():  # a test may have prepared the copy (e.g. imported a lockfile)
        shutil.copytree(EXAMPLES / name, folder, ignore=IGNORED)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "LLM_FUNNEL", "LLMFUNNEL_", "PYTEST_", "GITHUB_"))
        and key != "CI"
    }
    environment.update(env, COLUMNS=str(columns))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--llm-funnel", "-p", "no:cacheprovider", *args],
        cwd=cwd or folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
