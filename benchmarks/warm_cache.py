"""A warm re-run of a 2,000-case eval against plain parametrized pytest.

The claim under test: once every verdict is cached, re-running an eval sends
no judge request and costs about what the same number of ordinary
parametrized tests costs, at most 1.3 times as long (median of whole-process
runs). The plain baseline is a test file that loads the same JSONL at
collection, parametrizes over the 2,000 case dicts and asserts one field per
case; the plugin is installed but not switched on there, as in a project that
uses it. The same plain run with ``-p no:llmfunnel`` (the plugin blocked) is
measured alongside and printed as ``ratio_to_no_plugin``: since the
installed-but-off plugin loads next to nothing, the two baselines should
agree, and the second one shows it.

A third run bounds what any cached eval can reach: the same plain test that
also reads one stored verdict per case from the run's own verdict cache
(``diskcache``, as stored) and validates its answer with ``pydantic``, the
least a re-run must do to know each verdict without asking the judge
(``floor_ratio``, against the plain run). It does less than the funnel: no
prompt rendered and hashed into a key, no case model, no report.

Steps: write a temporary project (the dataset with realistic lengths, a funnel
test with ``Funnel(checks.not_empty(), judges.relevance())`` and the plain
test), start the loopback judge server as a process, run once cold to fill the
cache, then alternate warm funnel runs and plain runs so both share the
machine's noise, each a whole ``python -m pytest -q -p no:cacheprovider``
process. The server's ``/stats`` counts the judge requests sent during the
warm runs.

Run: ``python benchmarks/warm_cache.py [--cases 2000] [--runs 5] [--keep]``
The last line is ``warm_cache ratio_to_plain=R ratio_to_no_plugin=B
floor_ratio=F requests=N``; the exit status is 1 when R exceeds ``--limit`` (1.3) or any
warm request was sent. The line before it gives the same medians in CPU time
(user + system of each process), which a loaded machine distorts far less
than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

WORDS = (
    "account", "billing", "invoice", "refund", "plan", "annual", "monthly", "charge", "card",
    "payment", "order", "shipping", "delivery", "address", "password", "login", "reset",
    "email", "support", "ticket", "agent", "response", "policy", "days", "within", "business",
    "original", "method", "update", "settings", "profile", "export", "data", "privacy",
    "security", "team", "member", "invite", "role", "admin", "access", "limit", "storage",
    "upgrade", "downgrade", "cancel", "renew", "trial", "discount", "coupon", "receipt", "tax",
    "region", "currency", "device", "mobile", "browser", "error", "page", "report",
)

FUNNEL_TEST = '''\
import pytest

from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(checks.not_empty(), judges.relevance())


@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_funnel(case, llm_result):
    assert llm_result.case_id == case.id
'''

PLAIN_TEST = '''\
import json
from pathlib import Path

import pytest

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_plain(case):
    assert case["output"]
'''


FLOOR_TEST = '''\
import json
from pathlib import Path

import diskcache
import pytest
from pydantic import BaseModel

HERE = Path(__file__).parent
CASES = [
    json.loads(line)
    for line in (HERE / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
CACHE = diskcache.Cache(str(HERE / ".llmfunnel" / "cache"))
KEYS = sorted(k for k in CACHE.iterkeys() if isinstance(k, str) and k.startswith("verdict:"))


class Answer(BaseModel):
    reasoning: str
    score: float


class Stored(BaseModel):
    answer: Answer


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c["id"] for c in CASES])
def test_floor(index):
    text = CACHE.get(KEYS[index % len(KEYS)])
    assert Stored.model_validate_json(text).answer.score >= 0
'''


def sentence(rng: random.Random, low: int, high: int) -> str:
    """Words until the text is between ``low`` and ``high`` characters long."""
    target = rng.randint(low, high)
    words: list[str] = []
    length = 0
    while length < target:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)[:target].rstrip()
    return text[0].upper() + text[1:] + "."


def write_project(root: Path, cases: int, seed: int) -> None:
    rng = random.Random(seed)
    with (root / "cases.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(cases):
            row = {
                "id": f"case-{i:05d}",
                "input": sentence(rng, 40, 160) + "?",
                "context": sentence(rng, 200, 500),
                "output": sentence(rng, 200, 600),
                "tags": [rng.choice(("billing", "account", "shipping"))],
            }
            handle.write(json.dumps(row) + "\n")
    (root / "test_funnel.py").write_text(FUNNEL_TEST, encoding="utf-8")
    (root / "test_plain.py").write_text(PLAIN_TEST, encoding="utf-8")
    (root / "test_floor.py").write_text(FLOOR_TEST, encoding="utf-8")
    # Pins the rootdir, so the verdict cache lands in <project>/.llmfunnel/cache.
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")


def start_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmfunnel.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    if not base_url.startswith("http"):
        server.kill()
        raise SystemExit(f"the judge server did not start (first line: {base_url!r})")
    return server, base_url


def judge_requests(base_url: str) -> int:
    parts = urllib.parse.urlsplit(base_url)
    with urllib.request.urlopen(f"{parts.scheme}://{parts.netloc}/stats", timeout=10) as reply:
        return int(json.load(reply)["requests"])


CPU_TIMES: list[float] = []  # each run's CPU time (user + system), in the order run


def run_pytest(root: Path, args: Sequence[str], env: dict[str, str]) -> float:
    """Wall time of one whole pytest process; abort on a failed run.

    Its CPU time goes to :data:`CPU_TIMES`: on a shared machine the wall time
    carries the other jobs' load, the CPU time much less of it.
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_TIMES.append(
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"pytest {' '.join(args)} exited {done.returncode}:\n{tail}")
    return elapsed


