"""Under xdist each process loads only its own part: workers evaluate, the controller concludes.

Tests of structure, not of time. A worker hands its records and counters to
the controller and ends, so it never loads the end of the run (the gate, the
reports, the files): a process that does not need them should not pay for
them, and the controller waits for the slowest worker's end. Modules are read
from ``sys.modules`` at each process's end by a conftest hook, in fresh
processes.
"""

from __future__ import annotations

import json

import pytest

from tests.support.runs import cases, write_jsonl

pytest.importorskip("xdist")

RECORD_MODULES = """
import json
import os
import sys

def pytest_unconfigure(config):
    who = getattr(config, "workerinput", {}).get("workerid", "controller")
    with open(f"modules-{who}.json", "w") as f:
        json.dump(sorted(sys.modules), f)
"""
EVAL = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(checks.not_empty(), judges.rubric("helpful", "Does it help?", name="helpful"))

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case):
    pass
"""
# What a worker must not load: the end of the run and the renderers it uses
# (pytest_glue.finish, which hands a worker's counters over, is not among them).
CONTROLLER_ONLY = (
    "pytest_llmfunnel.pytest_glue.end_of_run",
    "pytest_llmfunnel.pytest_glue.run_files",
    "pytest_llmfunnel.pytest_glue.summary",
    "pytest_llmfunnel.report.junit",
    "pytest_llmfunnel.report.terminal",
    "pytest_llmfunnel.report.summary",
    "pytest_llmfunnel.gate.baseline_build",
    "pytest_llmfunnel.review.slice",
    "tabulate",
)


def test_workers_never_load_the_end_of_the_run_the_controller_does(
    pytester: pytest.Pytester,
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(8))
    pytester.makepyfile(test_eval=EVAL)
    pytester.makeconftest(RECORD_MODULES)
    result = pytester.runpytest_subprocess(
        "--llm-funnel", "-n", "2", "-p", "no:cacheprovider", "--llm-funnel-json=results.json"
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_eval.py::test_eval: 8 cases, 8 promoted*"])
    assert len(json.loads((pytester.path / "results.json").read_text())["cases"]) == 8
    controller = set(json.loads((pytester.path / "modules-controller.json").read_text()))
    assert set(CONTROLLER_ONLY) <= controller
    for worker in ("gw0", "gw1"):
        modules = set(json.loads((pytester.path / f"modules-{worker}.json").read_text()))
        assert "pytest_llmfunnel.funnel.runner" in modules  # it did evaluate: the check is real
        assert sorted(set(CONTROLLER_ONLY) & modules) == []

