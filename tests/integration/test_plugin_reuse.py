"""Unchanged outputs are not judged again: the baseline's stored verdict is reused.

The loopback judge answers with seeded random scores, a noisy judge: asked
twice about the same output it may disagree with itself. An unchanged output
with the same judge takes the baseline's verdict on the current side as well,
so there is no request and no noise, and an unchanged dataset cannot fail the
gate however the baseline's draws fell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_file import load_baseline
from pytest_llmfunnel.testing import JudgeServer, random_verdicts
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

BASELINE = "baselines/test_eval__test_eval.jsonl"
N = 40


def project(pytester: pytest.Pytester, rows: list[dict[str, Any]], judge: str) -> None:
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(
        test_eval=f"""
        import pytest
        from pytest_llmfunnel import Funnel, checks, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel({judge}))
        def test_eval(case, llm_result):
            pass
        """
    )


def run(pytester: pytest.Pytester, server: JudgeServer, cache: Path, *extra: str) -> Any:
    return pytester.runpytest(
        *judge_args(server, f"--llm-funnel-cache-dir={cache}", *extra)
    )


@pytest.mark.slow
def test_thirty_unchanged_runs_on_fresh_machines_never_fail_and_send_nothing(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    judge = "judges.relevance(), judges.coherence()"
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=18)
        project(pytester, cases(N), judge)
        update = run(pytester, server, tmp_path / "cache-update", "--llm-funnel-update-baseline")
        assert update.ret == 0, update.stdout.str()
        assert server.stats.requests > 0  # the baseline's verdicts were really asked for
        failures, requests = [], []
        for attempt in range(30):
            server.reset()
            server.default = random_verdicts(seed=1000 + attempt)
            result = run(pytester, server, tmp_path / f"cache-{attempt}")  # a fresh machine
            if result.ret != 0:
                failures.append(result.stdout.str())
            requests.append(server.stats.requests)
    assert failures == []
    assert requests == [0] * 30
    result.stdout.fnmatch_lines([
        f"*test_eval.py::test_eval: reused {2 * N} baseline verdicts of unchanged outputs*",
    ])


def test_a_changed_output_is_judged_and_only_it(
    pytester: pytest.Pytester, tmp_path: Path, plugin_args: list[str]
) -> None:
    rows = cases(N)
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=7)
        project(pytester, rows, "judges.relevance()")
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
        rows[5]["output"] += " Edited."
        rows[9]["input"] += " Reworded?"  # a changed case: its prompt is new
        project(pytester, rows, "judges.relevance()")
        server.reset()
        result = run(pytester, server, tmp_path / "b", *plugin_args)
        sent = [json.dumps(r.body) for r in server.requests]
    assert result.ret == 0, result.stdout.str()
    assert len(sent) == 2
    assert any("Edited." in body for body in sent)
    assert any("Reworded?" in body for body in sent)
    result.stdout.fnmatch_lines(["*reused 38 baseline verdicts of unchanged outputs*"])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("judges.relevance()", "judges.relevance(temperature=0.7)"),
        ("judges.relevance()", "judges.relevance(threshold=4.5, repeats=3)"),
        ("judges.relevance()", "judges.relevance(model='other-model')"),
        ("judges.relevance()", "judges.relevance(rubric='Is it on topic? Be strict.')"),
    ],
    ids=["sampling", "repeats", "model", "rubric"],
)
def test_a_changed_judge_asks_again(
    pytester: pytest.Pytester, tmp_path: Path, before: str, after: str
) -> None:
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=3)
        project(pytester, cases(8), before)
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
        project(pytester, cases(8), after)
        server.reset()
        result = run(pytester, server, tmp_path / "b")
        # Every current output is asked of the new judge (the baseline's equal
        # outputs share those answers).
        assert server.stats.requests >= 8, result.stdout.str()
    assert "baseline verdicts of unchanged outputs" not in result.stdout.str()


def test_a_changed_threshold_decides_again_from_the_stored_score(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=5)
        project(pytester, cases(N), "judges.relevance()")
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
        scores = {c.case: c.stages["relevance"].score
                  for c in load_baseline(pytester.path / BASELINE).cases}
        project(pytester, cases(N), "judges.relevance(threshold=2)")
        server.reset()
        result = run(pytester, server, tmp_path / "b", "--llm-funnel-json=out.json")
        assert server.stats.requests == 0
    assert result.ret == 0, result.stdout.str()
    document = json.loads((pytester.path / "out.json").read_text())
    for record in document["cases"]:
        stage = record["stages"][0]
        assert stage["score"] == scores[record["case"]]
        assert stage["status"] == ("passed" if stage["score"] >= 2 else "failed")


def test_an_update_keeps_the_verdicts_of_unchanged_outputs(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=11)
        project(pytester, cases(N), "judges.relevance()")
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
        first = (pytester.path / BASELINE).read_bytes()
        server.reset()
        again = run(pytester, server, tmp_path / "b", "--llm-funnel-update-baseline")
        assert server.stats.requests == 0
    assert again.ret == 0
    again.stdout.fnmatch_lines([f"*baseline unchanged: {BASELINE}*"])
    assert (pytester.path / BASELINE).read_bytes() == first


def test_the_markdown_report_and_the_json_count_the_reused_verdicts(
    pytester: pytest.Pytester, tmp_path: Path, plugin_args: list[str]
) -> None:
    rows = cases(N)
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=11)
        project(pytester, rows, "judges.relevance()")
        assert run(pytester, server, tmp_path / "a", "--llm-funnel-update-baseline").ret == 0
        rows[3]["output"] += " Edited."
        project(pytester, rows, "judges.relevance()")
        server.reset()
        result = run(pytester, server, tmp_path / "b", "--llm-funnel-json=out.json",
                     "--llm-funnel-report=report.md", *plugin_args)
        assert server.stats.requests == 1
    assert result.ret == 0, result.stdout.str()
    document = json.loads((pytester.path / "out.json").read_text())
    (stage,) = document["datasets"][0]["stages"]
    assert (stage["stage"], stage["reused"], stage["requests"]) == ("relevance", N - 1, 1)
    reused = {r["case"] for r in document["cases"] if r["stages"][0].get("reused")}
    assert reused == {r["id"] for r in rows} - {rows[3]["id"]}
    report = (pytester.path / "report.md").read_text()
    header = next(line for line in report.splitlines() if "| stage |" in line)
    row = next(line for line in report.splitlines() if "| relevance |" in line)
    cells = dict(zip(
        [c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")], strict=True))
    assert (cells["reused"], cells["sent"]) == (str(N - 1), "1")
