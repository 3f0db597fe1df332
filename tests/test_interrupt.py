"""An interrupted eval run loses no finished verdict, and the next run asks only for the rest.

A real ``pytest --llm-funnel`` subprocess judges 40 cases against a slow
loopback server (0.2 s an answer, 4 at a time). Once some verdicts have been
answered it is stopped with Ctrl-C (SIGINT) or killed outright (SIGKILL).
Then: the cache opens cleanly and every verdict in it is readable; it holds
every answer the server completed, except at most those still in flight; and
a second run sends exactly the missing requests and passes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_llmfunnel.cache import VerdictStore
from pytest_llmfunnel.models import canonical_json
from pytest_llmfunnel.testing import JudgeServer

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(signal, "SIGKILL"),
    reason="needs POSIX SIGINT/SIGKILL delivery to a child process",
)

CASES = 40
CONCURRENCY = 4
LATENCY = 0.2
ANSWERED_BEFORE_STOP = 8

EVAL_MODULE = """
import pytest

from pytest_llmfunnel import Funnel, judges


@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_case(case, llm_result):
    pass
"""


def write_project(root: Path) -> None:
    root.joinpath("pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    root.joinpath("test_eval.py").write_text(EVAL_MODULE, encoding="utf-8")
    lines = [
        canonical_json({"id": f"case-{i:02d}", "input": f"Question {i}?", "output": f"Answer {i}."})
        for i in range(CASES)
    ]
    root.joinpath("cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def start_run(root: Path, base_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-interrupt"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={base_url}",
        f"--llm-funnel-concurrency={CONCURRENCY}",
        "--llm-funnel-cache-dir=cache",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    return subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def answered(srv: JudgeServer) -> int:
    return srv.stats.statuses.get("200", 0)


def wait_for_answers(srv: JudgeServer, proc: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 15
    while answered(srv) < count:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "the run sent too few requests"
        time.sleep(0.02)


def cached_messages(cache: Path) -> list[str]:
    """Every stored verdict's messages; fails if any entry cannot be read back."""
    with VerdictStore(cache, mode="read-only") as store:
        keys = [k for k in store.cache.iterkeys() if str(k).startswith("verdict:")]
        messages = []
        for key in keys:
            record = store.record(str(key)[len("verdict:") :])
            assert record is not None, f"unreadable cache entry {key}"
            assert record.answer.score == 4.0
            messages.append(canonical_json(record.body["messages"]))
        assert store.stats().verdicts == len(keys)
    assert len(set(messages)) == len(messages)
    return messages


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_an_interrupted_run_keeps_its_verdicts_and_the_rerun_asks_only_for_the_rest(
    tmp_path: Path, sig: str
) -> None:
    write_project(tmp_path)
    with JudgeServer(latency=LATENCY) as srv:
        proc = start_run(tmp_path, srv.base_url)
        try:
            wait_for_answers(srv, proc, ANSWERED_BEFORE_STOP)
            proc.send_signal(getattr(signal, sig))
            output, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = output.decode(errors="replace")
        if sig == "SIGINT":
            assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
            assert "KeyboardInterrupt" in text
        else:
            assert proc.returncode == -signal.SIGKILL
        completed = answered(srv)
        assert completed < CASES, "the run finished before the signal; nothing was tested"

        cached = cached_messages(tmp_path / "cache")
        # Answers the server finished but the client had not yet stored are at
        # most the ones in flight when the signal came.
        assert len(cached) >= completed - CONCURRENCY, text
        assert len(cached) >= ANSWERED_BEFORE_STOP - CONCURRENCY

        srv.reset()
        rerun = start_run(tmp_path, srv.base_url)
        output, _ = rerun.communicate(timeout=20)
        text = output.decode(errors="replace")
        sent = [canonical_json((r.body or {}).get("messages")) for r in srv.requests]

    assert rerun.returncode == 0, text
    assert f"{CASES} passed" in text
    # Exactly the missing cases were asked for, each once.
    assert len(sent) == CASES - len(cached)
    assert set(sent).isdisjoint(cached) and len(set(sent)) == len(sent)
    assert len(cached_messages(tmp_path / "cache")) == CASES
