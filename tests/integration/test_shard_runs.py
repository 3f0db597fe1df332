"""One gate across CI shards: three shards merged by ``llmfunnel gate`` equal one run.

Real ``pytest --llm-funnel`` sessions against the loopback judge server (it
scores an output 2 when it contains ``WORSE`` and 5 otherwise): a baseline is
accepted, then the same project runs once whole and once as three shards
(``--llm-funnel-shard=I/3``). The merged JSON results and Markdown report must
be the same bytes as the unsharded run's, the exit status the same, and the
verdict printed the same. A shard that is missing or did not finish makes the
merge incomplete (never a pass); shards that do not belong together are refused.
"""

from __future__ import annotations

import json

import pytest

from pytest_llmfunnel.report.shard_entry import shard_of
from pytest_llmfunnel.testing import JudgeServer
from tests.support.gate_project import project, rows_with
from tests.support.shards import SHARDS, accept_baseline, gate, shard, text, unsharded

pytestmark = [pytest.mark.usefixtures("openai_env"), pytest.mark.slow]  # ~20 pytest processes

FILES = [f"shard-{i}.json" for i in range(1, SHARDS + 1)]
CRASH_CONFTEST = """
import os

def pytest_runtest_call(item):
    if os.environ.get("CRASH_AFTER") and item.nodeid.endswith("[c%s]" % os.environ["CRASH_AFTER"]):
        raise KeyboardInterrupt
"""


def verdict_line(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("llm-funnel gate"))


