"""Live variants through the plugin: one target, several settings, against the loopback judge.

The target answers from its variant's template and appends each call to
``calls.log`` (one short line per call, so the xdist workers' appends do not
interleave); the variants' settings live in ``variants.json`` so a test can
edit one variant between runs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from pytest_llmfunnel.testing import Action, JudgeServer, ok, verdict
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

TEST_MODULE = """
import json
import os
from pathlib import Path

import pytest
from pytest_llmfunnel import Funnel, checks, judges

HERE = Path(__file__).parent
VARIANTS = json.loads((HERE / "variants.json").read_text())
BROKEN = set(os.environ.get("BROKEN", "").split())  # "case:variant" the target fails on

def answer(case, variant):
    with open(HERE / "calls.log", "a") as log:
        log.write(f"{variant.name} {case.id}\\n")
    if f"{case.id}:{variant.name}" in BROKEN:
        raise KeyError(f"no template for {case.id}")
    return variant["template"].format(n=case.id[1:])

LIVE = Funnel(checks.max_chars(60), judges.relevance(), judges.pairwise("overall"),
              target=answer, variants=VARIANTS, name="live")

@pytest.mark.llm_dataset("cases.jsonl", funnel=LIVE)
def test_live(case, llm_variant, llm_result):
    assert llm_result.variant == llm_variant
