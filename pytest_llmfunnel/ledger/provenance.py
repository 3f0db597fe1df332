"""Where a run comes from: its commit and branch, a fresh run id, the time in UTC.

The commit and branch come from the CI's environment (GitHub Actions, GitLab
CI), else from ``git`` in the project folder, else stay unknown: a ledger
line without a commit is still worth keeping, so nothing here fails a run.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

# (commit, branch) variable pairs, in the order they are tried.
CI_VARIABLES = (("GITHUB_SHA", "GITHUB_REF_NAME"), ("CI_COMMIT_SHA", "CI_COMMIT_REF_NAME"))
GIT_TIMEOUT = 5.0


def new_run_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> str:
    """Now, as ISO 8601 in UTC to the second (``2026-05-01T09:30:00Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_and_branch(
    folder: Path, env: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The commit and branch of the code under test; ``None`` for what cannot be told."""
    env = os.environ if env is None else env
    for commit_var, branch_var in CI_VARIABLES:
        from_ci = env.get(commit_var, "").strip()
        if from_ci:
            return from_ci, env.get(branch_var, "").strip() or None
    commit = _git(folder, "rev-parse", "HEAD")
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD") if commit else None
    return commit, (None if branch == "HEAD" else branch)  # "HEAD": a detached checkout


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or it hung: the ledger line says "unknown"
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None
