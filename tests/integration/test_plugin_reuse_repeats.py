"""Baseline reuse with target repeats: unchanged repeated outputs are not judged again.

The target answers each case three times (``target_repeats=3``), differently
each time but the same three answers on every run. The loopback judge draws
seeded random scores, a noisy judge, and every run gets a fresh verdict cache
(a fresh CI machine): only the baseline in the repo can spare the requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_file import load_baseline
from pytest_llmfunnel.testing import JudgeServer, random_verdicts
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

BASELINE = "baselines/test_eval__test_eval.jsonl"
N = 12
REPEATS = 3

TARGET = f'''
import threading
from pathlib import Path

import pytest
from pytest_llmfunnel import Funnel, checks, judges

CALLS = {{}}
LOCK = threading.Lock()

def answer(case):
    """The k-th call for a case answers the k-th of three texts (changed.txt edits one)."""
    with LOCK:
        k = CALLS.get(case.id, 0)
        CALLS[case.id] = k + 1
    changed = Path("changed.txt")
    edited = changed.exists() and case.id in changed.read_text().split()
    suffix = " Edited." if edited and k % {REPEATS} == 1 else ""
    return f"Answer {{k % {REPEATS}}} for {{case.id}}: a blue box.{{suffix}}"

FUNNEL = Funnel(
    checks.not_empty(), judges.relevance(), judges.coherence(repeats=2),
    target=answer, target_repeats={REPEATS},
)

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case, llm_result):
    pass
'''


def project(pytester: pytest.Pytester) -> None:
    rows = [{"id": f"c{i:02d}", "input": f"What is item {i}?"} for i in range(N)]
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=TARGET)


def run(pytester: pytest.Pytester, server: JudgeServer, cache: Path, *extra: str) -> Any:
    return pytester.runpytest(*judge_args(server, f"--llm-funnel-cache-dir={cache}", *extra))


def outcomes(path: Path) -> dict[tuple[str, str], tuple[str, float, list[float]]]:
    """Per (case, stage): status, score and the samples sorted (repeat order may differ)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        (record["case"], stage["stage"]): (
            stage["status"], stage["score"], sorted(stage["samples"]),
        )
        for record in document["cases"]
        for stage in record["stages"]
    }


def test_unchanged_repeats_reuse_the_baseline_and_a_changed_repeat_rejudges_its_case(
    pytester: pytest.Pytester, tmp_path: Path, plugin_args: list[str]
) -> None:
    project(pytester)
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=21)
        update = run(pytester, server, tmp_path / "cache-a", "--llm-funnel-update-baseline",
                     "--llm-funnel-json=first.json")
        assert update.ret == 0, update.stdout.str()
        # relevance once and coherence twice, for each of three repeats of each case
        assert server.stats.requests == N * REPEATS * 3

        server.reset()
        server.default = random_verdicts(seed=22)  # asked again, it would answer otherwise
        again = run(pytester, server, tmp_path / "cache-b", "--llm-funnel-json=second.json",
                    *plugin_args)
        assert again.ret == 0, again.stdout.str()
        assert server.stats.requests == 0
        assert outcomes(pytester.path / "second.json") == outcomes(pytester.path / "first.json")
        again.stdout.fnmatch_lines(
            [f"*test_eval.py::test_eval: reused {2 * N} baseline verdicts of unchanged outputs*"]
        )

        (pytester.path / "changed.txt").write_text("c03\n")
        server.reset()
        changed = run(pytester, server, tmp_path / "cache-c", "--llm-funnel-json=third.json",
                      *plugin_args)
        sent = [json.dumps(r.body) for r in server.requests]
    assert changed.ret == 0, changed.stdout.str()
    # Exactly c03's three repeats, asked of both judges (coherence twice each).
    assert len(sent) == REPEATS * 3
    assert all("for c03" in body for body in sent)
    assert sum("Edited." in body for body in sent) == 3
    third = outcomes(pytester.path / "third.json")
    first = outcomes(pytester.path / "first.json")
    assert {k: v for k, v in third.items() if k[0] != "c03"} == {
        k: v for k, v in first.items() if k[0] != "c03"}
    # The gate pairs c03 with the baseline's own verdicts of its three stored
    # repeats, not with the current result (its first repeat is unchanged).
    document = json.loads((pytester.path / "third.json").read_text(encoding="utf-8"))
    (c03,) = [r for r in document["cases"] if r["case"] == "c03"]
    assert c03["baseline"] is not None
    assert {s["stage"]: (s["status"], s["score"]) for s in c03["baseline"]["stages"]} == {
        stage: value[:2] for (case, stage), value in first.items() if case == "c03"}


def test_the_baseline_keeps_each_repeats_output_digest_and_judge_samples(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    project(pytester)
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=5)
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
    line = load_baseline(pytester.path / BASELINE).index()[("c00", "default")]
    assert len(line.repeat_outputs) == REPEATS and len(set(line.repeat_outputs)) == REPEATS
    relevance, coherence = line.stages["relevance"], line.stages["coherence"]
    assert relevance.samples is not None and len(relevance.samples) == REPEATS
    assert coherence.samples is not None and len(coherence.samples) == 2 * REPEATS
    assert line.stages["not_empty"].samples is None


def test_a_changed_threshold_decides_each_stored_repeat_again(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    project(pytester)
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=9)
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
        stored = {c.case: c.stages["relevance"].samples
                  for c in load_baseline(pytester.path / BASELINE).cases}
        test_file = pytester.path / "test_eval.py"
        test_file.write_text(test_file.read_text().replace(
            "judges.relevance()", "judges.relevance(threshold=3)"))
        server.reset()
        result = run(pytester, server, tmp_path / "b", "--llm-funnel-json=out.json")
        assert server.stats.requests == 0
    assert result.ret == 0, result.stdout.str()
    for (case, stage), (status, _, _) in outcomes(pytester.path / "out.json").items():
        if stage != "relevance":
            continue
        samples = stored[case]
        assert samples is not None
        passing = sum(s >= 3 for s in samples)
        # A case passes when most repeats do, not when the mean clears the bar.
        assert status == ("passed" if 2 * passing > len(samples) else "failed")