def pytest_commands(base_url: str) -> tuple[dict[str, str], list[str], list[str]]:
    """The environment (no outer endpoint or key), the funnel run's and the plain run's args."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_FUNNEL", "OPENAI"))}
    env["OPENAI_API_KEY"] = "bench-key"
    funnel = [
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
        "test_funnel.py",
    ]
    return env, funnel, ["test_plain.py"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=1.3, help="largest acceptable ratio")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="llmfunnel-warm-"))
    server, base_url = start_server()
    try:
        write_project(root, args.cases, args.seed)
        env, funnel, plain = pytest_commands(base_url)

        cold = run_pytest(root, funnel, env)
        cold_requests = judge_requests(base_url)
        print(f"cold funnel run: {cold:.2f} s, {cold_requests} judge requests")

        warm_times: list[float] = []
        plain_times: list[float] = []
        blocked_times: list[float] = []
        floor_times: list[float] = []
        cpu: dict[str, list[float]] = {"warm": [], "plain": [], "blocked": [], "floor": []}
        for i in range(args.runs):
            warm_times.append(run_pytest(root, funnel, env))
            cpu["warm"].append(CPU_TIMES[-1])
            plain_times.append(run_pytest(root, plain, env))
            cpu["plain"].append(CPU_TIMES[-1])
            blocked_times.append(run_pytest(root, ["-p", "no:llmfunnel", *plain], env))
            cpu["blocked"].append(CPU_TIMES[-1])
            floor_times.append(run_pytest(root, ["test_floor.py"], env))
            cpu["floor"].append(CPU_TIMES[-1])
            print(
                f"run {i + 1}: warm funnel {warm_times[-1]:.2f} s, plain {plain_times[-1]:.2f} s, "
                f"plain -p no:llmfunnel {blocked_times[-1]:.2f} s, floor {floor_times[-1]:.2f} s "
                f"(CPU {cpu['warm'][-1]:.2f} s, {cpu['plain'][-1]:.2f} s, "
                f"{cpu['blocked'][-1]:.2f} s, {cpu['floor'][-1]:.2f} s)"
            )
        warm_requests = judge_requests(base_url) - cold_requests
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep:
            print(f"project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    warm, base = statistics.median(warm_times), statistics.median(plain_times)
    blocked, floor = statistics.median(blocked_times), statistics.median(floor_times)
    ratio = warm / base
    print(
        f"median warm funnel {warm:.2f} s, median plain {base:.2f} s, median plain "
        f"-p no:llmfunnel {blocked:.2f} s, median floor {floor:.2f} s ({args.cases} cases)"
    )
    cpu_warm, cpu_plain, cpu_blocked, cpu_floor = (statistics.median(v) for v in cpu.values())
    print(
        f"median CPU time: warm funnel {cpu_warm:.2f} s, plain {cpu_plain:.2f} s, plain "
        f"-p no:llmfunnel {cpu_blocked:.2f} s, floor {cpu_floor:.2f} s "
        f"(cpu_ratio_to_plain={cpu_warm / cpu_plain:.2f} "
        f"cpu_ratio_to_no_plugin={cpu_warm / cpu_blocked:.2f} "
        f"cpu_floor_ratio={cpu_floor / cpu_plain:.2f})"
    )
    print(
        f"warm_cache ratio_to_plain={ratio:.2f} ratio_to_no_plugin={warm / blocked:.2f} "
        f"floor_ratio={floor / base:.2f} requests={warm_requests}"
    )
    return 0 if ratio <= args.limit and warm_requests == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
