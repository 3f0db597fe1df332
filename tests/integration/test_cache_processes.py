"""The verdict cache: keys, modes, explanations, durability and secrets."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_llmfunnel.funnel.backend import JudgeRequest
from pytest_llmfunnel.store.verdict_cache import (
    VerdictStore,
)

WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
    from pytest_llmfunnel.store.verdict_cache import VerdictStore

    directory, worker, count, kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = VerdictStore(directory)
    for i in range(count):
        request = JudgeRequest(body={"prompt": f"{worker}-{i}"}, base_url="b")
        store.put(request, CachedAnswer(score=i), case_id=f"{worker}-{i}", stage="s")
    if kill == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    store.close()
    """
)


def _writer(directory: Path, worker: int, count: int, kill: bool) -> subprocess.Popen[bytes]:
    args = [str(directory), str(worker), str(count), "kill" if kill else "close"]
    return subprocess.Popen([sys.executable, "-c", WRITER, *args], stderr=subprocess.PIPE)


def _reads_all(directory: Path, workers: range, count: int) -> int:
    found = 0
    with VerdictStore(directory, mode="read-only") as reader:
        for worker in workers:
            for i in range(count):
                req = JudgeRequest(body={"prompt": f"{worker}-{i}"}, base_url="b")
                got = reader.get(req, case_id="x", stage="s")
                found += got is not None and got.score == i
    return found


def test_several_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    VerdictStore(directory).stats()  # create the database before the race
    procs = [_writer(directory, worker, 200, kill=False) for worker in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert _reads_all(directory, range(4), 200) == 800


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_process_killed_mid_run_keeps_every_verdict_it_stored(tmp_path: Path) -> None:
    proc = _writer(tmp_path / "cache", 0, 60, kill=True)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _reads_all(tmp_path / "cache", range(1), 60) == 60
