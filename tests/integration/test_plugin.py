"""The plugin's foundations through pytester: switch, ids, selection, markers, settings."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.runs import cases, judge_args, write_jsonl

SIMPLE = """
import pytest
from pytest_llmfunnel import Funnel, checks

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty()){extra})
def test_support(case, llm_variant):
    pass
"""


def simple(
    pytester: pytest.Pytester, extra: str = "", rows: list[dict[str, Any]] | None = None
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", rows if rows is not None else cases(3))
    pytester.makepyfile(test_support=SIMPLE.format(extra=extra))


def test_without_the_flag_eval_tests_are_skipped_naming_it(pytester: pytest.Pytester) -> None:
    simple(pytester)
    pytester.makepyfile(test_plain="def test_plain(): pass")
    result = pytester.runpytest("-rs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]3[]] *LLM eval: run pytest with --llm-funnel to evaluate this case",
            "*1 passed, 3 skipped*",
        ]
    )
    assert "llm-funnel ==" not in result.stdout.str()


def test_environment_switch_enables_the_funnel(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    simple(pytester)
    monkeypatch.setenv("LLM_FUNNEL", "1")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_ids_are_case_ids_and_case_colon_variant(pytester: pytest.Pytester) -> None:
    write_jsonl(
        pytester.path / "one.jsonl",
        [{"id": "refund-policy-07", "input": "q", "output": "a"}],
    )
    write_jsonl(
        pytester.path / "two.jsonl",
        [{"id": "c1", "input": "q", "output_base": "a", "output_new": "b"}],
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm_dataset("one.jsonl")
        def test_support(case): pass

        @pytest.mark.llm_dataset("two.jsonl")
        def test_ab(case, llm_variant): pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_ids_are_case_ids_and_case_colon_variant.py::test_support[refund-policy-07]",
            "test_ids_are_case_ids_and_case_colon_variant.py::test_ab[c1:base]",
            "test_ids_are_case_ids_and_case_colon_variant.py::test_ab[c1:new]",
        ]
    )


def test_k_selects_by_case_id_and_by_tag(pytester: pytest.Pytester) -> None:
    simple(pytester, rows=cases(4, tags=("billing", "login")))
    by_id = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-k", "c02", "-v")
    by_id.assert_outcomes(passed=1)
    by_id.stdout.fnmatch_lines(["*test_support[[]c02[]] PASSED*"])
    by_tag = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-k", "login", "-v")
    by_tag.assert_outcomes(passed=2)
    by_tag.stdout.fnmatch_lines(["*[[]c01[]] PASSED*", "*[[]c03[]] PASSED*"])


def test_marker_tags_filter_the_dataset(pytester: pytest.Pytester) -> None:
    simple(pytester, extra=', tags=["billing"]', rows=cases(4, tags=("billing", "login")))
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_support[[]c00[]]", "*test_support[[]c02[]]", "2 tests*"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (
            '"cases.jsonl", "more.jsonl"',
            "*llm_dataset takes one dataset path (a string) and the keywords funnel, tags, "
            "columns, baseline; got 'cases.jsonl', 'more.jsonl'*",
        ),
        (
            '"cases.jsonl", tag="x"',
            "*keywords funnel, tags, columns, baseline; got 'cases.jsonl', tag=... "
            "(unknown keyword tag)*",
        ),
        ('"cases.jsonl", funnel=[1]', "*llm_dataset(funnel=...) must be a *Funnel, got list*"),
        (
            '"cases.jsonl", tags=[1]',
            "*tags=...) must be a string or a list of strings; got [[]1[]]*",
        ),
        ('"cases.jsonl", columns="q"', "*columns=...) must map the file's column names*got 'q'*"),
    ],
)
def test_marker_argument_errors_name_allowed_and_given(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(1))
    pytester.makepyfile(
        f"import pytest\n@pytest.mark.llm_dataset({marker})\ndef test_x(case): pass\n"
    )
    result = pytester.runpytest("--collect-only")
    assert result.ret != 0
    combined = result.stdout.lines + result.stderr.lines
    assert any(fnmatch.fnmatch(line, expected) for line in combined), combined


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--llm-funnel-concurrency=0"],
            "*--llm-funnel-concurrency=0 is out of range: use a whole number from 1 to 4096.*",
        ),
        (
            ["--llm-funnel-cache=sometimes"],
            "*--llm-funnel-cache='sometimes' is not one of: read-write, read-only, off, "
            "replay-only.*",
        ),
        (["--llm-funnel-timeout=soon"], "*--llm-funnel-timeout='soon' is not a number.*"),
        (
            ["--llm-funnel-budget=1"],
            "*--llm-funnel-budget is a cost, so it needs prices: pass --llm-funnel-price-in*",
        ),
        (
            ["--llm-funnel-judge=openai"],
            "*--llm-funnel-judge=openai needs an endpoint: set OPENAI_API_KEY*",
        ),
    ],
)
def test_invalid_settings_are_usage_errors_that_say_how_to_fix_them(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    simple(pytester)
    result = pytester.runpytest("--llm-funnel", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: " + message.lstrip("*")])


def test_precedence_is_cli_then_env_then_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    simple(pytester)
    pytester.makeini("[pytest]\nllm_funnel_concurrency = 3\nllm_funnel_model = ini-model\n")
    header = "llm-funnel: judge offline*concurrency {}*"

    def assert_header(result: pytest.RunResult, n: int) -> None:
        result.stdout.fnmatch_lines([header.format(n)])

    assert_header(pytester.runpytest("--llm-funnel", "--collect-only"), 3)
    monkeypatch.setenv("LLM_FUNNEL_CONCURRENCY", "5")
    assert_header(pytester.runpytest("--llm-funnel", "--collect-only"), 5)
    cli = pytester.runpytest("--llm-funnel", "--collect-only", "--llm-funnel-concurrency=7")
    assert_header(cli, 7)
    # A bad value in the environment names the variable.
    monkeypatch.setenv("LLM_FUNNEL_CONCURRENCY", "many")
    bad = pytester.runpytest("--llm-funnel", "--collect-only")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: LLM_FUNNEL_CONCURRENCY='many' is not a whole number."])


def test_collect_only_sends_nothing(
    pytester: pytest.Pytester, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    write_jsonl(pytester.path / "cases.jsonl", cases(3))
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case): pass
        """
    )
    result = pytester.runpytest(*judge_args(judge_server), "--collect-only")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*3 tests collected*"])
    assert judge_server.stats.requests == 0


