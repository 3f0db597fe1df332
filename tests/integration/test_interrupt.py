"""An interrupted eval run loses no finished verdict, and the next run asks only for the rest.

A real ``pytest --llm-funnel`` subprocess judges 40 cases against a slow
loopback server (0.2 s an answer, 4 at a time). Once some verdicts have been
answered it is stopped with Ctrl-C (SIGINT) or killed outright (SIGKILL).
Then: the cache opens cleanly and every verdict in it is readable; it holds
every answer the server completed, except at most those still in flight; and
a second run sends exactly the missing requests and passes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.models import canonical_json
from pytest_llmfunnel.store.verdict_cache import VerdictStore
from pytest_llmfunnel.testing import JudgeServer, verdict
from pytest_llmfunnel.testing.actions import Action, hang, last_user_message
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(signal, "SIGKILL"),
    reason="needs POSIX SIGINT/SIGKILL delivery to a child process",
)

CASES = 40
CONCURRENCY = 4
LATENCY = 0.2
ANSWERED_BEFORE_STOP = 8

EVAL_MODULE = """
import pytest

from pytest_llmfunnel import Funnel, judges


@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_case(case, llm_result):
    pass
"""


def write_project(root: Path, answer: str = "Answer {i}.") -> None:
    root.joinpath("pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    root.joinpath("test_eval.py").write_text(EVAL_MODULE, encoding="utf-8")
    lines = [
        canonical_json({"id": f"case-{i:02d}", "input": f"Question {i}?",
                        "output": answer.format(i=i)})
        for i in range(CASES)
    ]
    root.joinpath("cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def start_run(
    root: Path, base_url: str, *extra: str, env_extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-interrupt", **(env_extra or {})}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.update(env_extra or {})
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={base_url}",
        f"--llm-funnel-concurrency={CONCURRENCY}",
        "--llm-funnel-cache-dir=cache",
        "-p",
        "no:cacheprovider",
        "-q",
        *extra,
    ]
    return subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def answered(srv: JudgeServer) -> int:
    return srv.stats.statuses.get("200", 0)


def wait_for_answers(srv: JudgeServer, proc: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 60  # generous: a loaded machine starts pytest slowly
    while answered(srv) < count:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "the run sent too few requests"
        time.sleep(0.02)


def cached_messages(cache: Path) -> list[str]:
    """Every stored verdict's messages; fails if any entry cannot be read back."""
    with VerdictStore(cache, mode="read-only") as store:
        keys = [k for k in store.cache.iterkeys() if str(k).startswith("verdict:")]
        messages = []
        for key in keys:
            record = store.record(str(key)[len("verdict:") :])
            assert record is not None, f"unreadable cache entry {key}"
            assert record.answer.score == 4.0
            messages.append(canonical_json(record.body["messages"]))
        assert store.stats().verdicts == len(keys)
    assert len(set(messages)) == len(messages)
    return messages


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_an_interrupted_run_keeps_its_verdicts_and_the_rerun_asks_only_for_the_rest(
    tmp_path: Path, sig: str
) -> None:
    write_project(tmp_path)
    with JudgeServer(latency=LATENCY) as srv:
        proc = start_run(tmp_path, srv.base_url)
        try:
            wait_for_answers(srv, proc, ANSWERED_BEFORE_STOP)
            proc.send_signal(getattr(signal, sig))
            output, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = output.decode(errors="replace")
        if sig == "SIGINT":
            assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
            assert "KeyboardInterrupt" in text
        else:
            assert proc.returncode == -signal.SIGKILL
        completed = answered(srv)
        assert completed < CASES, "the run finished before the signal; nothing was tested"

        cached = cached_messages(tmp_path / "cache")
        # Answers the server finished but the client had not yet stored are at
        # most the ones in flight when the signal came.
        assert len(cached) >= completed - CONCURRENCY, text
        assert len(cached) >= ANSWERED_BEFORE_STOP - CONCURRENCY

        srv.reset()
        rerun = start_run(tmp_path, srv.base_url)
        output, _ = rerun.communicate(timeout=120)
        text = output.decode(errors="replace")
        sent = [canonical_json((r.body or {}).get("messages")) for r in srv.requests]

    assert rerun.returncode == 0, text
    assert f"{CASES} passed" in text
    # Exactly the missing cases were asked for, each once.
    assert len(sent) == CASES - len(cached)
    assert set(sent).isdisjoint(cached) and len(set(sent)) == len(sent)
    assert len(cached_messages(tmp_path / "cache")) == CASES


# -- an interrupted or partial run never looks green ----------------------------
#
# Every report (terminal, Markdown, JSON, the GitHub job summary) of a run that
# ended early says "incomplete run" with how many cases were evaluated of how
# many, and makes no gate decision; the exit status is never 0.

REPORT_ARGS = ("--llm-funnel-report=report.md", "--llm-funnel-json=results.json")


def read_reports(root: Path) -> tuple[str, dict[str, Any]]:
    markdown = root.joinpath("report.md").read_text(encoding="utf-8")
    return markdown, json.loads(root.joinpath("results.json").read_text(encoding="utf-8"))


