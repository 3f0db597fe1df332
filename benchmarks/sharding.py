"""One eval run whole against the same run split into CI shards and merged by ``llmfunnel gate``.

The claim under test: splitting a suite into N shards costs little beyond the
start-up each shard pays again (the sum of the shard times over the
unsharded time), and on N machines the wall time of the run is the slowest
shard plus the merge (that sum over the unsharded time is what a matrix buys).
The merge must also give the unsharded run's files: the script checks that the
merged JSON results and report are the same bytes and the exit status the same.

Steps: write a temporary project (a JSONL dataset, ``Funnel(checks.not_empty(),
judges.relevance())``, a baseline directory), start the loopback judge server
as a process (``--latency`` seconds an answer, scores by prompt hash), write
the baseline, then change every output so each run has to ask the judge
again. Each run (the unsharded one, then shard 1..N) is a whole ``python -m
pytest`` process that starts from its own copy of the verdict cache the
baseline run left, so all of them send the same requests. Shards run one
after another, as N machines would each run one alone; the merge is a whole
``llmfunnel gate`` process.

Run: ``python benchmarks/sharding.py [--cases 1200] [--shards 3] [--latency 0.3]
[--concurrency 16] [--keep]``. The last line is ``sharding unsharded=… shards=…
merge=… sum_ratio=… wall_ratio=… identical=…``; the exit status is 1 when the
merged files differ from the unsharded run's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

FUNNEL_TEST = '''\
import pytest

from pytest_llmfunnel import Funnel, checks, judges


@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty(), judges.relevance()))
def test_eval(case, llm_result):
    pass
'''


def write_project(root: Path, cases: int, *, version: str) -> None:
    """The dataset (outputs marked with ``version``), the eval test and the ini file."""
    with (root / "cases.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(cases):
            row = {"id": f"case-{i:05d}", "input": f"What is item {i}?",
                   "context": f"Item {i} is a blue box of {i % 7 + 1} kg.",
                   "output": f"Item {i} is a blue box ({version})."}
            handle.write(json.dumps(row) + "\n")
    (root / "test_eval.py").write_text(FUNNEL_TEST, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\nllm_funnel_baseline_dir = baselines\n",
                                     encoding="utf-8")


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmfunnel.testing", "--port", "0",
         "--latency", str(latency), "--hashed-scores"],
        stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    if not base_url.startswith("http"):
        server.kill()
        raise SystemExit(f"the judge server did not start (first line: {base_url!r})")
    return server, base_url


def timed(command: Sequence[str], root: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall time and exit status of one whole process; abort when it did not finish."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{tail}")
    return elapsed, done.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1200)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per judge answer")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="judge requests in flight per run (a hosted API's default)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="llmfunnel-shards-"))
    server, base_url = start_server(args.latency)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LLM_FUNNEL", "OPENAI", "GITHUB_", "CI_")) and k != "CI"}
    env["OPENAI_API_KEY"] = "bench-key"
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--llm-funnel",
              "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
              f"--llm-funnel-concurrency={args.concurrency}"]
    gate = [sys.executable, "-c", "import sys; from pytest_llmfunnel.cli import main; "
            "sys.exit(main())", "gate"]
    try:
        write_project(root, args.cases, version="v1")
        timed([*pytest, "--llm-funnel-update-baseline"], root, env)
        write_project(root, args.cases, version="v2")  # every output changed: all misses
        cache = root / ".llmfunnel" / "cache"

        def run(name: str, *extra: str) -> tuple[float, int]:
            copy = root / "caches" / name
            shutil.copytree(cache, copy)
            return timed([*pytest, f"--llm-funnel-cache-dir={copy}", *extra], root, env)

        whole, whole_status = run("whole", "--llm-funnel-json=full.json",
                                  "--llm-funnel-report=full.md")
        print(f"unsharded: {whole:.2f} s (exit {whole_status}, {args.cases} cases)")
        shard_times = []
        for index in range(1, args.shards + 1):
            took, status = run(f"shard-{index}", f"--llm-funnel-shard={index}/{args.shards}",
                               f"--llm-funnel-json=shard-{index}.json")
            shard_times.append(took)
            print(f"shard {index}/{args.shards}: {took:.2f} s (exit {status})")
        files = [f"shard-{i}.json" for i in range(1, args.shards + 1)]
        merge, merged_status = timed(
            [*gate, *files, "--json", "merged.json", "--report", "merged.md"], root, env
        )
        print(f"merge (llmfunnel gate): {merge:.2f} s (exit {merged_status})")
        identical = (
            merged_status == whole_status
            and (root / "merged.json").read_bytes() == (root / "full.json").read_bytes()
            and (root / "merged.md").read_bytes() == (root / "full.md").read_bytes()
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep:
            print(f"project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    total = sum(shard_times)
    wall = max(shard_times) + merge
    print(f"sum of shard times / unsharded = {total / whole:.2f}; "
          f"(slowest shard + merge) / unsharded = {wall / whole:.2f}")
    print(f"sharding unsharded={whole:.2f} shards={'+'.join(f'{t:.2f}' for t in shard_times)} "
          f"merge={merge:.2f} sum_ratio={total / whole:.2f} wall_ratio={wall / whole:.2f} "
          f"identical={'yes' if identical else 'no'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
