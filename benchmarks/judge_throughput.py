"""End-to-end judge throughput of one pytest run against a slow loopback judge.

Starts the loopback judge server as its own process with a fixed latency per
answer, writes a dataset and a plain synchronous test file into a temporary
folder, and runs ONE ``pytest --llm-funnel`` process (empty cache, cache off)
against it. The ideal wall time is ``cases × latency / concurrency``: every
judge slot busy from the first moment to the last. ``ratio_to_ideal`` is the
whole process's wall time (interpreter start, collection, batch, report)
divided by that ideal, so it charges the plugin for all of its overhead.

The server's ``/stats`` confirm what was sent: one request per case
(``requests == unique_prompts == cases``) and never more in flight than the
concurrency allows (``max_inflight``).

With ``--xdist N`` a second run uses ``-n N`` with the same total concurrency
(each worker gets its share) and prints a ``judge_throughput_xdist`` line.

Run: ``python benchmarks/judge_throughput.py [--cases 1000] [--latency 0.3]
[--concurrency 32] [--xdist 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, judges

FUNNEL = Funnel(judges.rubric("helpful", "Does the answer help the user?", name="helpful"))


@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_throughput(case):
    pass
"""


def write_project(folder: Path, cases: int, test_file: str = TEST_FILE,
                  name: str = "test_throughput.py") -> None:
    """``cases`` distinct support answers in cases.jsonl, and the eval test beside them."""
    rows = (
        {
            "id": f"case-{i:05d}",
            "input": f"Question number {i}: how do I reset my password?",
            "output": f"Answer {i}: open Settings, then Security, then Reset password.",
        }
        for i in range(cases)
    )
    (folder / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / name).write_text(test_file)
    (folder / "pytest.ini").write_text("[pytest]\n")


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [
            sys.executable, "-m", "pytest_llmfunnel.testing",
            "--port", "0", "--latency", str(latency),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    if not base_url.startswith("http"):
        server.kill()
        raise SystemExit(f"the judge server did not start (said {base_url!r})")
    return server, base_url


def server_call(base_url: str, path: str, method: str = "GET") -> dict[str, object]:
    root = base_url.removesuffix("/v1")
    data = b"" if method == "POST" else None
    request = urllib.request.Request(root + path, method=method, data=data)
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def run_pytest(folder: Path, base_url: str, concurrency: int, xdist: int) -> float:
    """Run one pytest process; return its wall time in seconds."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
        f"--llm-funnel-concurrency={concurrency}", "--llm-funnel-cache=off",
    ]
    command += ["-n", str(xdist)] if xdist else ["-p", "no:xdist"]
    env = {**os.environ, "OPENAI_API_KEY": "benchmark-key"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"pytest exited with {done.returncode}")
    return wall


def measure(label: str, folder: Path, base_url: str, args: argparse.Namespace, xdist: int) -> str:
    """Run once; print the timing and return the machine-readable result line."""
    server_call(base_url, "/reset", "POST")
    wall = run_pytest(folder, base_url, args.concurrency, xdist)
    stats = server_call(base_url, "/stats")
    ideal = args.cases * args.latency / args.concurrency
    mode = f"-n {xdist}" if xdist else "no xdist"
    print(f"{label}: {args.cases} cases, {mode}, wall {wall:.2f} s, ideal {ideal:.2f} s")
    return (
        f"{label} ratio_to_ideal={wall / ideal:.2f} requests={stats['requests']} "
        f"unique_prompts={stats['unique_prompts']} max_inflight={stats['max_inflight']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--xdist", type=int, default=0, metavar="N",
                        help="also run with -n N (same total concurrency)")
    args = parser.parse_args()
    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_project(folder, args.cases)
            lines = [measure("judge_throughput", folder, base_url, args, 0)]
            if args.xdist:
                lines.append(measure("judge_throughput_xdist", folder, base_url, args, args.xdist))
    finally:
        server.terminate()
        server.wait(timeout=10)
    # The result lines come last: without --xdist the very last line is the
    # judge_throughput one; with --xdist the judge_throughput_xdist line follows it.
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
