"""The funnel's ``control=`` is the ranking's control, in every place a ranking is drawn.

Three live variants against the loopback judge: every answer scores 4 on the
rubric and the pairwise judge prefers the longer answer, so ``long`` is the
best and ``production`` (the control the funnel names) the worst. The ranking
must compare with ``production`` in the live run (with and without xdist), in
``llmfunnel gate`` over shard files (whose merge stays the unsharded run's
bytes), in ``llmfunnel report`` and in the ledger lines; the command-line
control still overrides it.
"""

from __future__ import annotations

import json
import math
import re
from contextlib import redirect_stdout
from io import StringIO
from typing import Any

import pytest

from pytest_llmfunnel.cli import main
from pytest_llmfunnel.testing import Action, JudgeServer, ok, verdict
from tests.support.runs import judge_args, write_jsonl
from tests.support.shards import SHARDS, gate, shard, text, unsharded

pytestmark = pytest.mark.usefixtures("openai_env")

TEST_MODULE = """
import pytest
from pytest_llmfunnel import Funnel, judges

VARIANTS = {"long": {"template": "Item {n} is a small blue box."},
            "mid": {"template": "It is box {n}."},
            "production": {"template": "Box {n}."}}

def answer(case, variant):
    return variant["template"].format(n=case.id[1:])

LIVE = Funnel(judges.relevance(), judges.pairwise("overall"), target=answer,
              variants=VARIANTS, control="production", name="live")

@pytest.mark.llm_dataset("cases.jsonl", funnel=LIVE)
def test_live(case, llm_variant, llm_result):
    pass
"""

WIN_RATE = "pairwise_overall win rate vs production"


def answer(body: dict[str, Any]) -> Action:
    """Rubric: 4 for every answer. Pairwise: the longer answer wins."""
    if "winner" not in json.dumps(body):
        return verdict(4)
    prompt = body["messages"][-1]["content"]
    found = [re.search(rf"OUTPUT {side} \w+>>>\n(.*?)\n", prompt, re.S) for side in "AB"]
    a, b = (m.group(1) if m else "" for m in found)
    assert a and b, prompt
    return ok(json.dumps({"reasoning": "longer", "winner": "A" if len(a) > len(b) else "B"}))


def project(pytester: pytest.Pytester, judge_server: JudgeServer, n: int = 8) -> None:
    judge_server.default = answer
    write_jsonl(pytester.path / "cases.jsonl",
                [{"id": f"c{i}", "input": f"What is item {i}?"} for i in range(n)])
    pytester.makepyfile(test_live=TEST_MODULE)


def ranking_of(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    document = json.loads((pytester.path / name).read_text())
    (ranking,) = document["end_of_run"]["variants"]
    return dict(ranking)


def assert_ranked_against_production(ranking: dict[str, Any]) -> None:
    assert ranking["control"] == "production"
    assert ranking["variants"][0]["variant"] == "production"
    names = [m["name"] for m in ranking["metrics"]]
    assert WIN_RATE in names, names
    for v in ranking["variants"][1:]:  # every other variant has its win rate vs the control
        value = v["values"][names.index(WIN_RATE)]
        assert value is not None and math.isfinite(value) and value == 1.0, v
        assert v["outcome"] == "non-inferior", v


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["one process", "xdist"])
def test_the_funnels_control_is_the_rankings_control_in_the_run_report_and_ledger(
    pytester: pytest.Pytester, judge_server: JudgeServer, extra: tuple[str, ...],
) -> None:
    project(pytester, judge_server)
    result = pytester.runpytest_subprocess(*judge_args(
        judge_server, "--llm-funnel-json=out.json", "--llm-funnel-ledger=ledger.jsonl"),
        *extra)
    assert result.ret == 0, result.stdout.str()
    assert_ranked_against_production(ranking_of(pytester, "out.json"))

    lines = [json.loads(line) for line in
             (pytester.path / "ledger.jsonl").read_text().splitlines()]
    assert {line["variant"]: line["control"] for line in lines} == {
        "long": "production", "mid": "production", "production": "production"}
    assert {line["variant"]: line["outcome"] for line in lines}["production"] == "control"

    out = StringIO()
    with redirect_stdout(out):
        code = main(["report", str(pytester.path / "out.json"), "--format", "md"])
    assert code == 0
    assert "against the control production" in out.getvalue(), out.getvalue()


def test_the_command_line_control_overrides_the_funnels(
    pytester: pytest.Pytester, judge_server: JudgeServer,
) -> None:
    project(pytester, judge_server)
    result = pytester.runpytest_subprocess(*judge_args(
        judge_server, "--llm-funnel-json=out.json", "--llm-funnel-variant-control=mid"))
    assert result.ret == 0, result.stdout.str()
    ranking = ranking_of(pytester, "out.json")
    assert ranking["control"] == "mid"
    assert ranking["variants"][0]["variant"] == "mid"


@pytest.mark.slow
def test_shards_merged_by_the_gate_rank_against_the_funnels_control_as_one_run_does(
    pytester: pytest.Pytester, judge_server: JudgeServer,
) -> None:
    project(pytester, judge_server, n=12)
    warm = pytester.runpytest_subprocess(*judge_args(judge_server))  # the cache every run copies
    assert warm.ret == 0, warm.stdout.str()
    whole = unsharded(pytester, judge_server)
    assert whole.ret == 0, whole.stdout.str()
    files = [f"shard-{i}.json" for i in range(1, SHARDS + 1)]
    for i in range(1, SHARDS + 1):
        run = shard(pytester, judge_server, i)
        assert run.ret == 0, run.stdout.str()

    merged = gate(pytester, files)

    assert merged.ret == 0, merged.out + merged.err
    assert_ranked_against_production(ranking_of(pytester, "merged.json"))
    assert text(pytester, "merged.json") == text(pytester, "full.json")
    assert text(pytester, "merged.md") == text(pytester, "full.md")
