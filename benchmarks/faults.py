"""Wall time of one eval through a faulty judge endpoint, against the same eval without faults.

Starts the loopback judge server (in this process, on a thread), writes a
dataset and a plain test file into a temporary folder, and runs the SAME
``pytest --llm-funnel`` eval twice as separate processes (empty cache, cache
off): once against a clean server, once against a fault mix. The mix answers
each request, from a seeded generator, with a hang far longer than the
request timeout (2%), a 429 without Retry-After (3%), a 500 (2%), a garbage
answer the judge cannot parse (2%), and otherwise a normal answer after the
latency.

Target: with hangs longer than the timeout, a hang should cost at most one
timeout, in its own slot, and never serialise the rest of the run, so

    wall time with faults <= timeout + 2 x wall time without faults.

``ratio_to_target`` is the first divided by the second: at most 1 meets it.
The server's counters say what was sent and what it answered with.

Run: ``python benchmarks/faults.py [--cases 500] [--latency 0.01]
[--timeout 10] [--concurrency 16] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import judge_throughput  # a sibling script: the same project writer (run from benchmarks/)

from pytest_llmfunnel.testing import Action, JudgeServer, garbage, hang, hashed_verdicts, status
from pytest_llmfunnel.testing.actions import last_user_message

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, judges

FUNNEL = Funnel(judges.rubric("helpful", "Does the answer help the user?", name="helpful"))


@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_faults(case):
    pass
"""

# share of requests, in order: the rest get a normal answer
MIX = (("hang", 0.02), ("429", 0.03), ("500", 0.02), ("garbage", 0.02))


def write_project(folder: Path, cases: int) -> None:
    judge_throughput.write_project(folder, cases, TEST_FILE, "test_faults.py")


def fault_mix(
    seed: int, hang_seconds: float, tally: Counter[str], hung: Counter[str]
) -> Callable[[dict[str, Any]], Action]:
    """A server default answer drawing each request's fate from a seeded generator.

    ``tally`` counts the fates drawn, ``hung`` the hangs per prompt (a retry
    draws again, so a request can hang twice).
    """
    rng = random.Random(seed)
    lock = threading.Lock()  # handler threads call this at once
    normal = hashed_verdicts()
    faults = {
        "hang": hang(hang_seconds),
        "429": status(429),
        "500": status(500),
        "garbage": garbage("I would rate this answer fairly highly."),
    }

    def answer(body: dict[str, Any]) -> Action:
        with lock:
            draw = rng.random()
        edge = 0.0
        for name, share in MIX:
            edge += share
            if draw < edge:
                tally[name] += 1
                if name == "hang":
                    hung[last_user_message(body)] += 1
                return faults[name]
        tally["normal"] += 1
        return normal(body)

    return answer


def run_pytest(folder: Path, base_url: str, args: argparse.Namespace) -> tuple[float, str]:
    """Run one pytest process; return its wall time and its last output line."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
        f"--llm-funnel-concurrency={args.concurrency}", f"--llm-funnel-timeout={args.timeout}",
        "--llm-funnel-cache=off", "--llm-funnel-max-error-share=1",
    ]
    env = {**os.environ, "OPENAI_API_KEY": "benchmark-key"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"pytest exited with {done.returncode}")
    lines = done.stdout.strip().splitlines()
    return wall, lines[-1] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=10.0, help="judge request timeout")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    mix = ", ".join(f"{name} {share:.0%}" for name, share in MIX)
    print(
        f"{args.cases} cases, latency {args.latency:g} s, timeout {args.timeout:g} s, "
        f"concurrency {args.concurrency}; fault mix: {mix} (hangs last {4 * args.timeout:g} s)"
    )
    tally: Counter[str] = Counter()
    hung: Counter[str] = Counter()
    with JudgeServer(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_project(folder, args.cases)
        server.default = hashed_verdicts()
        clean_s, clean_said = run_pytest(folder, server.base_url, args)
        clean = server.stats
        print(f"clean: wall {clean_s:.2f} s, {clean.requests} requests; pytest: {clean_said}")
        server.reset()
        server.default = fault_mix(args.seed, 4 * args.timeout, tally, hung)
        wall_s, faults_said = run_pytest(folder, server.base_url, args)
        faulty = server.stats
        print(
            f"faults: wall {wall_s:.2f} s, {faulty.requests} requests "
            f"(max {faulty.max_inflight} in flight); drawn: {dict(sorted(tally.items()))}; "
            f"pytest: {faults_said}"
        )
        twice = sum(1 for n in hung.values() if n > 1)
        print(f"requests that hung: {len(hung)}, of which {twice} hung again on their retry")
    target = args.timeout + 2 * clean_s
    print(f"target: timeout + 2 x clean = {target:.2f} s")
    print(
        f"faults wall_s={wall_s:.2f} clean_s={clean_s:.2f} timeout_s={args.timeout:g} "
        f"ratio_to_target={wall_s / target:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