def test_relative_dataset_paths_resolve_against_the_test_files_folder(
    pytester: pytest.Pytester,
) -> None:
    sub = pytester.mkpydir("evals")
    (sub / "data").mkdir()
    write_jsonl(sub / "data" / "cases.jsonl", cases(2))
    (sub / "test_nested.py").write_text(
        "import pytest\n@pytest.mark.llm_dataset('data/cases.jsonl')\ndef test_nested(case): pass\n"
    )
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")  # run from the rootdir
    result.assert_outcomes(passed=2)


def test_dataset_errors_are_collection_errors_with_file_and_line(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "cases.jsonl").write_text(
        '{"id": "a", "input": "q", "output": "x"}\n{"id": "b", "input": 3, "output": "x"}\n'
    )
    simple_file = SIMPLE.format(extra="")
    pytester.makepyfile(test_support=simple_file)
    result = pytester.runpytest("--llm-funnel")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*ERROR collecting test_support.py*", "*cases.jsonl:2*input*", "*1 error*"]
    )
    missing = pytester.makepyfile(
        test_missing="import pytest\n"
        "@pytest.mark.llm_dataset('nope.jsonl')\n"
        "def test_m(case): pass\n"
    )
    result = pytester.runpytest(str(missing))
    result.stdout.fnmatch_lines(
        ["*nope.jsonl: dataset file not found*(relative paths resolve against*"]
    )


