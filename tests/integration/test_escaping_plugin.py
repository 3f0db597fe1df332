"""Through the plugin: the bytes pytest writes, its JUnit XML and its report files stay inert.

A real pytest run (a subprocess, with and without ``-n 2``) evaluates a dataset
whose outputs, tags and case ids are hostile, through checks and a stage with
hostile names and reasons, a target that raises with a hostile message, and a
judge (the loopback server) whose reasoning is hostile. It runs with
``--llm-funnel-strict``, ``-rA`` (every section and the short summary), ``-l``
(locals) and ``--color=no``, so any control character in the output came from
the untrusted text. Output is read as raw bytes: decoding into lines would
swallow U+2028, NEL or form feeds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer, verdict
from tests.support.hostile import ALL, CORPUS, markdown_problems, terminal_problems
from tests.support.runs import judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

TERMINAL = "".join(CORPUS[k] for k in ("sgr", "osc8-bel", "osc8-st", "c0", "c1", "bidi",
                                       "tags", "zero-width", "separators", "clear", "title"))
REASON = f"evil.example {TERMINAL} @octocat #12"

TEST_FILE = f"""
import pytest
from pytest_llmfunnel import Funnel, checks, judges

HOSTILE = {REASON!r}

def refuse(case, output):
    return (False, "refused: " + HOSTILE)

def explode(case):
    raise ValueError("target says " + HOSTILE)

MUST = Funnel(checks.check(lambda c, o: True, name="stage " + HOSTILE),
              checks.check(refuse, name="must " + HOSTILE, must=True))
JUDGED = Funnel(checks.not_empty(), judges.relevance())
TARGET = Funnel(checks.not_empty(), target=explode, name="funnel " + HOSTILE)

@pytest.mark.llm_dataset("cases.jsonl", funnel=MUST)
def test_must(case):
    pass

@pytest.mark.llm_dataset("cases.jsonl", funnel=JUDGED)
def test_judged(case, llm_result):
    assert llm_result.ok, llm_result.stages[-1].reason

@pytest.mark.llm_dataset("inputs.jsonl", funnel=TARGET)
def test_target(case):
    pass
"""


def run_hostile(pytester: pytest.Pytester, server: JudgeServer, *extra: str) -> str:
    rows: list[dict[str, Any]] = [
        {"id": "GH-1", "input": "q", "output": ALL, "tags": [REASON, "plain"]},
        {"id": "www.evil.example", "input": "q", "output": "@octocat " + TERMINAL},
    ]
    write_jsonl(pytester.path / "cases.jsonl", rows)
    write_jsonl(pytester.path / "inputs.jsonl", [{"id": "c1", "input": "q"}])
    pytester.makepyfile(test_hostile=TEST_FILE)
    server.default = lambda body: verdict(1, reasoning="judge says " + REASON)
    args = judge_args(
        server, "--llm-funnel-strict", "-rA", "-l", "--color=no", "--tb=long",
        "--junitxml=junit.xml", "--llm-funnel-report=report.md",
        "--llm-funnel-json=results.json", *extra,
    )
    proc = pytester.popen([sys.executable, "-m", "pytest", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=300)
    text: str = out.decode("utf-8") + err.decode("utf-8")
    assert proc.returncode == 1, text
    return text


@pytest.mark.parametrize("dist", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_every_terminal_path_writes_inert_bytes(
    pytester: pytest.Pytester, judge_server: JudgeServer, dist: list[str]
) -> None:
    text = run_hostile(pytester, judge_server, *dist)
    assert terminal_problems(text) == []
    # Each path ran and showed the (inert) untrusted text.
    for shown in (
        "must evil.example",                      # must=True failure and per-item section
        "refused: evil.example",                  # the check's reason
        "judge says evil.example",                # the judge's reason under strict
        "target says evil.example",               # the target's error under strict
        "- llm-funnel -",                         # the per-item section (-rA)
        "llm_result = CaseResult(",               # -l locals
        "cases that failed or errored in the funnel",  # the terminal summary
    ):
        assert shown in text, shown
    # The short summary's line of the must=True failure.
    assert re.search(r"^FAILED test_hostile.py::test_must\[GH-1\]\S* - Failed: case", text, re.M)


def test_junit_xml_is_well_formed_without_control_characters(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    run_hostile(pytester, judge_server, "-p", "no:xdist")
    raw = (pytester.path / "junit.xml").read_bytes().decode("utf-8")
    root = ET.fromstring(raw)
    assert terminal_problems(raw) == []
    names = [p.get("name", "") for p in root.iter("property")]
    assert any(n.startswith("llm_funnel.stage evil.example") for n in names), names
    failures = [f.get("message", "") for f in root.iter("failure")]
    assert any("refused: evil.example" in m for m in failures), failures
    assert all(terminal_problems(m) == [] for m in [*names, *failures])


def test_report_files_of_a_real_run_are_inert(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    run_hostile(pytester, judge_server, "-p", "no:xdist")
    assert markdown_problems((pytester.path / "report.md").read_text(encoding="utf-8")) == []
    raw = (pytester.path / "results.json").read_text(encoding="utf-8")
    assert not any(ch in raw for ch in "\x85\x9b\u202e\u2028\u2029\U000e0041")
    outputs = {c["case"]: c["output"] for c in json.loads(raw)["cases"]}
    assert outputs["GH-1"] == ALL  # the exact text, back through json.loads
