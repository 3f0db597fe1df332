"""A red build explains itself: the cases behind the failing metric, with whole reasons.

A real session against the loopback judge server (through the ``openai``
client) regresses: a fifth of the outputs get worse and the judge gives them
a reasoning far longer than a terminal line or the record's former 400
characters. The cases behind the failing pass rate appear above the verdict,
each with its input, both outputs and the judge's reason whole (wrapped to
the width, never cut), with and without xdist, and in the Markdown report.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

# Imported outside the in-process runs, which unload what they import (see
# tests/support/preload.py): the second run's Funnel must be the plugin's.
from pytest_llmfunnel import Funnel  # noqa: F401
from pytest_llmfunnel.testing import JudgeServer, verdict
from pytest_llmfunnel.testing.actions import last_user_message
from tests.support.gate_project import project, run
from tests.support.runs import cases

pytestmark = pytest.mark.usefixtures("openai_env")

N = 40
WORSE = range(0, N, 5)
REASON = " ".join(
    f"sentence {i}: the answer claims a delivery date the context never gives, and it "
    "names a warehouse that the retrieved passage does not mention at all;"
    for i in range(12)
)  # about 1,500 characters


def long_reasons(server: JudgeServer) -> None:
    """Score 2 with :data:`REASON` for outputs containing WORSE, 5 for the rest."""

    def answer(body: dict[str, Any]) -> object:
        if "WORSE" in last_user_message(body):
            return verdict(2, reasoning=REASON)
        return verdict(5, reasoning="supported")

    server.default = answer  # type: ignore[assignment]


def rows(worse: range | tuple[int, ...] = ()) -> list[dict[str, Any]]:
    out = cases(N)
    for i in worse:
        out[i]["output"] = str(out[i]["output"]) + " WORSE"
    return out


def regressed(pytester: pytest.Pytester, server: JudgeServer, *extra: str) -> pytest.RunResult:
    long_reasons(server)
    project(pytester, rows())
    assert run(pytester, server, "--llm-funnel-update-baseline").ret == 0
    project(pytester, rows(WORSE))
    return run(pytester, server, "--llm-funnel-json=r.json", "--llm-funnel-report=r.md", *extra)


@pytest.mark.parametrize("extra", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_the_failing_metrics_cases_come_with_their_whole_reason(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    result = regressed(pytester, judge_server, *extra)
    assert result.ret == 1, result.stdout.str()
    lines = result.outlines
    verdict_at = next(i for i, line in enumerate(lines) if line.startswith("llm-funnel gate"))
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("why eval: relevance pass rate regressed"))
    assert start < verdict_at
    section = lines[start:verdict_at]
    assert all(len(line) <= 100 for line in section)
    text = " ".join(" ".join(section).split())
    assert "8 cases pass → fail, worst first" in text
    # Five by default, each whole: the reason, the input, the baseline and the current output.
    for i in list(WORSE)[:5]:
        assert (f"eval/c{i:02d} relevance: pass → fail (score 5 → 2) why: score 2 < "
                f"threshold 4: {REASON} input: What is item {i}? baseline: Item {i} is a "
                f"blue box. diff: Item {i} is a blue box. {{+WORSE+}}") in text
    assert "... and 3 more cases behind eval: relevance pass rate" in text
    # The results file keeps the reason whole and the input of every case.
    data = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    case = next(c for c in data["cases"] if c["case"] == "c00")
    assert case["input"] == "What is item 0?"
    assert case["stages"][0]["reason"].endswith(REASON)
    report = (pytester.path / "r.md").read_text(encoding="utf-8")
    assert report.index("### Why it failed") < report.index("### Funnel")
    assert f"**Why:** score 2 &#60; threshold 4: {REASON}" in report


def test_all_cases_with_v(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    result = regressed(pytester, judge_server, "-v")
    text = " ".join(result.stdout.str().split())
    for i in WORSE:
        assert f"eval/c{i:02d} relevance: pass → fail (score 5 → 2)" in text
    assert "more cases behind" not in text