def test_one_variant_is_a_parameter_only_when_the_test_asks_for_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.path.joinpath("cases.jsonl").write_text(
        '{"id": "a", "input": "q1", "output": "x"}\n{"id": "b", "input": "q2", "output": "y"}\n',
        encoding="utf-8",
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm_dataset("cases.jsonl")
        def test_plain(case, llm_result, request):
            assert "llm_variant" not in request.node.callspec.params
            assert llm_result.variant == "default" and llm_result.case_id == case.id

        @pytest.mark.llm_dataset("cases.jsonl")
        def test_asks(case, llm_variant, llm_result):
            assert llm_variant == llm_result.variant == "default"
        """
    )
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*::test_plain?a? PASSED*", "*::test_asks?b? PASSED*"])


JUNIT_FUNNEL = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    pass
"""


@pytest.mark.usefixtures("openai_env")
def test_junit_xml_shows_llm_errors_as_errors_and_llm_failed_by_property(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str]
) -> None:
    """An llm-error case is an <error> in the XML; llm-failed stays a pass with its status."""
    import xml.etree.ElementTree as ET

    from pytest_llmfunnel.testing import Action, status, verdict
    from pytest_llmfunnel.testing.actions import last_user_message

    def answer(body: dict[str, Any]) -> Action:
        text = last_user_message(body)
        if "item 1?" in text or "item 4?" in text or "item 7?" in text:
            return status(500)  # never recovers (no retries): an error verdict
        return verdict(2 if "item 2?" in text else 5)

    judge_server.default = answer
    write_jsonl(pytester.path / "cases.jsonl", cases(9))
    pytester.makepyfile(test_eval=JUNIT_FUNNEL)
    result = pytester.runpytest(
        *judge_args(judge_server, "--junitxml=junit.xml", "--llm-funnel-max-error-share=0.5"),
        *plugin_args,
    )
    assert result.ret == 0, result.stdout.str()  # 3 of 9 errors is below the share
    # Any other count pytest adds (warnings) sits between the passed and ours.
    result.stdout.fnmatch_lines(["*5 passed, *3 llm-error, 1 llm-failed*"])

    root = ET.parse(pytester.path / "junit.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("failures"), suite.get("tests")) == ("3", "0", "9")
    by_case = {tc.get("name", "").partition("@")[0]: tc for tc in suite.iter("testcase")}
    assert len(by_case) == 9

    def children(name: str) -> dict[str, ET.Element]:
        return {child.tag: child for child in by_case[f"test_eval[{name}]"]}

    def status_of(name: str) -> str | None:
        props = {p.get("name"): p.get("value") for p in by_case[f"test_eval[{name}]"].iter(
            "property")}
        return props.get("llm_funnel.status")

    for name in ("c01", "c04", "c07"):
        error = children(name).get("error")
        assert error is not None, name
        assert error.get("type") == "llm-error"
        assert "relevance: error" in (error.get("message") or "")
        assert "500" in (error.get("message") or "")
        assert status_of(name) == "llm-error"
    # llm-failed does not fail the session, so it is no <failure>: a property says so.
    assert set(children("c02")) == {"properties"}
    assert status_of("c02") == "llm-failed"
    assert set(children("c00")) == {"properties"}
    assert status_of("c00") == "ok"


PARTIAL_FUNNEL = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    pass
"""


@pytest.mark.usefixtures("openai_env")
@pytest.mark.parametrize(
    ("selection", "count"),
    [(("-k", "c01 or c02 or c03 or c04"), 4), (("test_eval.py::test_eval[c05]",), 1)],
    ids=["k", "node-id"],
)
def test_a_partial_selection_is_gated_and_says_partial_everywhere(
    pytester: pytest.Pytester, judge_server: JudgeServer, plugin_args: list[str],
    selection: tuple[str, ...], count: int,
) -> None:
    """-k or a node id runs part of a dataset: the gate decides on it, never a plain pass."""
    import json

    write_jsonl(pytester.path / "cases.jsonl", cases(12))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=PARTIAL_FUNNEL)
    reports = ("--llm-funnel-report=report.md", "--llm-funnel-json=results.json")
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()

    full = pytester.runpytest(*judge_args(judge_server, *reports), *plugin_args)
    assert full.ret == 0, full.stdout.str()
    full.stdout.fnmatch_lines(["llm-funnel gate passed: No regression in 2 gated metrics"])
    assert "partial:" not in full.stdout.str()
    assert "partial:" not in (pytester.path / "report.md").read_text(encoding="utf-8")
    doc = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    assert doc["completeness"]["status"] == "complete" and doc["status"] == "passed"

    result = pytester.runpytest(*judge_args(judge_server, *reports), *plugin_args, *selection)
    assert result.ret == 0, result.stdout.str()
    phrase = f"partial: {count} of 12 cases"
    result.stdout.fnmatch_lines([f"llm-funnel gate passed ({phrase}): No regression*"])
    markdown = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert f"No regression in 2 gated metrics &#40;{phrase}&#41;" in markdown
    doc = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    assert doc["status"] == "passed" and phrase in doc["headline"]
    assert len(doc["cases"]) == count and doc["decisions"]  # the gate decided on these
    scope = doc["completeness"]
    assert (scope["status"], scope["evaluated"], scope["selected"], scope["total"]) == (
        "partial", count, count, 12,
    )