"""

SETTINGS: dict[str, dict[str, Any]] = {
    "base": {"template": "Item {n} is a blue box."},
    "terse": {"template": "Box {n}."},
}


def answer(body: dict[str, Any]) -> Action:
    """Rubric: 4, or 1 for an answer saying "red". Pairwise: the longer answer wins."""
    text = json.dumps(body)
    if "winner" not in text:
        return verdict(1 if "red box" in text else 4)
    prompt = body["messages"][-1]["content"]
    found = [re.search(rf"OUTPUT {side} \w+>>>\n(.*?)\n", prompt, re.S) for side in "AB"]
    a, b = (m.group(1) if m else "" for m in found)
    assert a and b, prompt
    return ok(json.dumps({"reasoning": "longer", "winner": "A" if len(a) > len(b) else "B"}))


def project(pytester: pytest.Pytester, settings: dict[str, dict[str, Any]] = SETTINGS,
            n: int = 6) -> None:
    rows = [{"id": f"c{i}", "input": f"What is item {i}?", "context": f"Item {i} is a box."}
            for i in range(n)]
    write_jsonl(pytester.path / "cases.jsonl", rows)
    set_variants(pytester, settings)
    pytester.makepyfile(test_live=TEST_MODULE)


def set_variants(pytester: pytest.Pytester, settings: dict[str, dict[str, Any]]) -> None:
    (pytester.path / "variants.json").write_text(json.dumps(settings))


def calls(pytester: pytest.Pytester) -> Counter[str]:
    """Target calls per variant since the last look (the log is emptied)."""
    log = pytester.path / "calls.log"
    if not log.exists():
        return Counter()
    counted = Counter(line.split()[0] for line in log.read_text().splitlines())
    log.unlink()
    return counted


def test_live_variants_are_produced_recorded_and_rerun_only_when_edited(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    judge_server.default = answer
    project(pytester)
    first = pytester.runpytest(*judge_args(judge_server), *plugin_args)
    first.assert_outcomes(passed=12)
    assert calls(pytester) == {"base": 6, "terse": 6}
    # 12 relevance verdicts, and each terse answer compared with base's in both orders
    assert judge_server.stats.requests == 12 + 6 * 2

    judge_server.reset()
    again = pytester.runpytest(*judge_args(judge_server), *plugin_args)
    again.assert_outcomes(passed=12)
    assert calls(pytester) == {}  # every output recorded, every verdict cached
    assert judge_server.stats.requests == 0

    set_variants(pytester, {**SETTINGS, "terse": {"template": "It is box {n}."}})
    edited = pytester.runpytest(*judge_args(judge_server), *plugin_args)
    edited.assert_outcomes(passed=12)
    assert calls(pytester) == {"terse": 6}  # base is untouched
    assert judge_server.stats.requests == 6 + 6 * 2  # terse judged and compared afresh


def test_a_variants_target_error_counts_against_it_alone(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge_server.default = answer
    project(pytester)
    monkeypatch.setenv("BROKEN", "c1:terse c2:terse")
    result = pytester.runpytest(*judge_args(
        judge_server, "--llm-funnel-json=out.json", "--llm-funnel-max-error-share=0.5"), "-rA")
    out = result.stdout.str()
    assert result.ret == 0, out  # a target error marks its own item (below the error share)
    result.stdout.fnmatch_lines_random([
        "LLM-ERROR test_live.py::test_live[[]c1:terse[]] - target: error: target raised KeyE*",
        "LLM-ERROR test_live.py::test_live[[]c2:terse[]] - target: error: target raised KeyE*",
        "PASSED test_live.py::test_live[[]c1:base[]]",
    ])
    document = json.loads((pytester.path / "out.json").read_text())
    cases = {(c["case"], c["variant"]): c for c in document["cases"]}
    assert {k for k, c in cases.items() if c.get("error")} == {("c1", "terse"), ("c2", "terse")}
    assert cases[("c1", "terse")]["error"] == "target raised KeyError: 'no template for c1'"
    assert all(cases[(f"c{i}", "base")]["promoted"] for i in range(6))
    # base wins c1 and c2 by walkover, without a request; the other four are compared
    assert judge_server.stats.requests == 10 + 4 * 2
    assert calls(pytester) == {"base": 6, "terse": 6}
    # the failed outputs were not recorded: the next run asks the target for them alone
    monkeypatch.setenv("BROKEN", "")
    pytester.runpytest(*judge_args(judge_server))
    assert calls(pytester) == {"terse": 2}


def _comparable(document: dict[str, Any]) -> Any:
    """What a run decided, without timings, paths or ids that differ between runs."""
    cases = sorted(
        (c["case"], c["variant"], c.get("output"), c["promoted"],
         [(s["stage"], s["status"], s.get("score")) for s in c["stages"]])
        for c in document["cases"]
    )
    return cases, document["decisions"]


def test_under_xdist_the_results_are_the_same(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    judge_server.default = answer
    project(pytester, {**SETTINGS, "red": {"template": "Item {n} is a red box."}}, n=20)
    documents, rankings = [], []
    for name, args in (("plain", ["-p", "no:xdist"]), ("n2", ["-n", "2"])):
        result = pytester.runpytest(*judge_args(
            judge_server, f"--llm-funnel-json={name}.json",
            f"--llm-funnel-cache-dir={pytester.path / name}"), *args)
        out = result.stdout.str()
        assert result.ret == 0, out
        rankings.append(out[out.index("variants of"):out.index("no baseline yet")])
        documents.append(json.loads((pytester.path / f"{name}.json").read_text()))
    assert calls(pytester) == {"base": 40, "terse": 40, "red": 40}  # 20 cases, twice
    plain, n2 = (_comparable(d) for d in documents)
    assert plain == n2
    assert len(plain[0]) == 60
    assert rankings[0] == rankings[1]
    said = " ".join(rankings[0].split())
    assert "red: undecided: " in said and "base: control: " in said, said


def test_each_live_variant_is_gated_against_its_own_baseline_rows(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    judge_server.default = answer
    project(pytester, n=10)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()
    rows = [json.loads(line) for line in next((pytester.path / "baselines").iterdir())
            .read_text().splitlines()]
    assert {(r.get("case"), r.get("variant")) for r in rows if "variant" in r} >= {
        ("c0", "base"), ("c0", "terse")}
    # terse's new prompt makes every answer wrong; base is unchanged
    set_variants(pytester, {**SETTINGS, "terse": {"template": "Item {n} is a red box."}})
    judge_server.reset()
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-json=out.json"))
    assert result.ret == 1, result.stdout.str()
    document = json.loads((pytester.path / "out.json").read_text())
    [relevance] = [d for d in document["decisions"] if d["metric"] == "relevance pass rate"]
    assert relevance["decision"] == "regressed" and relevance["n"] == 20  # case x variant
    failed = {(c["case"], c["variant"]) for c in document["cases"] if not c["promoted"]
              or any(s["status"] == "failed" for s in c["stages"])}
    assert failed == {(f"c{i}", "terse") for i in range(10)}
    assert calls(pytester) == {"base": 10, "terse": 20}
    # terse judged afresh and compared with base in both orders; base's verdicts reused
    assert judge_server.stats.requests == 10 + 10 * 2
