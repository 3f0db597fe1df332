"""Warm re-runs of 10,000 and 100,000 cases against plain parametrized pytest: time and memory.

The claim under test: with every verdict cached, an eval keeps costing about
what the same number of ordinary parametrized tests costs as it grows, at
most 1.5 times as long at 100,000 cases (median of whole-process runs), and
holds at most 4,096 bytes more per case than the plain run at its peak:
``bytes_per_case = (peak RSS of the warm run - peak RSS of the plain run) / N``.

The project is the warm-cache benchmark's (``warm_cache.py`` beside this
file): a JSONL dataset with realistic lengths, a funnel test with
``Funnel(checks.not_empty(), judges.relevance())`` and a plain test that loads
the same file at collection and parametrizes over the case dicts. For each
size: write the project in a temporary folder, start the loopback judge
server as a process, run once cold to fill the verdict cache (not timed
against anything), then alternate warm funnel runs and plain runs so both
share the machine's noise. Each run is a whole ``python -m pytest -q -p
no:cacheprovider`` process; its peak RSS is the ``ru_maxrss`` that
``os.wait4`` reports for that child alone. The server's ``/stats`` count the
judge requests sent during the warm runs (there must be none).

Run: ``python benchmarks/scale.py [--sizes 10000,100000] [--runs 3] [--quick] [--keep]``
(``--quick`` is ``--sizes 1000,5000 --runs 1``, a smoke test of the script).
The last line is ``scale ratio_10k=R1 ratio_100k=R2 bytes_per_case=B``, one
``ratio_<size>`` per size and ``B`` at the largest; the exit status is 1 when
the ratio at the largest size exceeds ``--limit`` (1.5), ``B`` exceeds
``--bytes-limit`` (4,096), or any warm request was sent. Unix only
(``os.wait4``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from warm_cache import judge_requests, pytest_commands, start_server, write_project

QUICK_SIZES = (1000, 5000)
# Cold runs only fill the cache; more requests in flight make them shorter.
COLD_CONCURRENCY = 64


@dataclass(frozen=True)
class Run:
    """One whole pytest process: wall time and the peak resident set it reached."""

    seconds: float
    peak_rss: int  # bytes


@dataclass(frozen=True)
class SizeResult:
    """The medians of the warm and plain runs at one dataset size."""

    cases: int
    cold_seconds: float
    warm: list[Run]
    plain: list[Run]
    warm_requests: int

    @property
    def warm_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.warm)

    @property
    def plain_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.plain)

    @property
    def ratio(self) -> float:
        return self.warm_seconds / self.plain_seconds

    @property
    def bytes_per_case(self) -> float:
        warm = statistics.median(r.peak_rss for r in self.warm)
        plain = statistics.median(r.peak_rss for r in self.plain)
        return (warm - plain) / self.cases


def run_pytest(root: Path, args: Sequence[str], env: dict[str, str]) -> Run:
    """Run one pytest process; its wall time and peak RSS. Abort on a failed run."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=output)
        # wait4 reaps this child and reports its own resource usage, not that
        # of every child so far (which is what RUSAGE_CHILDREN would give).
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            output.seek(0)
            tail = "\n".join(output.read().decode(errors="replace").splitlines()[-15:])
            raise SystemExit(f"pytest {' '.join(args)} exited {child.returncode}:\n{tail}")
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return Run(elapsed, usage.ru_maxrss * scale)


def reset_server(base_url: str) -> None:
    """Zero the server's counters and drop its request log (it holds every body)."""
    parts = urllib.parse.urlsplit(base_url)
    reset = urllib.request.Request(f"{parts.scheme}://{parts.netloc}/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as reply:
        json.load(reply)


def measure(cases: int, runs: int, seed: int, keep: bool) -> SizeResult:
    """Cold run, then ``runs`` warm and plain runs alternating, for one dataset size."""
    root = Path(tempfile.mkdtemp(prefix=f"llmfunnel-scale-{cases}-"))
    server, base_url = start_server()
    try:
        write_project(root, cases, seed)
        env, funnel, plain = pytest_commands(base_url)

        cold = run_pytest(root, [f"--llm-funnel-concurrency={COLD_CONCURRENCY}", *funnel], env)
        print(f"{cases} cases: cold funnel run {cold.seconds:.1f} s, "
              f"{judge_requests(base_url)} judge requests", flush=True)
        reset_server(base_url)

        warm: list[Run] = []
        plain_runs: list[Run] = []
        for i in range(runs):
            warm.append(run_pytest(root, funnel, env))
            plain_runs.append(run_pytest(root, plain, env))
            print(
                f"{cases} cases, run {i + 1}: warm funnel {warm[-1].seconds:.2f} s "
                f"{warm[-1].peak_rss / 2**20:.0f} MiB, plain {plain_runs[-1].seconds:.2f} s "
                f"{plain_runs[-1].peak_rss / 2**20:.0f} MiB",
                flush=True,
            )
        requests = judge_requests(base_url)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if keep:
            print(f"project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return SizeResult(cases, cold.seconds, warm, plain_runs, requests)


def label(cases: int) -> str:
    """``10k`` for 10,000 cases; sizes that are not whole thousands keep their digits."""
    return f"{cases // 1000}k" if cases % 1000 == 0 else str(cases)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"--sizes takes whole numbers separated by commas, got {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise SystemExit(f"--sizes needs at least one size of 1 or more, got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="dataset sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="warm and plain runs per size")
    parser.add_argument("--quick", action="store_true", help="--sizes 1000,5000 --runs 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=1.5, help="largest ratio at the top size")
    parser.add_argument("--bytes-limit", type=float, default=4096, help="largest bytes_per_case")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args(argv)
    sizes = list(QUICK_SIZES) if args.quick else parse_sizes(args.sizes)
    runs = 1 if args.quick else max(1, args.runs)

    started = time.perf_counter()
    results = [measure(cases, runs, args.seed, args.keep) for cases in sizes]
    for r in results:
        print(
            f"{r.cases} cases: median warm {r.warm_seconds:.2f} s, plain {r.plain_seconds:.2f} s, "
            f"ratio {r.ratio:.2f}; {r.bytes_per_case:.0f} bytes per case at peak; "
            f"{r.warm_requests} warm judge requests"
        )
    print(f"total {time.perf_counter() - started:.0f} s")
    top = results[-1]
    ratios = " ".join(f"ratio_{label(r.cases)}={r.ratio:.2f}" for r in results)
    print(f"scale {ratios} bytes_per_case={top.bytes_per_case:.0f}")
    passed = (
        top.ratio <= args.limit
        and top.bytes_per_case <= args.bytes_limit
        and all(r.warm_requests == 0 for r in results)
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
