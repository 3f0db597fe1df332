"""Results that cross processes: each scenario runs without xdist, with -n 0 and with -n 2."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmfunnel.testing import Action, JudgeServer, verdict
from tests.support.runs import cases, judge_args, write_jsonl

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(
    checks.max_chars(40),
    judges.rubric("helpful", "Is the answer helpful?", name="helpful"),
    judges.rubric("clear", "Is the answer clear?", name="clear"),
)

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case):
    pass

def test_plain():
    pass
"""
N = 12


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    rows = cases(N)
    rows[3]["output"] = "x" * 50  # dropped by max_chars: never judged
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makepyfile(test_eval=TEST_FILE)
    return pytester


@pytest.mark.usefixtures("openai_env")
def test_summary_counts_and_no_case_judged_twice(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    judge_server.default = lambda body: verdict(2 if "item 5?" in str(body) else 4)
    result = project.runpytest(*judge_args(judge_server), *plugin_args)
    assert result.ret == 0
    # c03 is dropped by the check; c05 gets score 2 from both judges.
    result.stdout.fnmatch_lines(["*11 passed, 2 llm-failed*"])
    result.stdout.fnmatch_lines(
        [
            "*test_eval.py::test_eval: 12 cases, 11 promoted (92%), 0 errors",
            "stage*",
            "---*",
            "max_chars(40) * 12 * 11 * 1 * 0",
            "helpful * 11 * 10 * 1 * 0 * 0 * 11 * 11 *",
            "clear * 11 * 10 * 1 * 0 * 0 * 11 * 11 *",
        ]
    )
    assert result.stdout.str().count("== llm-funnel ==") == 1
    assert judge_server.stats.requests == 11 * 2

    # A second run against the same cache sends nothing and counts hits per stage.
    judge_server.reset()
    again = project.runpytest(*judge_args(judge_server), *plugin_args)
    assert again.ret == 0
    again.stdout.fnmatch_lines(["helpful * 11 * 10 * 1 * 0 * 11 * 0 * 0 *"])
    assert judge_server.stats.requests == 0


@pytest.mark.usefixtures("openai_env")
def test_error_share_fails_the_session(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    judge_server.default = lambda body: verdict(9 if "item 7?" in str(body) else 4)  # off scale
    result = project.runpytest(
        *judge_args(judge_server, "--llm-funnel-max-error-share=0.05"), *plugin_args
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*1 of 12 cases ended in a judge or target error (8.3%), above "
            "llm_funnel_max_error_share=0.05*",
            "*1 llm-error*",
        ]
    )
    tolerant = project.runpytest(
        *judge_args(judge_server, "--llm-funnel-max-error-share=0.1"), *plugin_args
    )
    assert tolerant.ret == 0


@pytest.mark.slow
@pytest.mark.usefixtures("openai_env")
def test_n2_gives_the_same_results_gate_and_reports_as_n0(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    """Byte-identical JSON results and Markdown report, one process or two workers."""

    def answer(body: dict[str, Any]) -> Action:
        text = str(body)
        return verdict(2 if "WORSE" in text else 5)

    judge_server.default = answer
    rows = cases(150)
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=TEST_FILE)
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()
    for row in rows[:40]:
        row["output"] = "WORSE " + row["output"][:20]
    write_jsonl(pytester.path / "cases.jsonl", rows)
    outputs = {}
    for name, extra in (("n0", ["-n", "0"]), ("n2", ["-n", "2"])):
        result = pytester.runpytest(*judge_args(
            judge_server, *extra, "--llm-funnel-cache=off", f"--llm-funnel-json={name}.json",
            f"--llm-funnel-report={name}.md",
        ))
        assert result.ret == 1, result.stdout.str()  # the gate caught the regression
        outputs[name] = [
            (pytester.path / f"{name}.{suffix}").read_bytes() for suffix in ("json", "md")
        ]
    assert outputs["n0"] == outputs["n2"]
    assert b'"decision": "regressed"' in outputs["n0"][0]


CRASH_ONCE = """
import os

def test_crash():
    if not os.path.exists("crashed"):  # once: xdist would rerun it on a replacement
        open("crashed", "w").close()
        os._exit(3)
"""


@pytest.mark.slow
@pytest.mark.usefixtures("openai_env")
def test_a_crashed_worker_ends_the_run_instead_of_hanging_it(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    """With --dist loadgroup, pytest-xdist 3.8 can wait forever after replacing a worker."""
    project.makepyfile(test_zz_crash=CRASH_ONCE)
    result = project.runpytest_subprocess(*judge_args(judge_server, "-n", "2"), timeout=120)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*worker gw* crashed and worker restarting disabled*"])
    result.stdout.fnmatch_lines(["*FAILED test_zz_crash.py::test_crash*"])


REPORT_RESTARTS = """
def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        option = session.config.option
        print("dist=%s restarts=%s" % (option.dist, option.maxworkerrestart))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("given", "seen"),
    [
        ((), "dist=loadgroup restarts=0"),  # switched by the plugin, with its guard
        (("--max-worker-restart=3",), "dist=loadgroup restarts=3"),  # the user's number
        (("--dist=loadgroup",), "dist=loadgroup restarts=None"),  # the user's own mode
    ],
)
def test_worker_restarts_are_only_turned_off_with_the_plugins_own_switch(
    pytester: pytest.Pytester, given: tuple[str, ...], seen: str
) -> None:
    pytester.makeconftest(REPORT_RESTARTS)
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest("--llm-funnel", "-n", "2", "-s", *given)
    assert result.ret == 0
    result.stdout.fnmatch_lines([seen])


CRASHING_EVAL = """
import os
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    if case.id == os.environ.get("CRASH_AT"):
        os._exit(3)  # the worker process dies in the middle of its chunk
"""


@pytest.mark.slow
@pytest.mark.usefixtures("openai_env")
def test_a_worker_crash_mid_dataset_makes_the_run_incomplete_in_every_report(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    write_jsonl(pytester.path / "cases.jsonl", cases(N))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=CRASHING_EVAL)
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()

    monkeypatch.setenv("CRASH_AT", "c05")
    result = pytester.runpytest_subprocess(
        *judge_args(
            judge_server, "-n", "2", "--llm-funnel-report=report.md",
            "--llm-funnel-json=results.json",
        ),
        timeout=120,
    )
    text = " ".join(result.stdout.str().split())
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    result.stdout.fnmatch_lines(["*worker gw* crashed and worker restarting disabled*"])
    doc = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    scope = doc["completeness"]
    assert doc["status"] == "incomplete" and scope["status"] == "incomplete"
    assert doc["decisions"] == []
    assert "1 xdist worker went down" in scope["stopped"]
    evaluated = scope["evaluated"]
    assert evaluated == len(doc["cases"]) < N  # c05 never reported
    assert "c05" not in {c["case"] for c in doc["cases"]}
    phrase = f"partial: {evaluated} of {N} cases evaluated"
    assert f"llm-funnel gate not decided: Incomplete run, {phrase}" in text
    markdown = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert phrase in markdown and "No regression" not in markdown
