"""The verdict cache through the plugin, counted at the judge server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import diskcache
import pytest

from pytest_llmfunnel.store.verdict_cache import VerdictStore
from pytest_llmfunnel.testing import JudgeServer
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

TEMPLATE = """
import pytest
from pytest_llmfunnel import Funnel, judges

FUNNEL = Funnel(
    judges.rubric("helpful", "{helpful}", name="helpful", threshold={threshold}),
    judges.rubric("clear", "Is the answer clear and short?", name="clear"),
)

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def {name}(case):
    pass
"""
HELPFUL = "Is the answer helpful to the user?"
N = 5


def write(
    pytester: pytest.Pytester,
    helpful: str = HELPFUL,
    threshold: float = 4,
    name: str = "test_eval",
) -> None:
    (pytester.path / "test_eval.py").write_text(
        TEMPLATE.format(helpful=helpful, threshold=threshold, name=name)
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_jsonl(pytester.path / "cases.jsonl", cases(N))
    write(pytester)
    return pytester


def run(pytester: pytest.Pytester, server: JudgeServer, *extra: str) -> pytest.RunResult:
    server.reset()
    return pytester.runpytest(*judge_args(server, *extra))


def test_only_what_changed_is_judged_again(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    assert run(project, judge_server).ret == 0
    assert judge_server.stats.requests == N * 2
    assert run(project, judge_server).ret == 0
    assert judge_server.stats.requests == 0

    write(project, helpful=HELPFUL.replace("helpful", "useful"))  # one rubric word
    run(project, judge_server)
    assert judge_server.stats.requests == N  # only the "helpful" stage

    rows = cases(N)
    rows[2]["output"] = "Item 2 is a red box."  # one output
    write_jsonl(project.path / "cases.jsonl", rows)
    run(project, judge_server)
    assert judge_server.stats.requests == 2  # its two verdicts

    write(project, helpful=HELPFUL.replace("helpful", "useful"), threshold=2, name="test_new")
    result = run(project, judge_server)  # a threshold and the test's name: no new request
    assert judge_server.stats.requests == 0
    result.stdout.fnmatch_lines(["helpful * 5 * 5 * 0 * 0 * 5 * 0 * 0 *"])

    run(project, judge_server, "--llm-funnel-model=other-model")
    assert judge_server.stats.requests == N * 2


def test_replay_only_turns_a_miss_into_an_error_naming_case_and_stage(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    run(project, judge_server, "-k", "not c03")
    result = run(project, judge_server, "--llm-funnel-cache=replay-only")
    assert judge_server.stats.requests == 0
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*c03  helpful: error: replay-only: no cached verdict for case c03, stage helpf*",
            "       clear: error: replay-only: no cached verdict for case c03, stage clear*",
            "*1 of 5 cases ended in a judge or target error*record the missing verdicts*",
            "*4 passed, 1 llm-error*",
        ]
    )


def test_read_only_serves_hits_and_writes_nothing_and_off_always_asks(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    run(project, judge_server, "-k", "c00")
    run(project, judge_server, "--llm-funnel-cache=read-only")
    assert judge_server.stats.requests == (N - 1) * 2
    run(project, judge_server, "--llm-funnel-cache=read-only")
    assert judge_server.stats.requests == (N - 1) * 2  # nothing was written
    run(project, judge_server, "--llm-funnel-cache=off")
    assert judge_server.stats.requests == N * 2


def test_explain_cache_says_hit_or_what_differs(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    run(project, judge_server)
    write(project, helpful=HELPFUL.replace("helpful", "useful"))
    result = run(project, judge_server, "--llm-funnel-explain-cache=c01")
    result.stdout.fnmatch_lines(
        [
            "cache explanation for case c01:",
            "  c01:default [[]helpful[]]: changed since the last cached verdict: messages[[]*",
            "*-*helpful*",
            "*+*useful*",
        ]
    )
    result.stdout.fnmatch_lines(["  c01:default [[]clear[]]: cache hit"])
    unknown = run(project, judge_server, "--llm-funnel-explain-cache=nope")
    unknown.stdout.fnmatch_lines(["  no judge request was made for case nope in this run*"])


TARGET = """
import pytest
from pytest_llmfunnel import Funnel, checks

CALLS = []

def target(case):
    with open("calls.txt", "a") as f:
        f.write(case.id + "\\n")
    return "answer to " + case.input

@pytest.mark.llm_dataset("cases.jsonl",
                         funnel=Funnel(checks.not_empty(), target=target, target_version="{v}"))
def test_target(case, llm_result):
    assert llm_result.output == "answer to " + case.input
"""


def test_target_outputs_are_recorded_per_version(pytester: pytest.Pytester) -> None:
    rows = cases(3)
    for row in rows:
        del row["output"]
    write_jsonl(pytester.path / "cases.jsonl", rows)
    calls = pytester.path / "calls.txt"
    args = ("--llm-funnel", "-p", "no:cacheprovider")
    pytester.makepyfile(test_target=TARGET.format(v="v1"))
    pytester.runpytest(*args).assert_outcomes(passed=3)
    pytester.runpytest(*args).assert_outcomes(passed=3)
    assert len(calls.read_text().split()) == 3  # the second run used the recorded outputs
    pytester.makepyfile(test_target=TARGET.format(v="v2"))
    pytester.runpytest(*args).assert_outcomes(passed=3)
    assert len(calls.read_text().split()) == 6  # a new version runs the target again


def test_a_killed_run_keeps_every_finished_verdict(pytester: pytest.Pytester) -> None:
    n = 24
    write_jsonl(pytester.path / "cases.jsonl", cases(n))
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case):
            pass
        """
    )
    cache = pytester.path / ".llmfunnel" / "cache"
    with JudgeServer(latency=0.1) as server:
        command = [
            sys.executable,
            "-m",
            "pytest",
            *judge_args(server, "--llm-funnel-concurrency=2"),
        ]
        env = {**os.environ, "OPENAI_API_KEY": "test-key"}
        proc = subprocess.Popen(
            command,
            cwd=pytester.path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while server.stats.requests < 8 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        with VerdictStore(cache) as store:
            kept = sum(1 for _ in store.records())
        assert 6 <= kept < n
        server.reset()
        rerun = pytester.runpytest(*judge_args(server, "--llm-funnel-concurrency=4"))
        assert rerun.ret == 0
        assert server.stats.requests == n - kept
    assert Path(cache).is_dir()


class Planted:
    """Unpickles into a call that creates ``path`` (see tests/test_cache.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.path,))


def test_a_poisoned_cache_folder_runs_no_code_and_is_judged_again(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    assert run(project, judge_server, *plugin_args).ret == 0
    folder, marker = project.path / ".llmfunnel" / "cache", project.path / "ran"
    # What a cache restored from an attacker's CI cache looks like: every
    # verdict replaced, through diskcache's own pickling, by a payload.
    with diskcache.Cache(str(folder)) as raw:
        keys = [k for k in raw.iterkeys() if str(k).startswith("verdict:")]
        for key in keys:
            raw.set(key, Planted(marker))
    assert len(keys) == N * 2

    result = run(project, judge_server, *plugin_args)
    assert result.ret == 0
    assert not marker.exists()
    result.stdout.fnmatch_lines(["*UnsafeCacheEntryWarning: llm-funnel: ignored a row*"])
    assert judge_server.stats.requests == N * 2  # each refused row was a miss
    with VerdictStore(folder) as store:  # and the fresh verdicts replaced them
        assert len(list(store.records())) == N * 2
    assert not marker.exists()
