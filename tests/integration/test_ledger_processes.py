"""Two processes appending to one ledger at once: every run's lines arrive whole and together."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from pytest_llmfunnel.ledger.files import read_ledgers
from tests.support.paths import REPO

RUNS, VARIANTS, METRICS = 200, 3, 40  # a run's write is ~30 KB: far past one pipe buffer

WRITER = f"""
import sys
from pytest_llmfunnel.ledger.entries import Cost, MetricEntry, RunEntry
from pytest_llmfunnel.ledger.files import append_entries

path, who, go = sys.argv[1], sys.argv[2], __import__("pathlib").Path(sys.argv[3])
(go.parent / f"ready-{{who}}").touch()
while not go.exists():  # both start appending together, not one after the other
    __import__("time").sleep(0.001)
metrics = [MetricEntry(name=f"stage{{i}} pass rate", kind="binary", gated=True, n=100,
                       value=0.5, low=0.4, high=0.6) for i in range({METRICS})]
for run in range({RUNS}):
    append_entries(__import__("pathlib").Path(path), [
        RunEntry(run_id=f"{{who}}-{{run}}", time="2026-01-01T00:00:00Z", commit=None,
                 branch=None, test="t::x", variant=f"v{{v}}", cases=100,
                 dataset_fingerprint="f" * 64, judges={{}}, metrics=metrics,
                 decision="passed", promoted=True, cost=Cost(), duration=1.0)
        for v in range({VARIANTS})
    ])
"""


def test_concurrent_appends_neither_interleave_nor_lose_lines(tmp_path: Path) -> None:
    path, go = tmp_path / "ledger.jsonl", tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), who, str(go)], cwd=REPO)
        for who in ("a", "b")
    ]
    while not all((tmp_path / f"ready-{who}").exists() for who in "ab"):
        if any(w.poll() is not None for w in writers):
            break  # a writer died: its exit code says why below
        time.sleep(0.01)
    go.touch()
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * RUNS * VARIANTS
    ledger = read_ledgers([path])
    assert ledger.problems == [] and ledger.duplicates == 0
    # Each run's lines are adjacent: one write per run, never split by the other process.
    run_ids = [json.loads(line)["run_id"] for line in lines]
    for start in range(0, len(run_ids), VARIANTS):
        assert len(set(run_ids[start:start + VARIANTS])) == 1, run_ids[start:start + VARIANTS]
    assert {r.split("-")[0] for r in run_ids} == {"a", "b"}
