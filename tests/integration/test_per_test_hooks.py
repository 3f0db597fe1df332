"""The hooks pytest calls for every test are registered only in runs that need them.

With them on the entry point, a project with the plugin installed but off paid
for them on every test (``benchmarks/warm_cache.py``: about 0.1 s per 2,000
plain tests). They are a plugin of their own, registered right after the entry
point and dropped at configure time when the funnel is off, so these tests
check the three cases (off, on, off but an eval test collected) and that the
hooks keep their place: a conftest's report wrapper still sees the status the
funnel put on the report, and xdist workers send it to the controller.
"""

from __future__ import annotations

import pytest

from pytest_llmfunnel.testing import JudgeServer
from tests.support.runs import cases, judge_args, write_jsonl

ITEMS = "pytest_llmfunnel.pytest_glue.item_hooks"

PROBE = f"""
import pytest

SEEN = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        SEEN.append(getattr(report, "llm_funnel_status", None))
    return report


def pytest_sessionfinish(session):
    manager = session.config.pluginmanager
    ours = [
        impl.plugin_name
        for hook in ("pytest_runtest_setup", "pytest_runtest_call",
                     "pytest_runtest_makereport", "pytest_report_teststatus")
        for impl in getattr(manager.hook, hook).get_hookimpls()
        if impl.plugin_name.startswith("pytest_llmfunnel") or impl.plugin_name == "llmfunnel"
    ]
    order = [impl.plugin_name for impl in manager.hook.pytest_runtest_makereport.get_hookimpls()]
    print()
    print("PROBE registered", manager.get_plugin({ITEMS!r}) is not None)
    print("PROBE hooks", len(ours))
    print("PROBE order", order)
    print("PROBE statuses", sorted(set(map(str, SEEN))))
"""

EVAL = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case, llm_result):
    pass
"""


def probe(result: pytest.RunResult, what: str) -> str:
    lines = [line for line in result.outlines if line.startswith(f"PROBE {what} ")]
    assert lines, result.stdout.str()
    return lines[-1].removeprefix(f"PROBE {what} ")


def test_a_run_without_the_funnel_registers_no_per_test_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROBE)
    pytester.makepyfile(test_plain="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    result = pytester.runpytest("-s", "-p", "no:xdist")
    assert result.ret == 0, result.stdout.str()
    assert probe(result, "registered") == "False"
    assert probe(result, "hooks") == "0"


def test_an_eval_test_collected_without_the_funnel_brings_them_back(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(PROBE)
    write_jsonl(pytester.path / "cases.jsonl", cases(2))
    pytester.makepyfile(test_eval=EVAL)
    result = pytester.runpytest("-s", "-rs", "-p", "no:xdist")
    assert result.ret == 0, result.stdout.str()
    assert probe(result, "registered") == "True"
    assert probe(result, "hooks") == "4"
    result.stdout.fnmatch_lines(["*LLM eval: run pytest with --llm-funnel*", "*2 skipped*"])


@pytest.mark.usefixtures("openai_env")
def test_with_the_funnel_they_run_where_they_always_ran(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    pytester.makeconftest(PROBE)
    write_jsonl(pytester.path / "cases.jsonl", cases(3))
    pytester.makepyfile(test_eval=EVAL)
    result = pytester.runpytest("-s", *judge_args(judge_server), "-p", "no:xdist")
    assert result.ret == 0, result.stdout.str()
    assert probe(result, "registered") == "True"
    assert probe(result, "hooks") == "4"
    # Right after pytest's own plugins, as the entry point itself was: a
    # conftest's wrapper (registered later, so outside ours) sees the status.
    order = probe(result, "order")
    assert order.index("skipping") < order.index(ITEMS), order
    assert probe(result, "statuses") == "['ok']"


@pytest.mark.usefixtures("openai_env")
def test_xdist_workers_send_the_status_to_the_controller(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(4))
    pytester.makepyfile(test_eval=EVAL)
    result = pytester.runpytest(*judge_args(judge_server), "-n", "2")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*4 passed*"])
