"""Structured outputs through a real run: the docs' example, the cache, xdist and the target.

The snippet and dataset of docs/outputs.md run as they are, against the
loopback OpenAI-compatible server (real ``openai`` client, real HTTP), with a
real diskcache, without xdist, with ``-n 0`` and with ``-n 2``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

# Loaded before any in-process pytester run (see tests/support/preload.py): were the
# funnel first imported inside one, a later run's Funnel class would not be the
# one the package's public name still points at.
import pytest_llmfunnel.funnel.runner  # noqa: F401
from pytest_llmfunnel.testing import JudgeServer, verdict
from tests.support.paths import REPO
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

PAGE = (REPO / "docs" / "outputs.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def code_blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def doc_project(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    (dataset,) = [b for b in code_blocks(PAGE, "json") if '"context"' in b]
    (test,) = [b for b in code_blocks(PAGE, "python") if "llm_dataset" in b]
    pytester.makefile(".jsonl", cases=dataset)
    pytester.makepyfile(test_support=test)
    return [json.loads(line) for line in dataset.splitlines()]


def run(pytester: pytest.Pytester, server: JudgeServer, cache: Path, *extra: str) -> Any:
    return pytester.runpytest(
        *judge_args(server, f"--llm-funnel-cache-dir={cache}", "--llm-funnel-json=out.json"),
        *extra,
    )


def test_the_docs_example_runs_and_structure_reaches_the_results(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str], tmp_path: Path
) -> None:
    rows = doc_project(pytester)
    judge_server.default = lambda body: verdict(5)
    cache = tmp_path / "cache"
    result = run(pytester, judge_server, cache, *plugin_args)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    assert judge_server.stats.requests == 2
    cases = {c["case"]: c for c in json.loads((pytester.path / "out.json").read_text())["cases"]}
    assert cases["returns"]["structured"]["context"][0]["id"] == "returns-1"
    assert cases["returns"]["output"] == rows[0]["output"]["text"]
    scores = {name: {s["stage"]: s["score"] for s in c["stages"]} for name, c in cases.items()}
    assert scores["returns"]["tool_calls"] == 1.0 and scores["shipping"]["tool_calls"] == 0.0

    # The same outputs again: every verdict from the cache, keyed by the whole output.
    judge_server.reset()
    judge_server.default = lambda body: verdict(5)
    again = run(pytester, judge_server, cache, *plugin_args)
    assert again.ret == 0 and judge_server.stats.requests == 0

    # One chunk changed, the text the judge sees unchanged: only that case is asked again.
    rows[1]["output"]["context"][0]["text"] = "Orders ship in 2 to 4 working days."
    write_jsonl(pytester.path / "cases.jsonl", rows)
    judge_server.reset()
    judge_server.default = lambda body: verdict(5)
    changed = run(pytester, judge_server, cache, *plugin_args)
    assert changed.ret == 0 and judge_server.stats.requests == 1


TARGET_TEST = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

def target(case):
    if case.id == "c01":
        raise KeyError("no such order")
    return {"text": f"answer {case.id}", "context": [{"text": "a chunk", "id": f"doc-{case.id}"}]}

FUNNEL = Funnel(
    checks.contains("answer", name="says_answer"), judges.relevance(),
    target=target, target_retries=0,
)

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_live(case, llm_result):
    pass
"""


def test_target_errors_are_reported_apart_and_structure_is_shown(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str], tmp_path: Path
) -> None:
    write_jsonl(pytester.path / "cases.jsonl",
                [{"id": f"c{i:02d}", "input": f"question {i}"} for i in range(3)])
    pytester.makepyfile(test_live=TARGET_TEST)
    judge_server.default = lambda body: verdict(2)  # below the threshold: shown as failures
    # strict: the items fail, and a failure shows the case detail (its llm-funnel section)
    result = run(pytester, judge_server, tmp_path / "cache", "--llm-funnel-strict", *plugin_args)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "test_live.py::test_live: 3 cases, 2 promoted (67%), 1 error; 1 target error",
        "  (apart from 0 judge errors, 0 failed checks)",
    ])
    assert "target: error: target raised KeyError: 'no such order'" in result.stdout.str()
    result.stdout.fnmatch_lines(["*chunk [[]1[]] doc-c00: a chunk*"])
    doc = json.loads((pytester.path / "out.json").read_text())
    assert doc["datasets"][0]["target_errors"] == 1
    by_case = {c["case"]: c for c in doc["cases"]}
    assert by_case["c01"]["target_errors"] == 1 and "target_errors" not in by_case["c00"]
    assert by_case["c02"]["structured"]["context"] == [{"text": "a chunk", "id": "doc-c02"}]


def test_the_baseline_keeps_the_structure_and_reuses_only_unchanged_outputs(
    pytester: pytest.Pytester, judge_server: JudgeServer, tmp_path: Path
) -> None:
    rows = doc_project(pytester)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    judge_server.default = lambda body: verdict(5)
    update = run(pytester, judge_server, tmp_path / "first", "--llm-funnel-update-baseline")
    assert update.ret == 0, update.stdout.str()
    (baseline,) = (pytester.path / "baselines").glob("*.jsonl")
    lines = [json.loads(line) for line in baseline.read_text().splitlines()[1:]]
    assert {line["case"]: line["structured"]["context"][0]["id"] for line in lines} == {
        "returns": "returns-1", "shipping": "shipping-1"}

    # A fresh machine (empty cache): the unchanged case takes the baseline's verdict; the
    # case whose chunk changed (same text) is judged, as its whole output is not the same.
    rows[1]["output"]["context"][0]["text"] = "Orders ship in 2 to 4 working days."
    write_jsonl(pytester.path / "cases.jsonl", rows)
    judge_server.reset()
    judge_server.default = lambda body: verdict(5)
    result = run(pytester, judge_server, tmp_path / "second")
    assert result.ret == 0, result.stdout.str()
    assert judge_server.stats.requests == 1
    result.stdout.fnmatch_lines(["*reused 1 baseline verdict of unchanged outputs*"])
