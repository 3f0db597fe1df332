"""Small wording: plurals, counts that match their lists, messages said once and right."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer, verdict
from pytest_llmfunnel.testing.actions import last_user_message
from tests.support.runs import cases, judge_args, write_jsonl


@pytest.fixture(autouse=True)
def width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def eval_test(pytester: pytest.Pytester, stages: str, dataset: str = "cases.jsonl") -> None:
    pytester.makepyfile(
        test_eval=f"""
        import pytest
        from pytest_llmfunnel import Funnel, checks, judges

        @pytest.mark.llm_dataset({dataset!r}, funnel=Funnel({stages}))
        def test_eval(case):
            pass
        """
    )


@pytest.mark.usefixtures("openai_env")
def test_one_case_is_one_case_not_one_cases(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    judge_server.default = lambda body: verdict(9)  # off the scale: an llm-error
    write_jsonl(pytester.path / "cases.jsonl", [{"id": "a", "input": "q", "output": "x"}])
    eval_test(pytester, "checks.max_chars(1), judges.relevance()")
    result = pytester.runpytest(*judge_args(judge_server, "-p", "no:xdist"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "test_eval.py::test_eval: 1 case, 1 promoted (100%), 1 error",
            "llm-funnel: 1 of 1 case ended in a judge or target error (100.0%), above*",
        ]
    )
    write_jsonl(pytester.path / "cases.jsonl", [{"id": "a", "input": "q", "output": "x"}])
    eval_test(pytester, "checks.min_chars(5)")
    short = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-p", "no:xdist")
    short.stdout.fnmatch_lines(["  a  min_chars(5): failed: 1 char < minimum 5"])
    assert " cases" not in short.stdout.str().replace("cases that failed", "")


def test_the_problem_case_count_matches_the_cases_listed(
    pytester: pytest.Pytester, judge_server: JudgeServer, openai_env: None
) -> None:
    judge_server.default = lambda body: verdict(2)  # both judges fail every case
    write_jsonl(pytester.path / "cases.jsonl", cases(9))
    eval_test(pytester, "judges.relevance(), judges.faithfulness()")
    result = pytester.runpytest(*judge_args(judge_server, "-p", "no:xdist"))
    lines = result.stdout.lines
    start = next(i for i, x in enumerate(lines) if x.startswith("cases that failed or errored"))
    block = lines[start + 1 : lines.index("", start)]
    assert lines[start] == "cases that failed or errored in the funnel (9):"
    labelled = [x for x in block if re.match(r"  c\d\d  ", x)]
    assert len(labelled) == 9  # one entry per counted case
    continued = [x for x in block if x not in labelled]
    assert len(continued) == 9
    assert all(x.startswith("       faithfulness: failed") for x in continued)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"id": "a", "input": "x}', "the line ends at column 22 mid-value (truncated?)"),
        ('{"id": "a\tb", "input": "x"}\n', "Invalid control character at column 10"),
    ],
)
def test_json_error_names_its_column_once(
    pytester: pytest.Pytester, line: str, why: str
) -> None:
    (pytester.path / "cases.jsonl").write_text(line, encoding="utf-8")
    eval_test(pytester, "")
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"cases.jsonl:1: not valid JSON: {why}; *"])
    assert "at at" not in result.stdout.str()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cases.jsonl", '{"id": "a", "input": \n'),
        ("cases.csv", "id,input\na,b,c\n"),
        ("cases.yaml", "- id: a\n  input: [\n"),
        ("missing.jsonl", None),
    ],
)
def test_a_dataset_error_is_printed_once(
    pytester: pytest.Pytester, name: str, content: str | None
) -> None:
    if content is not None:
        (pytester.path / name).write_text(content, encoding="utf-8")
    eval_test(pytester, "", dataset=name)
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = result.stdout.str()
    assert "During handling of the above exception" not in text
    errors = text[text.index("== ERRORS ==") : text.index("short test summary info")]
    found = [x for x in errors.splitlines() if x.startswith(name)]
    assert len(found) == 1, errors


def test_a_baseline_error_is_printed_once(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(2))
    (pytester.path / "baselines").mkdir()
    (pytester.path / "baselines" / "test_eval__test_eval.jsonl").write_text("{no\n")
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    eval_test(pytester, "checks.not_empty()")
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = result.stdout.str()
    assert "During handling of the above exception" not in text
    errors = text[text.index("== ERRORS ==") : text.index("short test summary info")]
    assert len([x for x in errors.splitlines() if "test_eval__test_eval.jsonl" in x]) == 1


def garbage_errors(server: JudgeServer) -> None:
    def answer(body: dict[str, Any]) -> object:
        return verdict(99 if "GARBAGE" in last_user_message(body) else 5)

    server.default = answer  # type: ignore[assignment]


@pytest.mark.usefixtures("openai_env")
def test_the_gate_does_not_point_at_flipped_cases_when_none_flipped(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    garbage_errors(judge_server)
    rows = cases(40)
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    eval_test(pytester, "judges.relevance()")
    base = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert base.ret == 0, base.stdout.str()
    for row in rows[:8]:
        row["output"] += " GARBAGE"  # judge errors: the metric is not comparable
    write_jsonl(pytester.path / "cases.jsonl", rows)
    result = pytester.runpytest(
        *judge_args(judge_server, "--llm-funnel-max-error-share=0.1", "-p", "no:xdist")
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*relevance pass rate: not comparable*"])
    text = result.stdout.str()
    assert "flipped cases (" not in text  # nothing flipped ...
    assert "Inspect the flipped cases" not in text  # ... so nothing to inspect there
    result.stdout.fnmatch_lines(["*--llm-funnel-update-baseline*"])
