"""--llm-funnel-export-lockfile: the verdicts one run used, and nothing else, as a lockfile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmfunnel.store.lockfile import import_lockfile, read_lockfile
from pytest_llmfunnel.store.verdict_cache import VerdictStore
from pytest_llmfunnel.testing import JudgeServer
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

TEMPLATE = """
import pytest
from pytest_llmfunnel import Funnel, judges

FUNNEL = Funnel(
    judges.rubric("helpful", "{helpful}", name="helpful"),
    judges.rubric("clear", "Is the answer clear and short?", name="clear"),
)

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case):
    pass

def test_polite(llm_judge):
    assert llm_judge("Is the reply polite?", "Thank you for asking!").passed
"""
HELPFUL = "Is the answer helpful to the user?"
N = 5
LOCKFILE = "verdicts.lock.jsonl"


def write(pytester: pytest.Pytester, helpful: str = HELPFUL) -> None:
    (pytester.path / "test_eval.py").write_text(TEMPLATE.format(helpful=helpful))


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_jsonl(pytester.path / "cases.jsonl", cases(N))
    write(pytester)
    return pytester


COMMITTED = "the committed lockfile\n"


@pytest.fixture
def committed(project: pytest.Pytester) -> Path:
    """A lockfile already in the repository, which a failed export must leave alone."""
    path = project.path / LOCKFILE
    path.write_text(COMMITTED, encoding="utf-8")
    return path


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def test_the_lockfile_holds_exactly_the_verdicts_the_run_used(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    # The cache also holds verdicts no current test asks for (an older rubric).
    write(project, helpful="Is the answer any good?")
    assert project.runpytest(*judge_args(judge_server)).ret == 0
    stale = judge_server.stats.requests
    assert stale == N * 2 + 1
    write(project)
    judge_server.reset()

    result = project.runpytest(*judge_args(
        judge_server, *plugin_args, "-k", "not c04", f"--llm-funnel-export-lockfile={LOCKFILE}"
    ))
    assert result.ret == 0, result.stdout.str()
    assert judge_server.stats.requests == (N - 1)  # the "helpful" rubric changed
    expected = (N - 1) * 2 + 1  # four cases, two stages; the polite check
    result.stdout.fnmatch_lines([f"*lockfile written: {LOCKFILE} ({expected} verdicts)*"])

    path = project.path / LOCKFILE
    exported = lines(path)
    assert len(exported) == expected
    from_evals = {(e["case_id"], e["stage"]) for e in exported if e["stage"] != "adhoc"}
    assert from_evals == {
        (f"c{i:02d}", stage) for i in range(N - 1) for stage in ("helpful", "clear")
    }
    assert [e["stage"] for e in exported].count("adhoc") == 1  # the llm_judge fixture's
    text = path.read_text(encoding="utf-8")
    assert "any good" not in text and "test-key" not in text
    with VerdictStore(project.path / ".llmfunnel" / "cache", mode="read-only") as store:
        assert store.stats().verdicts == stale + N - 1  # the cache kept the stale ones

    # Replayed into an empty cache, the lockfile answers the same selection alone.
    with VerdictStore(project.path / "fresh") as fresh:
        assert import_lockfile(fresh, path) == expected
    judge_server.reset()
    replay = project.runpytest(*judge_args(
        judge_server, *plugin_args, "-k", "not c04", "--llm-funnel-cache=replay-only",
        "--llm-funnel-cache-dir=fresh", "--llm-funnel-export-lockfile=replayed.jsonl",
    ))
    assert replay.ret == 0, replay.stdout.str()
    assert judge_server.stats.requests == 0
    # ... and what the replay used is the lockfile itself, byte for byte.
    assert (project.path / "replayed.jsonl").read_bytes() == path.read_bytes()


def test_one_process_and_two_workers_write_the_same_lockfile(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    written = {}
    for name, extra in (("n0", ["-p", "no:xdist"]), ("n2", ["-n", "2"])):
        result = project.runpytest(
            *judge_args(judge_server, *extra, f"--llm-funnel-export-lockfile={name}.jsonl")
        )
        assert result.ret == 0, result.stdout.str()
        written[name] = (project.path / f"{name}.jsonl").read_bytes()
    assert written["n0"] == written["n2"]
    assert len(read_lockfile(project.path / "n0.jsonl")) == N * 2 + 1


@pytest.mark.parametrize(
    ("flag", "named"),
    [
        ("--llm-funnel-cache=read-only", "--llm-funnel-cache=read-only"),
        ("--llm-funnel-cache=off", "--llm-funnel-cache=off"),
        ("--llm-funnel-dry-run", "--llm-funnel-dry-run"),
    ],
)
def test_a_run_that_keeps_no_new_verdicts_cannot_export_one(
    project: pytest.Pytester, judge_server: JudgeServer, flag: str, named: str
) -> None:
    result = project.runpytest(
        *judge_args(judge_server, flag, f"--llm-funnel-export-lockfile={LOCKFILE}")
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--llm-funnel-export-lockfile*{named} keeps none*"])
    assert judge_server.stats.requests == 0
    assert not (project.path / LOCKFILE).exists()


def test_an_interrupted_run_leaves_the_old_lockfile_alone(
    project: pytest.Pytester, judge_server: JudgeServer, committed: Path
) -> None:
    project.makepyfile(test_zz_stop="def test_stop():\n    raise KeyboardInterrupt\n")
    # In a process of its own: an in-process run would pass the interrupt on to this one.
    result = project.runpytest_subprocess(
        *judge_args(judge_server, f"--llm-funnel-export-lockfile={LOCKFILE}")
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert judge_server.stats.requests > 0
    result.stdout.fnmatch_lines([f"*lockfile not written: the run did not finish*{LOCKFILE}*"])
    assert committed.read_text(encoding="utf-8") == COMMITTED


def test_a_verdict_gone_from_the_cache_fails_the_run_and_keeps_the_old_file(
    project: pytest.Pytester, judge_server: JudgeServer, committed: Path
) -> None:
    project.makepyfile(
        test_zz_clear="""
        from pytest_llmfunnel.store.verdict_cache import VerdictStore

        def test_clear_the_cache():
            with VerdictStore(".llmfunnel/cache") as store:
                store.clear()
        """
    )
    result = project.runpytest(
        *judge_args(judge_server, "-p", "no:xdist", f"--llm-funnel-export-lockfile={LOCKFILE}")
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = " ".join(result.stdout.str().split())  # the summary wraps long lines
    assert f"cannot write the lockfile {LOCKFILE}: 11 of the 11 verdicts to export" in out
    assert "nothing was written" in out
    assert committed.read_text(encoding="utf-8") == COMMITTED


@pytest.mark.slow
def test_a_crashed_worker_leaves_the_old_lockfile_alone(
    project: pytest.Pytester, judge_server: JudgeServer, committed: Path
) -> None:
    project.makepyfile(
        test_zz_crash="""
        import os

        def test_crash():
            if not os.path.exists("crashed"):  # once: xdist reruns it on a new worker
                open("crashed", "w").close()
                os._exit(3)
        """
    )
    result = project.runpytest_subprocess(
        *judge_args(judge_server, "-n", "2", f"--llm-funnel-export-lockfile={LOCKFILE}"),
        timeout=120,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    out = " ".join(result.stdout.str().split())
    assert "lockfile not written: an xdist worker went down" in out
    assert committed.read_text(encoding="utf-8") == COMMITTED


def test_a_run_stopped_by_x_leaves_the_old_lockfile_alone(
    project: pytest.Pytester, judge_server: JudgeServer, committed: Path
) -> None:
    """-x after 2 of 5 cases: an incomplete run, whose lockfile would miss 3 cases' verdicts."""
    (project.path / "test_eval.py").write_text(
        TEMPLATE.format(helpful=HELPFUL).replace(
            "def test_eval(case):\n    pass", "def test_eval(case):\n    assert case.id != 'c01'"
        )
    )
    result = project.runpytest(
        *judge_args(
            judge_server, "-p", "no:xdist", "-x", f"--llm-funnel-export-lockfile={LOCKFILE}"
        )
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = " ".join(result.stdout.str().split())
    assert "lockfile not written: the run did not finish: stopped early" in out
    assert f"({LOCKFILE} is unchanged)" in out
    assert committed.read_text(encoding="utf-8") == COMMITTED
