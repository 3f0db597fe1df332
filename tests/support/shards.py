"""Sharded runs of the gate project: shards, the unsharded run, and ``llmfunnel gate``.

Every run starts from the same verdict cache (a copy of the one the baseline
run left), so a shard and the unsharded run see the same cache hits and the
files they write can be compared byte for byte.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.cli import main
from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import project, worse_scores_low
from tests.support.runs import judge_args

CACHE = Path(".llmfunnel") / "cache"
SHARDS = 3


def run(pytester: pytest.Pytester, server: JudgeServer, *extra: str) -> pytest.RunResult:
    """``pytest --llm-funnel`` against ``server`` in a process of its own, as CI runs it.

    (Several in-process runs in one test would each unload the funnel modules
    the one before imported, while the package keeps its lazily loaded names.)
    """
    return pytester.runpytest_subprocess(*judge_args(server, *extra))


def accept_baseline(
    pytester: pytest.Pytester, server: JudgeServer, rows: list[dict[str, Any]]
) -> None:
    """The scoring server, the gate project, and its baseline written."""
    worse_scores_low(server)
    project(pytester, rows)
    assert run(pytester, server, "--llm-funnel-update-baseline").ret == 0


def fresh_cache(pytester: pytest.Pytester, name: str) -> str:
    """A copy of the project's verdict cache as the baseline run left it; its flag."""
    source = pytester.path / CACHE
    target = pytester.path / "caches" / name
    if not target.exists():
        shutil.copytree(source, target)
    return f"--llm-funnel-cache-dir={target}"


def unsharded(
    pytester: pytest.Pytester, server: JudgeServer, *extra: str
) -> pytest.RunResult:
    """The whole selection in one run, writing full.json and full.md."""
    return run(pytester, server, fresh_cache(pytester, "full"), "--llm-funnel-json=full.json",
               "--llm-funnel-report=full.md", *extra)


def shard(
    pytester: pytest.Pytester, server: JudgeServer, index: int, *extra: str,
    count: int = SHARDS, cache: str = "shards",
) -> pytest.RunResult:
    """Shard ``index`` of ``count``, writing shard-<index>.json."""
    return run(pytester, server, fresh_cache(pytester, cache),
               f"--llm-funnel-shard={index}/{count}",
               f"--llm-funnel-json=shard-{index}.json", *extra)


@dataclass(frozen=True)
class GateRun:
    """What ``llmfunnel gate`` returned and printed."""

    ret: int
    out: str
    err: str


def gate(pytester: pytest.Pytester, files: Sequence[str], *extra: str) -> GateRun:
    """``llmfunnel gate FILES --json merged.json --report merged.md`` in the project."""
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["gate", *(str(pytester.path / f) for f in files),
                     "--json", str(pytester.path / "merged.json"),
                     "--report", str(pytester.path / "merged.md"),
                     "--rootdir", str(pytester.path), *extra])
    return GateRun(code, out.getvalue(), err.getvalue())


def text(pytester: pytest.Pytester, name: str) -> bytes:
    return (pytester.path / name).read_bytes()
