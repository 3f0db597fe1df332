"""The entry point's hooks that pytest calls for every test: registered only when needed.

pytest calls these for every item of every run, three times each for the
report hooks, whether the funnel is on or not: with them on the entry point,
a project that has the plugin installed but off paid about 50 µs per test
(0.1 s in a run of 2,000 plain tests, ``benchmarks/warm_cache.py``).

They are a plugin of their own, registered by the entry point right after
itself (``pytest_plugins``), so their place among other plugins' hooks is
the one they always had. A run without ``--llm-funnel`` unregisters them at
configure time (:func:`pytest_llmfunnel.plugin.pytest_configure`), and the
entry point registers them again when the run makes a session after all
(collection met an eval test, or a test asked for ``llm_judge``).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from pytest_llmfunnel.pytest_glue.stash_keys import session_of as _session

NAME = __name__
"""The name this module is registered under (``pytest_plugins`` names it so)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Wait for this item's case result before its fixtures are set up."""
    fs = _session(item.config)
    if fs is not None:
        # Start-up choice: as in pytest_configure.
        from pytest_llmfunnel.pytest_glue.items import attach_result

        attach_result(item, fs)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body, fail the item for must=True stages (or every stage with strict)."""
    result = yield
    fs = _session(item.config)
    if fs is not None:
        # Start-up choice: as in pytest_configure.
        from pytest_llmfunnel.pytest_glue.items import enforce

        enforce(item, fs)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Put the case's compact record on the call report (it travels through xdist)."""
    report = yield
    fs = _session(item.config)
    if fs is not None:
        # Start-up choice: as in pytest_configure.
        from pytest_llmfunnel.pytest_glue.items import finish_report

        finish_report(item, call, report, fs)
    return report


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """Show llm-failed and llm-error cases with their own status in the summary line."""
    status = getattr(report, "llm_funnel_status", None)
    if report.when != "call" or not report.passed or status in (None, "ok"):
        return None
    if status == "llm-failed":
        return "llm-failed", "l", "LLM-FAILED"
    return "llm-error", "e", "LLM-ERROR"
