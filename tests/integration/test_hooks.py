"""The plugin's own hooks, implemented in a project's conftest.py (through pytester).

``pytest_llmfunnel_make_backend``: a conftest's backend answers the judge in
place of the built-in one (the configured endpoint is a closed port, so any
request that reached it would fail); ``pytest_llmfunnel_report_sections``:
extra sections in the terminal summary and the Markdown report, made inert;
and a hook that raises stops the run with a message naming the hook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DEAD_ENDPOINT = "http://127.0.0.1:9/v1"  # the discard port: nothing answers there

BACKEND_CONFTEST = """
import json

from pytest_llmfunnel.funnel.backend import Completion
from pytest_llmfunnel.models import Usage


class ScriptedJudge:
    identity = "scripted judge from conftest"
    base_url = "conftest://scripted"
    model = "scripted-1"
    supports_json_schema = True

    async def complete(self, request):
        with open("requests.log", "a") as log:
            log.write("one\\n")
        text = json.dumps(request.body)
        score = 1 if "item 2?" in text else 5
        content = json.dumps({"reasoning": f"scripted {score}", "score": score})
        return Completion(content=content, finish_reason="stop",
                          usage=Usage(prompt_tokens=10, completion_tokens=5), model=self.model)


def pytest_llmfunnel_make_backend(config, settings):
    return ScriptedJudge()
"""

EVAL_TEST = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()), baseline=False)
def test_eval(case, llm_result):
    assert llm_result.case_id == case.id
"""


def _cases(pytester: pytest.Pytester, n: int = 4) -> None:
    rows = [
        {"id": f"c{i:02d}", "input": f"What is item {i}?", "context": f"Item {i} is a box.",
         "output": f"Item {i} is a box."}
        for i in range(n)
    ]
    (pytester.path / "cases.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )


def _args(*extra: str) -> list[str]:
    return [
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={DEAD_ENDPOINT}",
        "--llm-funnel-max-retries=0", "--llm-funnel-cache=off", "-p", "no:cacheprovider",
        *extra,
    ]


def test_a_conftest_backend_answers_the_judge(
    pytester: pytest.Pytester, plugin_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused-by-the-scripted-judge-0123456789")
    monkeypatch.setenv("COLUMNS", "100")
    _cases(pytester)
    pytester.makeconftest(BACKEND_CONFTEST)
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest(*plugin_args, *_args("--llm-funnel-report=report.md"))
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "llm-funnel: the judge comes from pytest_llmfunnel_make_backend in *conftest.py*",
        "*cases that failed or errored in the funnel (1):",
        "  c02  relevance: failed (score 1): score 1 < threshold 4: scripted 1",
        "*3 passed, 1 llm-failed*",
    ])
    requests = (pytester.path / "requests.log").read_text().splitlines()
    assert len(requests) == 4  # one per case, all answered by the conftest's judge
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert "Judged by: relevance: scripted-1, prompt version" in report
    assert "| relevance | 4 | 3 | 1 | 0 | 4 | 0 | 0 | 60 | - |" in report


def test_a_backend_hook_answering_none_leaves_the_built_in_judge(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cases(pytester, 2)
    pytester.makeconftest(
        """
        seen = []

        def pytest_llmfunnel_make_backend(config, settings):
            seen.append(settings.use_offline_judge)
            return None

        def pytest_sessionfinish(session):
            open("seen.txt", "w").write(repr(seen))
        """
    )
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest(
        "--llm-funnel", "--llm-funnel-report=report.md", "-p", "no:xdist", "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "seen.txt").read_text() == "[True]"
    result.stdout.fnmatch_lines(["*2 passed*"])
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert "Judged by: relevance: offline reference judge" in report


def test_report_sections_appear_inert_in_the_terminal_and_the_markdown(
    pytester: pytest.Pytester, plugin_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _cases(pytester, 3)
    pytester.makeconftest(
        '''
        def pytest_llmfunnel_report_sections(config, records):
            cases = ", ".join(r.case for r in records)
            return [
                ("Latency \\x1b[31mbudget", "cases seen: " + cases + "\\np95 under 2 s"),
                ("Links", "<script>alert(1)</script> [x](javascript:alert(1)) \\u202eevil"),
            ]
        '''
    )
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest(
        *plugin_args, "--llm-funnel", "--llm-funnel-report=report.md", "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "Latency budget:",
        "  cases seen: c00, c01, c02",
        "  p95 under 2 s",
        "Links:",
        "  <script>alert(1)</script> [x](javascript:alert(1)) evil",
    ])
    out = result.stdout.str()
    assert "\x1b" not in out and "\u202e" not in out  # inert in a terminal
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert "### Latency budget" in report
    assert "cases seen: c00, c01, c02\n\np95 under 2 s" in report
    assert "<script>" not in report and "](javascript" not in report
    assert "\x1b" not in report and "\u202e" not in report


def test_a_raising_backend_hook_stops_the_run_naming_the_hook(
    pytester: pytest.Pytester
) -> None:
    _cases(pytester, 2)
    pytester.makeconftest(
        """
        def pytest_llmfunnel_make_backend(config, settings):
            raise ValueError("no judge for this project")
        """
    )
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest("--llm-funnel", "-p", "no:xdist", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: llm-funnel: the pytest_llmfunnel_make_backend hook raised ValueError: "
        "no judge for this project (at *conftest.py:2)"
    ])


def test_a_backend_hook_returning_no_backend_is_refused(pytester: pytest.Pytester) -> None:
    _cases(pytester, 2)
    pytester.makeconftest(
        """
        def pytest_llmfunnel_make_backend(config, settings):
            return "gpt-4o"
        """
    )
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest("--llm-funnel", "-p", "no:xdist", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: llm-funnel: the pytest_llmfunnel_make_backend hook returned str, not a judge "
        "backend (missing identity, base_url, model, supports_json_schema, complete)*"
    ])


def test_a_raising_sections_hook_fails_the_run_naming_the_hook(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the message on one line
    _cases(pytester, 2)
    pytester.makeconftest(
        """
        def pytest_llmfunnel_report_sections(config, records):
            raise RuntimeError("section broke")
        """
    )
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest("--llm-funnel", "-p", "no:xdist", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "llm-funnel: the pytest_llmfunnel_report_sections hook raised RuntimeError: "
        "section broke (at *conftest.py:2)*",
    ])


def test_the_documented_sections_example_works(pytester: pytest.Pytester) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    example = next(b for b in blocks if "def pytest_llmfunnel_report_sections" in b)
    rows = [{"id": f"c{i}", "input": "q", "output": "a", "tags": ["slow"] if i % 2 else []}
            for i in range(4)]
    (pytester.path / "cases.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    pytester.makeconftest(example)
    pytester.makepyfile(EVAL_TEST)
    result = pytester.runpytest("--llm-funnel", "-p", "no:xdist", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["Slow cases:", "  2 cases tagged slow: c1, c3"])