@pytest.mark.parametrize("worse", [(), tuple(range(0, 60, 3))], ids=["passes", "regresses"])
def test_three_shards_merge_into_the_unsharded_runs_bytes_and_exit_status(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    worse: tuple[int, ...],
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    accept_baseline(pytester, judge_server, rows_with())
    project(pytester, rows_with(worse))
    whole = unsharded(pytester, judge_server)
    assert whole.ret == (1 if worse else 0), whole.stdout.str()
    runs = [shard(pytester, judge_server, i) for i in range(1, SHARDS + 1)]
    assert [r.ret for r in runs] == [0, 0, 0], [r.stdout.str() for r in runs]
    selected = [len(json.loads(text(pytester, f))["cases"]) for f in FILES]
    assert sum(selected) == 60 and all(n > 0 for n in selected), selected

    merged = gate(pytester, FILES)

    assert merged.ret == whole.ret, merged.out + merged.err
    assert text(pytester, "merged.json") == text(pytester, "full.json")
    assert text(pytester, "merged.md") == text(pytester, "full.md")
    assert verdict_line(merged.out.splitlines()) == verdict_line(whole.stdout.lines)
    # The shards' order on the command line does not matter.
    again = gate(pytester, list(reversed(FILES)))
    assert again.ret == whole.ret
    assert text(pytester, "merged.json") == text(pytester, "full.json")


def test_shards_run_with_xdist_merge_into_the_unsharded_runs_bytes(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    project(pytester, rows_with(range(0, 60, 4)))
    whole = unsharded(pytester, judge_server)
    runs = [shard(pytester, judge_server, i, "-n", "2") for i in range(1, SHARDS + 1)]
    assert [r.ret for r in runs] == [0, 0, 0], [r.stdout.str() for r in runs]

    merged = gate(pytester, FILES)

    assert merged.ret == whole.ret == 1, merged.out + merged.err
    assert text(pytester, "merged.json") == text(pytester, "full.json")
    assert text(pytester, "merged.md") == text(pytester, "full.md")


def test_a_shard_whose_judge_failed_never_lets_the_merge_pass(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    """Judge errors in one shard: the merge says what the unsharded run says, and fails."""
    accept_baseline(pytester, judge_server, rows_with())
    rows = rows_with()
    failing = [i for i, row in enumerate(rows)
               if shard_of("test_eval.py::test_eval", row["id"], SHARDS) == 2][:6]
    for i in failing:
        rows[i]["output"] += " GARBAGE"  # the server answers outside the scale: an error
    project(pytester, rows)
    whole = unsharded(pytester, judge_server)
    runs = [shard(pytester, judge_server, i) for i in range(1, SHARDS + 1)]
    assert [r.ret for r in runs] == [0, 1, 0], [r.stdout.str() for r in runs]

    merged = gate(pytester, FILES)

    assert merged.ret == whole.ret == 1, merged.out + merged.err
    assert text(pytester, "merged.json") == text(pytester, "full.json")
    assert text(pytester, "merged.md") == text(pytester, "full.md")
    document = json.loads(text(pytester, "merged.json"))
    assert document["status"] != "passed"
    assert "ended in a judge or target error" in merged.out


def test_a_missing_shard_makes_the_merge_incomplete_and_names_it_and_its_cases(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    for i in (1, 3):
        assert shard(pytester, judge_server, i).ret == 0
    listed = {c["case"] for f in (FILES[0], FILES[2])
              for c in json.loads(text(pytester, f))["cases"]}

    merged = gate(pytester, [FILES[0], FILES[2]])

    assert merged.ret == 1, merged.out + merged.err
    document = json.loads(text(pytester, "merged.json"))
    assert document["status"] == "incomplete"
    stopped = document["completeness"]["stopped"]
    assert "shard 2 of 3 is missing" in stopped
    absent = sorted({f"c{i:02d}" for i in range(60)} - listed)
    assert absent and absent[0] in stopped
    assert document["decisions"] == []
    assert "Incomplete run" in text(pytester, "merged.md").decode()
    assert verdict_line(merged.out.splitlines()).startswith(
        "llm-funnel gate not decided: Incomplete run"
    )


def test_a_shard_that_did_not_finish_makes_the_merge_incomplete(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    pytester.makeconftest(CRASH_CONFTEST)
    for i in (1, 3):
        assert shard(pytester, judge_server, i).ret == 0
    # Run shard 2 once to learn its cases, then again, stopped at its second case.
    assert shard(pytester, judge_server, 2).ret == 0
    first = json.loads(text(pytester, FILES[1]))["cases"][1]["case"]
    monkeypatch.setenv("CRASH_AFTER", first[1:])
    crashed = shard(pytester, judge_server, 2)
    assert crashed.ret == 2, crashed.stdout.str()

    merged = gate(pytester, FILES)

    assert merged.ret == 1, merged.out + merged.err
    document = json.loads(text(pytester, "merged.json"))
    assert document["status"] == "incomplete"
    assert "shard 2 of 3" in document["completeness"]["stopped"]
    assert first in document["completeness"]["stopped"]  # the case that never reported
    assert document["decisions"] == []


def test_shards_that_do_not_belong_together_are_refused(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept_baseline(pytester, judge_server, rows_with())
    monkeypatch.setenv("LLM_FUNNEL_RUN_ID", "run-1")
    for i in range(1, SHARDS + 1):
        assert shard(pytester, judge_server, i).ret == 0

    twice = gate(pytester, [FILES[0], FILES[0], FILES[1], FILES[2]])
    assert twice.ret == 2
    assert "shard 1 of 3 is given twice" in twice.err

    monkeypatch.setenv("LLM_FUNNEL_RUN_ID", "run-2")
    assert shard(pytester, judge_server, 2).ret == 0
    other_run = gate(pytester, FILES)
    assert other_run.ret == 2
    assert "different runs" in other_run.err and "run-2" in other_run.err

    monkeypatch.setenv("LLM_FUNNEL_RUN_ID", "run-1")
    assert shard(pytester, judge_server, 2, "--llm-funnel-alpha=0.1").ret == 0
    other_settings = gate(pytester, FILES)
    assert other_settings.ret == 2
    assert "alpha" in other_settings.err

    assert shard(pytester, judge_server, 2, count=4).ret == 0
    other_split = gate(pytester, FILES)
    assert other_split.ret == 2
    assert "of 4" in other_split.err
    assert not (pytester.path / "merged.json").exists()
