"""What the plugin costs when it is installed but off, and what a cold run costs above the judge.

Two claims, each measured as a ratio of whole ``python -m pytest`` processes
run alternately, so both sides share the machine's noise:

- ``plain_ratio``: a plain ``pytest`` run of a one-test project with the plugin
  installed, against the same run with ``-p no:llmfunnel`` (target ≤ 1.05).
  Installed but not switched on must cost nothing.
- ``cold_ratio``: ``pytest --llm-funnel`` over ``--cases`` cases (200) at
  concurrency ``--cases`` against a loopback judge answering after
  ``--latency`` seconds (0.3), with the cache off, against the plain start-up
  of the same project plus one judge latency (target ≤ 1.5). The judging
  itself can take no less than one latency; everything above it is start-up,
  preparation and shutdown.

The plain start-up of the eval project is ``pytest -p no:llmfunnel`` over the
project's one ordinary test (``-k plain``), so both sides import the same
project files.

Run: ``python benchmarks/startup.py [--runs 7] [--cases 200] [--latency 0.3]``.
The last line is ``startup plain_ratio=R cold_ratio=C``; the exit status is 1
when a ratio is over its target and ``--check`` is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from judge_throughput import server_call, start_server, write_project  # noqa: E402

PLAIN_TEST = """
def test_plain():
    assert 1 + 1 == 2
"""

EVAL_TEST = """
import pytest
from pytest_llmfunnel import Funnel, judges

FUNNEL = Funnel(judges.rubric("helpful", "Does the answer help the user?", name="helpful"))


@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case):
    pass


def test_plain():
    assert 1 + 1 == 2
"""


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """One pytest process; its wall time in seconds (exit status must be 0)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"{' '.join(command[2:])}: pytest exited with {done.returncode}")
    return wall


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def measure_plain(folder: Path, runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall times: installed-but-off, and with the plugin blocked."""
    (folder / "test_plain.py").write_text(PLAIN_TEST)
    (folder / "pytest.ini").write_text("[pytest]\n")
    on: list[float] = []
    off: list[float] = []
    timed(pytest_command(), folder, env)  # warm the file system and the bytecode caches
    for _ in range(runs):
        on.append(timed(pytest_command(), folder, env))
        off.append(timed(pytest_command("-p", "no:llmfunnel"), folder, env))
    return statistics.median(on), statistics.median(off)


def measure_cold(
    folder: Path, runs: int, cases: int, latency: float, env: dict[str, str]
) -> tuple[float, float, int]:
    """Median wall times of a cold eval run and of the project's plain start-up."""
    write_project(folder, cases, EVAL_TEST, "test_eval.py")
    server, base_url = start_server(latency)
    cold: list[float] = []
    plain: list[float] = []
    requests = 0
    funnel = pytest_command(
        "-p", "no:xdist", "--llm-funnel", "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={base_url}", f"--llm-funnel-concurrency={cases}",
        "--llm-funnel-cache=off", "-k", "eval",
    )
    try:
        timed(pytest_command("-p", "no:llmfunnel", "-k", "plain"), folder, env)
        for _ in range(runs):
            server_call(base_url, "/reset", "POST")
            cold.append(timed(funnel, folder, env))
            stats = server_call(base_url, "/stats")
            requests = int(str(stats["requests"]))
            plain.append(timed(pytest_command("-p", "no:llmfunnel", "-k", "plain"), folder, env))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return statistics.median(cold), statistics.median(plain), requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    env = {**os.environ, "OPENAI_API_KEY": "benchmark-key", "PYTHONDONTWRITEBYTECODE": ""}
    env.pop("PYTEST_ADDOPTS", None)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        plain_dir = Path(tmp) / "plain"
        eval_dir = Path(tmp) / "eval"
        plain_dir.mkdir()
        eval_dir.mkdir()
        on, off = measure_plain(plain_dir, args.runs, env)
        print(f"plain run, one test: installed {on:.3f} s, -p no:llmfunnel {off:.3f} s")
        cold, plain, requests = measure_cold(eval_dir, args.runs, args.cases, args.latency, env)
    bound = plain + args.latency
    print(
        f"cold --llm-funnel run: {args.cases} cases, concurrency {args.cases}, judge latency "
        f"{args.latency} s: {cold:.3f} s; plain start-up {plain:.3f} s + latency = {bound:.3f} s; "
        f"{requests} requests in the last run"
    )
    plain_ratio = on / off
    cold_ratio = cold / bound
    print(f"targets: plain_ratio <= 1.05, cold_ratio <= 1.5 (medians of {args.runs} runs each)")
    print(f"startup plain_ratio={plain_ratio:.2f} cold_ratio={cold_ratio:.2f}")
    if args.check and (plain_ratio > 1.05 or cold_ratio > 1.5):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
