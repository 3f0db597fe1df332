"""pytest's own habits with eval items: --lf/--ff, -r summaries, stable ids under xdist, -q."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pytest_llmfunnel.testing import JudgeServer, verdict
from tests.support.runs import cases, write_jsonl

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(
    checks.max_chars(40),
    judges.rubric("helpful", "Is the answer helpful?", name="helpful"),
)

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case):
    pass

def test_plain():
    pass
"""
N = 12
PROBLEMS = {"c03", "c05", "c07"}  # failed a check, failed the judge, judge error


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("CI", "BUILD_NUMBER"):  # pytest shows whole reasons on CI
        monkeypatch.delenv(name, raising=False)
    rows = cases(N)
    rows[3]["output"] = "x" * 50  # dropped by max_chars: llm-failed
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makepyfile(test_eval=TEST_FILE)
    return pytester


def answer(body: object) -> object:
    text = str(body)
    if "item 5?" in text:
        return verdict(2, "the answer \x1b[31mignores\x1b[0m the question\nsecond line")
    if "item 7?" in text:
        return verdict(9)  # off the 1-5 scale: llm-error
    return verdict(4)


def args(server: JudgeServer, *extra: str) -> list[str]:
    """Judge flags without -p no:cacheprovider: these tests need pytest's cache."""
    return [
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={server.base_url}",
        "--llm-funnel-max-retries=0",
        "--llm-funnel-cache=off",
        "--llm-funnel-max-error-share=0.5",
        *extra,
    ]


def junit_names(path: object) -> list[str]:
    tree = ET.parse(str(path))
    return [f"{c.get('classname')}::{c.get('name')}" for c in tree.iter("testcase")]


