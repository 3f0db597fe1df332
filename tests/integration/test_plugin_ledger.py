"""--llm-funnel-ledger in real pytest sessions: one line per eval test and variant, per run.

Each scenario runs without xdist, with ``-n 0`` and with ``-n 2``: under
xdist only the controller appends, once, after every worker handed over.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

# Imported here, outside any in-process pytester run (see tests/support/preload.py):
# a run unloads the modules it imported first, so a second run's test file would
# meet a Funnel class other than the one the plugin checks for, and would import
# (and assertion-rewrite) the ledger modules again while the run's threads work.
import pytest_llmfunnel.pytest_glue.ledger_run  # noqa: F401
from pytest_llmfunnel import Funnel  # noqa: F401
from pytest_llmfunnel.testing import JudgeServer
from tests.support.runs import cases, judge_args, write_jsonl

CANARY = "sk-canary-ledger-0f3c9a71d2e84b56"
TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(checks.not_empty(), judges.rubric("helpful", "Is the answer helpful?",
                                                  name="helpful"))

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL, baseline=False)
def test_single(case):
    pass

@pytest.mark.llm_dataset("variants.jsonl", funnel=FUNNEL, baseline=False)
def test_variants(case):
    pass
"""


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_jsonl(pytester.path / "cases.jsonl", cases(8))
    rows = cases(8)
    for row in rows:
        row["output_a"] = row["output_b"] = row.pop("output")
    write_jsonl(pytester.path / "variants.jsonl", rows)
    pytester.makepyfile(test_evals=TEST_FILE)
    return pytester


@pytest.mark.usefixtures("openai_env")
def test_each_run_appends_one_line_per_eval_test_and_variant(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv("GITHUB_REF_NAME", "feature/ledger")
    args = [*judge_args(judge_server, "--llm-funnel-ledger=ledger.jsonl"), *plugin_args]
    first = project.runpytest(*args)
    assert first.ret == 0
    first.stdout.fnmatch_lines(["run ledger: 3 lines appended to ledger.jsonl"])
    written = lines(project.path / "ledger.jsonl")
    assert sorted((e["test"], e["variant"]) for e in written) == [
        ("test_evals.py::test_single", "default"),
        ("test_evals.py::test_variants", "a"), ("test_evals.py::test_variants", "b"),
    ]
    assert len({e["run_id"] for e in written}) == 1
    single = next(e for e in written if e["variant"] == "default")
    assert single["cases"] == 8 and single["commit"].startswith("0123456789ab")
    assert single["branch"] == "feature/ledger"
    rate = next(m for m in single["metrics"] if m["name"] == "helpful pass rate")
    assert rate["value"] == 1.0 and rate["n"] == 8 and 0.6 < rate["low"] < 1.0
    assert single["cost"]["requests"] + single["cost"]["cache_hits"] == 8

    again = project.runpytest(*args)
    assert again.ret == 0
    both = lines(project.path / "ledger.jsonl")
    assert len(both) == 6 and len({e["run_id"] for e in both}) == 2
    assert both[:3] == written, "an append leaves the earlier lines as they were"
    # The second run's report section shows the first run and itself.
    again.stdout.fnmatch_lines([
        "Run ledger: the last runs of the gated metrics:",
        "  test_evals.py::test_single, promotion rate: ▄▄ 01234567 100.0% ± *, this*",
    ])


@pytest.mark.usefixtures("openai_env")
def test_the_ledger_holds_the_judge_identity_and_never_the_api_key(
    project: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = project.runpytest(*judge_args(judge_server, "--llm-funnel-ledger=ledger.jsonl"))
    assert result.ret == 0
    text = (project.path / "ledger.jsonl").read_text(encoding="utf-8")
    assert CANARY not in text and CANARY[3:15] not in text
    assert judge_server.base_url not in text, "nor the endpoint"
    judges = {json.dumps(e["judges"]) for e in lines(project.path / "ledger.jsonl")}
    (identity,) = {j["helpful"] for j in map(json.loads, judges)}
    assert identity.startswith("gpt-4o-mini · prompt ")


def test_without_ci_variables_the_commit_comes_from_git_and_without_git_it_is_null(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "trunk"], cwd=project.path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project.path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], cwd=project.path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project.path, check=True,
                          capture_output=True, text=True).stdout.strip()
    args = ["--llm-funnel", "-p", "no:cacheprovider", "--llm-funnel-ledger=ledger.jsonl"]
    assert project.runpytest(*args).ret == 0
    entry = lines(project.path / "ledger.jsonl")[0]
    assert (entry["commit"], entry["branch"]) == (head, "trunk")

    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # git cannot be found: the run goes on
    assert project.runpytest(*args).ret == 0
    last = lines(project.path / "ledger.jsonl")[-1]
    assert (last["commit"], last["branch"]) == (None, None)


def test_a_damaged_ledger_line_is_named_in_the_report_and_the_run_still_appends(
    project: pytest.Pytester,
) -> None:
    ledger = project.path / "ledger.jsonl"
    ledger.write_text('{"kind": "run", "run_id": "cut-sh', encoding="utf-8")
    args = ["--llm-funnel", "-p", "no:cacheprovider", "--llm-funnel-ledger=ledger.jsonl",
            "--llm-funnel-report=report.md"]
    result = project.runpytest(*args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["  ledger.jsonl:1: not JSON (Unterminated string*"])
    report = (project.path / "report.md").read_text(encoding="utf-8")
    assert "### Run ledger: the last runs of the gated metrics" in report
    assert "\nledger.jsonl:1: not JSON" in report and "; line skipped" in report
    text = ledger.read_text(encoding="utf-8").splitlines()
    assert text[0] == '{"kind": "run", "run_id": "cut-sh' and len(text) == 4


def test_a_ledger_that_cannot_be_written_fails_the_run_with_the_reason(
    project: pytest.Pytester,
) -> None:
    (project.path / "taken").write_text("a file, not a folder", encoding="utf-8")
    result = project.runpytest("--llm-funnel", "-p", "no:cacheprovider",
                               "--llm-funnel-ledger=taken/ledger.jsonl")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*cannot append to the run ledger taken/ledger.jsonl*"])


def test_a_run_that_did_not_finish_appends_nothing(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(4))
    pytester.makepyfile(test_evals="""
import pytest

@pytest.mark.llm_dataset("cases.jsonl", baseline=False)
def test_first(case):
    pass

def test_broken():
    assert False

@pytest.mark.llm_dataset("cases.jsonl", baseline=False)
def test_never_reached(case):
    pass
""")
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-x",
                                "--llm-funnel-ledger=ledger.jsonl")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["run ledger not appended: the run did not finish"])
    assert not (pytester.path / "ledger.jsonl").exists()
