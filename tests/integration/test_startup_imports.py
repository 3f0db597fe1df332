"""Installed but off costs nothing: what a plain run imports, counted in a real process.

A test of structure, not of time: a ``pytest`` process with the plugin
installed (its entry point loads it) and without ``--llm-funnel`` must not
import pydantic, openai, diskcache, tabulate or the package's core; it reads
its flags and settings from a few standard-library-only modules. The modules
are read from ``sys.modules`` at the end of the run, by a conftest hook.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.runs import cases, write_jsonl

HEAVY = ("pydantic", "openai", "httpx", "diskcache", "tabulate")
# What a run with the funnel off may load of this package: the entry point,
# its hook specifications, the per-test hooks it registers (and drops), the
# keys of the run's stash, and the flags and settings.
LIGHT = {
    "pytest_llmfunnel",
    "pytest_llmfunnel.plugin",
    "pytest_llmfunnel.hookspecs",
    "pytest_llmfunnel.config",
    "pytest_llmfunnel.config_options",
    "pytest_llmfunnel.cache_mode",
    "pytest_llmfunnel.pytest_glue",
    "pytest_llmfunnel.pytest_glue.start",
    "pytest_llmfunnel.pytest_glue.xdist_bridge",
    "pytest_llmfunnel.pytest_glue.item_hooks",
    "pytest_llmfunnel.pytest_glue.stash_keys",
}
RECORD_MODULES = """
import json
import sys

def pytest_unconfigure(config):
    with open("modules.json", "w") as f:
        json.dump(sorted(sys.modules), f)
"""


def loaded(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[str]]:
    """Run pytest in a fresh process; its exit status and every module it had loaded."""
    pytester.makeconftest(RECORD_MODULES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    modules = json.loads((pytester.path / "modules.json").read_text())
    return result, modules


def heavy_or_core(modules: list[str]) -> list[str]:
    return [
        m for m in modules
        if m.split(".")[0] in HEAVY or (m.startswith("pytest_llmfunnel") and m not in LIGHT)
    ]


def test_a_plain_run_with_the_plugin_installed_loads_nothing_heavy(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result, modules = loaded(pytester)
    assert result.ret == 0
    assert "pytest_llmfunnel.plugin" in modules  # installed, so loaded: the check is real
    assert heavy_or_core(modules) == []


def test_the_same_run_under_xdist_loads_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result, modules = loaded(pytester, "-n", "1")
    assert result.ret == 0
    assert "pytest_llmfunnel.plugin" in modules
    assert heavy_or_core(modules) == []


def test_an_eval_test_without_the_flag_loads_the_funnel_and_is_skipped(
    pytester: pytest.Pytester,
) -> None:
    # The other side of the line: the session is made when collection meets
    # an eval test, so the skip still names the flag.
    write_jsonl(pytester.path / "cases.jsonl", cases(2))
    pytester.makepyfile(test_eval="""
        import pytest
        from pytest_llmfunnel import Funnel, checks

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty()))
        def test_eval(case):
            pass
    """)
    result, modules = loaded(pytester, "-rs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*run pytest with --llm-funnel*", "*2 skipped*"])
    assert "pytest_llmfunnel.funnel.runner" in modules
    assert "openai" not in modules  # nothing is judged, so the client is not loaded


def test_the_flags_are_still_there_without_the_funnel(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--llm-funnel *", "*--llm-funnel-concurrency=N*"])


def test_importing_the_entry_point_loads_nothing_heavy() -> None:
    code = (
        "import json, sys; import pytest_llmfunnel.plugin; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout)
    assert "pytest_llmfunnel.plugin" in modules
    assert heavy_or_core(modules) == []