@pytest.mark.usefixtures("openai_env")
def test_last_failed_reruns_exactly_the_llm_failed_and_llm_error_cases(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    judge_server.default = answer  # type: ignore[assignment]
    first = project.runpytest(*args(judge_server), *plugin_args)
    assert first.ret == 0, first.stdout.str()
    first.stdout.fnmatch_lines(["*10 passed, 2 llm-failed, 1 llm-error*"])

    rerun = project.runpytest(*args(judge_server, "--lf", "--junitxml=lf.xml"), *plugin_args)
    assert rerun.ret == 0, rerun.stdout.str()
    ran = junit_names(project.path / "lf.xml")
    assert sorted(ran) == [f"test_eval::test_eval[{c}]" for c in sorted(PROBLEMS)]

    # Once the cases are fine, they leave the last-failed set like any fixed test.
    judge_server.default = lambda body: verdict(4)
    rows = cases(N)
    write_jsonl(project.path / "cases.jsonl", rows)
    fixed = project.runpytest(*args(judge_server, "--lf"), *plugin_args)
    assert fixed.ret == 0
    fixed.stdout.fnmatch_lines(["*3 passed*"])
    after = project.runpytest(*args(judge_server, "--lf", "--junitxml=after.xml"), *plugin_args)
    assert after.ret == 0
    assert len(junit_names(project.path / "after.xml")) == N + 1  # nothing failed: run all


@pytest.mark.usefixtures("openai_env")
def test_failed_first_runs_the_llm_failed_and_llm_error_cases_first(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    judge_server.default = answer  # type: ignore[assignment]
    assert project.runpytest(*args(judge_server), "-p", "no:xdist").ret == 0
    result = project.runpytest(*args(judge_server, "--ff", "--junitxml=ff.xml"), "-p", "no:xdist")
    assert result.ret == 0
    ran = junit_names(project.path / "ff.xml")
    assert len(ran) == N + 1
    assert sorted(ran[:3]) == [f"test_eval::test_eval[{c}]" for c in sorted(PROBLEMS)]


@pytest.mark.usefixtures("openai_env")
@pytest.mark.parametrize("report_chars", ["-rA", "-rf", None])
def test_short_summary_lists_llm_failed_and_llm_error_cases_with_their_reasons(
    project: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str],
    report_chars: str | None,
) -> None:
    judge_server.default = answer  # type: ignore[assignment]
    extra = [report_chars] if report_chars else []  # None: pytest's default, -rfE
    result = project.runpytest(*args(judge_server), *extra, *plugin_args)
    assert result.ret == 0
    lines = result.stdout.lines
    start = lines.index(next(x for x in lines if "short test summary info" in x))
    summary = lines[start + 1 : -1]
    llm = [x for x in summary if x.startswith("LLM-")]
    assert llm == [
        "LLM-FAILED test_eval.py::test_eval[c03] - max_chars(40): failed: 50 chars > max…",
        "LLM-FAILED test_eval.py::test_eval[c05] - helpful: failed (score 2): score 2 < …",
        "LLM-ERROR test_eval.py::test_eval[c07] - helpful: error: the judge's answer cou…",
    ]
    passed = [x for x in summary if x.startswith("PASSED")]
    assert len(passed) == (N - 3 + 1 if report_chars == "-rA" else 0)
    assert "\x1b" not in result.stdout.str()


@pytest.mark.usefixtures("openai_env")
def test_short_summary_shows_the_whole_reason_on_one_line_with_vv(
    project: pytest.Pytester, judge_server: JudgeServer
) -> None:
    judge_server.default = answer  # type: ignore[assignment]
    result = project.runpytest(*args(judge_server), "-vv", "-p", "no:xdist")
    result.stdout.fnmatch_lines(
        [
            "LLM-FAILED test_eval.py::test_eval[c05] - helpful: failed (score 2): "
            "score 2 < threshold 4: the answer ignores the question second line",
            "LLM-ERROR test_eval.py::test_eval[c07] - helpful: error: the judge's answer "
            "could not be parsed after 3 attempts (out_of_scale): the judge's score 9 is outside "
            "the scale 1-5",
        ]
    )
    assert "\x1b" not in result.stdout.str()


def test_short_summary_leaves_out_llm_cases_with_rN(
    project: pytest.Pytester, judge_server: JudgeServer, openai_env: None
) -> None:
    judge_server.default = answer  # type: ignore[assignment]
    result = project.runpytest(*args(judge_server), "-rN", "-p", "no:xdist")
    assert "short test summary info" not in result.stdout.str()
    assert "LLM-FAILED test_eval" not in result.stdout.str()


COLLECT_IDS = """
import pytest
from pytest_llmfunnel import Funnel, checks

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.max_chars(40)))
def test_eval(case):
    pass

@pytest.mark.xdist_group(name="mine")
def test_grouped():
    pass
"""


@pytest.mark.slow
def test_node_ids_and_junit_names_are_the_same_with_and_without_xdist(
    pytester: pytest.Pytester,
) -> None:
    rows = cases(30)
    rows[4]["output"] = "x" * 50
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makepyfile(test_eval=COLLECT_IDS)
    collected, junit, failed = {}, {}, {}
    for name, extra in (("n0", ["-n", "0"]), ("n2", ["-n", "2"]), ("none", ["-p", "no:xdist"])):
        listing = pytester.runpytest("--llm-funnel", "--collect-only", "-q", *extra)
        collected[name] = [x for x in listing.stdout.lines if "::" in x]
        result = pytester.runpytest(
            "--llm-funnel", f"--junitxml={name}.xml", "-rf", "--cache-clear", *extra
        )
        assert result.ret == 0, result.stdout.str()
        junit[name] = sorted(junit_names(pytester.path / f"{name}.xml"))
        failed[name] = [x for x in result.stdout.lines if x.startswith("LLM-FAILED")]
        cache = pytester.path / ".pytest_cache" / "v" / "cache" / "lastfailed"
        failed[name].append(cache.read_text(encoding="utf-8"))
    assert len(collected["n0"]) == 31
    assert collected["n0"] == collected["n2"] == collected["none"]
    assert len(junit["n0"]) == 31
    assert junit["n0"] == junit["n2"] == junit["none"]
    assert not any("@" in name or "]]" in name for name in junit["n2"])
    assert failed["n0"] == failed["n2"] == failed["none"]
    assert "test_eval.py::test_eval[c04]" in failed["n2"][-1]


@pytest.mark.usefixtures("openai_env")
@pytest.mark.parametrize("quiet", [True, False])
def test_error_share_message_points_at_the_cases_only_where_they_are_listed(
    project: pytest.Pytester, judge_server: JudgeServer, quiet: bool
) -> None:
    judge_server.default = answer  # type: ignore[assignment]
    extra = ["-q"] if quiet else []
    result = project.runpytest(
        *args(judge_server, "--llm-funnel-max-error-share=0.05"), *extra, "-p", "no:xdist"
    )
    assert result.ret == 1
    text = result.stdout.str()
    message = next(x for x in result.stdout.lines if "llm_funnel_max_error_share=0.05" in x)
    where = text.index(message)
    listing = "cases that failed or errored in the funnel"
    summary = text.index("short test summary info")
    if quiet:
        assert listing not in text
        assert "cases above" not in message
        assert "short test summary" in message
    else:
        assert text.index(listing) < where < summary
        assert "see the llm-error cases above" in message


CRASH_IN_A_CASE = """
import os
import pytest
from pytest_llmfunnel import Funnel, checks

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty()))
def test_eval(case):
    if case.id == "c01":
        os._exit(3)
"""


@pytest.mark.slow
def test_a_crashed_eval_item_is_reported_under_its_own_id(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(4))
    pytester.makepyfile(test_eval=CRASH_IN_A_CASE)
    result = pytester.runpytest_subprocess("--llm-funnel", "-n", "2", "-rf", timeout=120)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["FAILED test_eval.py::test_eval[[]c01[]] - worker*"])
    # Only xdist's own crash message may name the chunk the scheduler knew it by.
    assert not [x for x in result.stdout.lines if x.startswith("FAILED") and "]@" in x]
