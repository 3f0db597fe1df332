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

- ``xdist_cold_ratio`` and ``xdist_warm_ratio`` (with ``--xdist N``, default
  2; 0 skips them): the same cold run with ``-n N`` against it without xdist
  (target ≤ 1.3), and a warm run (every verdict in the cache) with ``-n N``
  against the warm run without xdist (target ≤ 1.5). ``xdist_floor_ratio``
  is xdist's own cost, which bounds the warm ratio: the project's plain test
  (``-p no:llmfunnel -k plain``) with ``-n N`` against it without xdist.

- ``adaptive_ratio`` (with ``--adaptive``, on by default; ``--no-adaptive``
  skips it): the same cold run with a hosted endpoint's default concurrency
  (16, growing while the judge keeps up, up to 64) against it at
  ``--llm-funnel-concurrency=64`` (target ≤ 1.3). The loopback judge counts
  as a local endpoint, whose default starts at 2, so the hosted default is
  passed as the settings it stands for: ``--llm-funnel-concurrency=16
  --llm-funnel-max-concurrency=64``.

The plain start-up of the eval project is ``pytest -p no:llmfunnel`` over the
project's one ordinary test (``-k plain``), so both sides import the same
project files.

Run: ``python benchmarks/startup.py [--runs 7] [--cases 200] [--latency 0.3] [--xdist 2]``.
The last line is ``startup plain_ratio=R cold_ratio=C xdist_cold_ratio=X
xdist_warm_ratio=W xdist_floor_ratio=F adaptive_ratio=A``; the exit status is 1
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


def measure_xdist(
    folder: Path, runs: int, cases: int, latency: float, workers: int, env: dict[str, str]
) -> tuple[float, float, float, float, float, float]:
    """Median wall times: cold with and without ``-n workers``, warm with and without,
    and xdist's own floor: the project's plain test (``-p no:llmfunnel -k plain``)
    with and without ``-n workers``, which no plugin change can go below."""
    write_project(folder, cases, EVAL_TEST, "test_eval.py")
    server, base_url = start_server(latency)
    judge = (
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
        f"--llm-funnel-concurrency={cases}", "-k", "eval",
    )
    cold = (*judge, "--llm-funnel-cache=off")
    warm = (*judge, "--llm-funnel-cache-dir=warm-cache")
    plain = ("-p", "no:llmfunnel", "-k", "plain")
    times: dict[str, list[float]] = {
        "cold_x": [], "cold": [], "warm_x": [], "warm": [], "plain_x": [], "plain": [],
    }
    try:
        timed(pytest_command(*warm, "-p", "no:xdist"), folder, env)  # fills the cache
        for _ in range(runs):
            times["cold_x"].append(timed(pytest_command(*cold, "-n", str(workers)), folder, env))
            times["cold"].append(timed(pytest_command(*cold, "-p", "no:xdist"), folder, env))
            times["warm_x"].append(timed(pytest_command(*warm, "-n", str(workers)), folder, env))
            times["warm"].append(timed(pytest_command(*warm, "-p", "no:xdist"), folder, env))
            times["plain_x"].append(timed(pytest_command(*plain, "-n", str(workers)), folder, env))
            times["plain"].append(timed(pytest_command(*plain, "-p", "no:xdist"), folder, env))
    finally:
        server.terminate()
        server.wait(timeout=10)
    medians = [statistics.median(v) for v in times.values()]
    cold_x, cold_1, warm_x, warm_1, plain_x, plain_1 = medians
    return cold_x, cold_1, warm_x, warm_1, plain_x, plain_1


def measure_adaptive(
    folder: Path, runs: int, cases: int, latency: float, env: dict[str, str]
) -> tuple[float, float, int]:
    """Median wall times of a cold run at the default concurrency and at 64; peak in flight."""
    write_project(folder, cases, EVAL_TEST, "test_eval.py")
    server, base_url = start_server(latency)
    judge = (
        "-p", "no:xdist", "--llm-funnel", "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={base_url}", "--llm-funnel-cache=off", "-k", "eval",
    )
    default: list[float] = []
    fixed: list[float] = []
    peak = 0
    try:
        for _ in range(runs):
            server_call(base_url, "/reset", "POST")
            # A hosted endpoint's default (the loopback server counts as a local one).
            hosted = ("--llm-funnel-concurrency=16", "--llm-funnel-max-concurrency=64")
            default.append(timed(pytest_command(*judge, *hosted), folder, env))
            peak = int(str(server_call(base_url, "/stats")["max_inflight"]))
            fixed.append(timed(pytest_command(*judge, "--llm-funnel-concurrency=64"), folder, env))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return statistics.median(default), statistics.median(fixed), peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--xdist", type=int, default=2, metavar="N",
                        help="workers for the xdist ratios (0: skip them)")
    parser.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=True,
                        help="the default concurrency against 64 (adaptive_ratio)")
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
        xdist = None
        if args.xdist:
            xdist_dir = Path(tmp) / "xdist"
            xdist_dir.mkdir()
            xdist = measure_xdist(xdist_dir, args.runs, args.cases, args.latency, args.xdist, env)
        adaptive = None
        if args.adaptive:
            adaptive_dir = Path(tmp) / "adaptive"
            adaptive_dir.mkdir()
            adaptive = measure_adaptive(adaptive_dir, args.runs, args.cases, args.latency, env)
    bound = plain + args.latency
    print(
        f"cold --llm-funnel run: {args.cases} cases, concurrency {args.cases}, judge latency "
        f"{args.latency} s: {cold:.3f} s; plain start-up {plain:.3f} s + latency = {bound:.3f} s; "
        f"{requests} requests in the last run"
    )
    plain_ratio = on / off
    cold_ratio = cold / bound
    line = f"startup plain_ratio={plain_ratio:.2f} cold_ratio={cold_ratio:.2f}"
    missed = plain_ratio > 1.05 or cold_ratio > 1.5
    if xdist is not None:
        cold_x, cold_1, warm_x, warm_1, plain_x, plain_1 = xdist
        print(
            f"-n {args.xdist}: cold {cold_x:.3f} s against {cold_1:.3f} s without xdist; "
            f"warm {warm_x:.3f} s against {warm_1:.3f} s; xdist's floor (plain test, "
            f"-p no:llmfunnel): {plain_x:.3f} s against {plain_1:.3f} s = "
            f"{plain_x / plain_1:.2f}x, +{plain_x - plain_1:.3f} s; the funnel's warm -n "
            f"{args.xdist} adds +{warm_x - warm_1:.3f} s"
        )
        line += (
            f" xdist_cold_ratio={cold_x / cold_1:.2f} xdist_warm_ratio={warm_x / warm_1:.2f}"
            f" xdist_floor_ratio={plain_x / plain_1:.2f}"
        )
        missed = missed or cold_x / cold_1 > 1.3 or warm_x / warm_1 > 1.5
    if adaptive is not None:
        default, fixed, peak = adaptive
        print(
            f"default concurrency: {default:.3f} s (peak {peak} in flight) against "
            f"{fixed:.3f} s at concurrency 64"
        )
        line += f" adaptive_ratio={default / fixed:.2f}"
        missed = missed or default / fixed > 1.3
    print(
        "targets: plain_ratio <= 1.05, cold_ratio <= 1.5, xdist_cold_ratio <= 1.3, "
        f"xdist_warm_ratio <= 1.5, adaptive_ratio <= 1.3 (medians of {args.runs} runs each)"
    )
    print(line)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
