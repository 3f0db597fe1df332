"""The gate is never silently absent: where baselines live, what the header says, CI.

Baselines default to ``__llmfunnel_baselines__`` beside the test file, so no
ini setting is needed and no choice of rootdir can lose them; a path flag that
made pytest read no ini file is refused; in CI an eval test without a
baseline fails the run unless it opts out with ``baseline=False``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_file import load_baseline
from pytest_llmfunnel.testing import Action, JudgeServer, verdict
from pytest_llmfunnel.testing.actions import last_user_message
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

DEFAULT = "tests/__llmfunnel_baselines__/test_eval__test_eval.jsonl"


def worse_scores_low(server: JudgeServer) -> None:
    def answer(body: dict[str, Any]) -> Action:
        return verdict(2 if "WORSE" in last_user_message(body) else 5)

    server.default = answer


def project(
    pytester: pytest.Pytester, *, worse: int = 0, marker: str = "", ini: str = ""
) -> None:
    """A project with its tests in tests/; the first ``worse`` outputs got worse."""
    rows = cases(30)
    for row in rows[:worse]:
        row["output"] += " WORSE"
    tests = pytester.path / "tests"
    tests.mkdir(exist_ok=True)
    write_jsonl(tests / "cases.jsonl", rows)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    (tests / "test_eval.py").write_text(
        "import pytest\n"
        "from pytest_llmfunnel import Funnel, judges\n\n"
        f'@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()){marker})\n'
        "def test_eval(case, llm_result):\n"
        "    pass\n"
    )


def test_without_any_setting_the_baseline_lives_beside_the_test_file(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester)
    first = pytester.runpytest(*judge_args(judge_server))
    assert first.ret == 0
    first.stdout.fnmatch_lines([
        "*no baseline yet for tests/test_eval.py::test_eval, so no gate: create it with*",
    ])
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()
    assert len(load_baseline(pytester.path / DEFAULT).cases) == 30
    project(pytester, worse=20)
    # From inside tests/ (another rootdir, another cwd) the same file gates the run.
    result = pytester.runpytest(*judge_args(judge_server), str(pytester.path / "tests"))
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*llm-funnel gate FAILED*"])


def test_a_path_flag_with_a_separate_value_that_moved_the_rootdir_is_refused(
    pytester: pytest.Pytester, judge_server: JudgeServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The failure this reproduces: the ini was not read, the offline judge answered, and a
    regressed branch exited 0 with "no baseline is configured"."""
    worse_scores_low(judge_server)
    ini = (
        "llm_funnel_baseline_dir = baselines\nllm_funnel_judge = openai\n"
        f"llm_funnel_base_url = {judge_server.base_url}\nllm_funnel_max_retries = 0"
    )
    project(pytester, ini=ini)
    update = pytester.runpytest("--llm-funnel", "--llm-funnel-update-baseline")
    assert update.ret == 0, update.stdout.str()
    assert (pytester.path / "baselines" / "test_eval__test_eval.jsonl").exists()
    project(pytester, worse=20, ini=ini)
    outside = tmp_path_factory.mktemp("cache-elsewhere")
    result = pytester.runpytest("--llm-funnel", "--llm-funnel-cache-dir", str(outside))
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([
        f"*--llm-funnel-cache-dir {outside}: pytest took {outside} for a test path while "
        "choosing the rootdir*so the project's ini file was not read. Write "
        f"--llm-funnel-cache-dir={outside} (one argument).",
    ])
    # Written as one argument, the ini is read and the regression fails the run.
    result = pytester.runpytest("--llm-funnel", f"--llm-funnel-cache-dir={outside}")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*llm-funnel gate FAILED*"])


def test_the_header_says_which_ini_file_was_read_and_which_judge_answers(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    project(pytester, ini="llm_funnel_judge = offline")
    result = pytester.runpytest("--llm-funnel")
    result.stdout.fnmatch_lines([
        "llm-funnel: judge offline reference judge (rule-based, not an LLM);*",
        f"llm-funnel: settings from {pytester.path / 'tox.ini'} (and the command line)",
    ])
    (pytester.path / "tox.ini").unlink()
    result = pytester.runpytest(*judge_args(judge_server))
    result.stdout.fnmatch_lines([
        f"llm-funnel: judge gpt-4o-mini @ {judge_server.base_url};*",
        f"llm-funnel: no ini file was read (rootdir {pytester.path}), so no llm_funnel_* "
        "ini setting applies",
    ])


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_an_eval_test_without_a_baseline_fails_with_the_command_to_create_it(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
    ci: str,
) -> None:
    project(pytester)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest(*judge_args(judge_server))
    assert result.ret == 1, result.stdout.str()
    out = " ".join(result.stdout.str().split())
    assert (
        "tests/test_eval.py::test_eval: no baseline file, and in CI an eval test without one "
        "fails: create it with `pytest --llm-funnel --llm-funnel-update-baseline "
        f"tests/test_eval.py::test_eval` and commit {DEFAULT}"
    ) in out
    monkeypatch.setenv("CI", "false")
    assert pytester.runpytest(*judge_args(judge_server)).ret == 0


def test_in_ci_a_test_that_opts_out_has_no_gate_and_does_not_fail(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(pytester, marker=", baseline=False")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest(*judge_args(judge_server))
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*no regression gate for tests/test_eval.py::test_eval: turned off with*",
    ])
    assert not (pytester.path / "tests" / "__llmfunnel_baselines__").exists()


def test_the_ini_folder_and_the_marker_path_still_win_over_the_default(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    worse_scores_low(judge_server)
    project(pytester, ini="llm_funnel_baseline_dir = elsewhere")
    assert pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline")).ret == 0
    assert (pytester.path / "elsewhere" / "test_eval__test_eval.jsonl").exists()
    project(pytester, marker=', baseline="mine.jsonl"', ini="llm_funnel_baseline_dir = elsewhere")
    assert pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline")).ret == 0
    assert (pytester.path / "tests" / "mine.jsonl").exists()
    assert not (pytester.path / "tests" / "__llmfunnel_baselines__").exists()
    assert not Path(pytester.path / DEFAULT).exists()