def assert_incomplete(
    root: Path, text: str, *, evaluated: int | None, of: int, summary: Path | None = None
) -> int:
    """Every report says incomplete, with the counts; returns the evaluated count."""
    markdown, doc = read_reports(root)
    scope = doc["completeness"]
    assert doc["status"] == "incomplete", doc["headline"]
    assert scope["status"] == "incomplete"
    assert scope["selected"] == of
    assert scope["evaluated"] == len(doc["cases"])
    if evaluated is not None:
        assert scope["evaluated"] == evaluated
    count: int = scope["evaluated"]
    assert count < of
    assert doc["decisions"] == [] and doc["flips"] == []  # no gate decision
    phrase = f"partial: {count} of {of} cases evaluated"
    assert phrase in doc["headline"] and "no gate decision" in doc["headline"]
    assert "Incomplete run" in markdown and phrase in markdown
    assert "No regression" not in markdown and "✅" not in markdown
    flat = " ".join(text.split())  # the summary wraps long lines
    assert "llm-funnel gate not decided: Incomplete run" in flat and phrase in flat
    assert "gate passed" not in flat
    if summary is not None:
        assert markdown in summary.read_text(encoding="utf-8")
    return count


def write_gated_project(root: Path, srv: JudgeServer) -> None:
    """The 40-case project with a baseline directory, and its baseline written."""
    write_project(root)
    root.joinpath("pytest.ini").write_text(
        "[pytest]\nllm_funnel_baseline_dir = baselines\n", encoding="utf-8"
    )
    latency, srv.latency = srv.latency, 0.0
    update = start_run(root, srv.base_url, "--llm-funnel-update-baseline")
    output, _ = update.communicate(timeout=120)
    assert update.returncode == 0, output.decode(errors="replace")
    # New outputs (a changed prompt): unchanged ones would keep the baseline's verdicts
    # and the run would ask nothing, leaving nothing to interrupt.
    write_project(root, answer="Answer {i}, revised.")
    root.joinpath("pytest.ini").write_text(
        "[pytest]\nllm_funnel_baseline_dir = baselines\n", encoding="utf-8"
    )
    srv.latency = latency
    srv.reset()


def interrupt(proc: subprocess.Popen[bytes], srv: JudgeServer, answers: int) -> str:
    try:
        wait_for_answers(srv, proc, answers)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return output.decode(errors="replace")


@pytest.mark.slow
def test_ctrl_c_in_the_item_loop_reports_an_incomplete_run_everywhere(tmp_path: Path) -> None:
    """A real SIGINT while items report: the reports say incomplete, the exit status stays 2."""
    summary = tmp_path / "summary.md"
    with JudgeServer(latency=LATENCY) as srv:
        write_gated_project(tmp_path, srv)
        # A cold cache, so the run has to ask (and can be interrupted).
        proc = start_run(
            tmp_path, srv.base_url, "--llm-funnel-cache-dir=cold", *REPORT_ARGS,
            env_extra={"GITHUB_STEP_SUMMARY": str(summary)},
        )
        text = interrupt(proc, srv, ANSWERED_BEFORE_STOP)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    count = assert_incomplete(tmp_path, text, evaluated=None, of=CASES, summary=summary)
    # The items that ran are the ones counted: each reported its case.
    assert text.count(".") >= count


@pytest.mark.slow
def test_ctrl_c_during_the_batch_before_any_item_reported(tmp_path: Path) -> None:
    """The first case never gets its answer: no item has reported when Ctrl-C comes."""

    def answer(body: dict[str, Any]) -> Action:
        return hang(60) if "Question 0?" in last_user_message(body) else verdict(4)

    with JudgeServer(latency=LATENCY) as srv:
        write_gated_project(tmp_path, srv)
        srv.default = answer
        proc = start_run(tmp_path, srv.base_url, "--llm-funnel-cache-dir=cold", *REPORT_ARGS)
        text = interrupt(proc, srv, ANSWERED_BEFORE_STOP)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    assert_incomplete(tmp_path, text, evaluated=0, of=CASES)


# In-process runs through pytester: the test body fails the cases named in
# FAIL_CASES, and stops the session (pytest.exit, status 0) at EXIT_AT.
STOPPING_MODULE = """
import os
import pytest
from pytest_llmfunnel import Funnel, judges


@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case, llm_result):
    if case.id == os.environ.get("EXIT_AT"):
        pytest.exit("stopped by the test", returncode=0)
    assert case.id not in os.environ.get("FAIL_CASES", "").split(",")
"""
SMALL = 12


@pytest.fixture
def gated(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """12 cases, a baseline written from them; then the stopping switches are set."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    write_jsonl(pytester.path / "cases.jsonl", cases(SMALL))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=STOPPING_MODULE)
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()
    return pytester


@pytest.mark.parametrize(
    ("flags", "failing", "evaluated"),
    [(("-x",), "c02", 3), (("--maxfail=2",), "c02,c05", 6)],
    ids=["x", "maxfail"],
)
def test_a_run_stopped_by_x_or_maxfail_is_incomplete_and_gates_nothing(
    gated: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    plugin_args: list[str], flags: tuple[str, ...], failing: str, evaluated: int,
) -> None:
    monkeypatch.setenv("FAIL_CASES", failing)
    result = gated.runpytest(*judge_args(judge_server, *flags, *REPORT_ARGS), *plugin_args)
    text = result.stdout.str()
    # pytest's own code: 1 after -x in one process, 2 (interrupted) under xdist.
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED), text
    # Under xdist the other worker's items that finished first count too.
    exact = evaluated if plugin_args[0] == "-p" else None
    assert_incomplete(gated.path, text, evaluated=exact, of=SMALL)


def test_an_early_exit_with_status_0_is_incomplete_and_exits_1(
    gated: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest.exit(returncode=0) after 4 cases: not a green run."""
    monkeypatch.setenv("EXIT_AT", "c04")
    result = gated.runpytest(*judge_args(judge_server, *REPORT_ARGS))
    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    assert_incomplete(gated.path, text, evaluated=4, of=SMALL)
