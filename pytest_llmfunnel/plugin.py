"""pytest's entry point: hooks only, each handing off to the session and its parts.

Installed but off costs nothing: the glue is imported inside the hooks that
need it, each such import a start-up choice. A run without ``--llm-funnel``
reads its flags and settings (standard library only) and makes the session
object (and through it the funnel, the endpoint, the stores and pydantic) only
when collection meets an eval test or a test asks for ``llm_judge``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmfunnel import hookspecs
from pytest_llmfunnel.pytest_glue.stash_keys import SESSION_KEY, SETTINGS_KEY, session_of

if TYPE_CHECKING:
    from pytest_llmfunnel.config import Settings
    from pytest_llmfunnel.funnel.backend import JudgeBackend
    from pytest_llmfunnel.models import CaseResult
    from pytest_llmfunnel.pytest_glue.session import FunnelSession
    from pytest_llmfunnel.record import CaseRecord

# The hooks pytest calls per test live in a plugin of their own, registered
# right after this one and dropped from a run that does not need them.
pytest_plugins = ["pytest_llmfunnel.pytest_glue.item_hooks"]

_session = session_of


def _session_for(config: pytest.Config) -> FunnelSession:
    """The session object, made now if the funnel is off and nothing needed it yet."""
    fs = config.stash.get(SESSION_KEY, None)
    if fs is None:
        # Start-up choice: as in pytest_configure.
        from pytest_llmfunnel.pytest_glue.start import start_session

        fs = config.stash[SESSION_KEY] = start_session(config, config.stash[SETTINGS_KEY])
        _item_hooks(config, needed=True)
    return fs


def _item_hooks(config: pytest.Config, *, needed: bool) -> None:
    """Register the per-test hooks (:mod:`.pytest_glue.item_hooks`) or drop them."""
    # Start-up choice: already imported (pytest_plugins above), so this is a lookup.
    from pytest_llmfunnel.pytest_glue import item_hooks

    manager = config.pluginmanager
    registered = manager.get_plugin(item_hooks.NAME) is not None
    if needed and not registered:
        manager.register(item_hooks, item_hooks.NAME)
    elif not needed and registered:
        manager.unregister(name=item_hooks.NAME)


def _xdist_in_play(config: pytest.Config) -> bool:
    return config.getoption("dist", "no") != "no" or hasattr(config, "workerinput")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register this plugin's hooks (see hookspecs and docs/plugins.md)."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --llm-funnel and the --llm-funnel-* family with their ini keys."""
    # Start-up choice: the glue loads when pytest sets the plugin up, not on import.
    from pytest_llmfunnel.pytest_glue.start import add_options

    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, validate settings; with --llm-funnel, set up the session object."""
    # Start-up choice: the settings (standard library only) load when pytest
    # configures the plugin; the session's parts only when the funnel is on.
    from pytest_llmfunnel.pytest_glue.start import read_settings

    settings = config.stash[SETTINGS_KEY] = read_settings(config)
    if not settings.enabled and _session(config) is None:
        _item_hooks(config, needed=False)  # no test of this run needs them (yet)
    if settings.enabled:
        _session_for(config)
        if settings.ledger is not None or settings.mlflow:
            # Start-up choice: the ledger glue loads only when a ledger or MLflow is set.
            from pytest_llmfunnel.pytest_glue.ledger_run import note_start

            note_start(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker how the controller distributes items."""
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.start import tell_worker

    tell_worker(node)


@pytest.hookimpl(trylast=True)
def pytest_llmfunnel_make_backend(config: pytest.Config, settings: Settings) -> JudgeBackend:
    """The built-in judge backend, when no conftest returned one."""
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.start import default_backend

    return default_backend(config, settings)


def pytest_llmfunnel_report_sections(
    config: pytest.Config, records: list[CaseRecord]
) -> list[tuple[str, str]] | None:
    """The run ledger's last runs of the gated metrics, when a ledger is configured."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.ledger is None:
        return None
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.ledger_run import ledger_sections

    return ledger_sections(config, settings, records)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """What judges and caches verdicts, and which ini file the settings came from."""
    fs = _session(config)
    if fs is None or not fs.settings.enabled:
        return None
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.start import header_lines

    return header_lines(config, fs)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize llm_dataset tests with one test id per case (and variant)."""
    # Start-up choice: as in pytest_configure (which loaded it already).
    from pytest_llmfunnel.pytest_glue.start import MARKER

    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is not None:
        # Start-up choice: the dataset and the session load with the first eval test.
        from pytest_llmfunnel.pytest_glue.collect import parametrize

        parametrize(metafunc, marker, _session_for(metafunc.config))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Attach each eval item's case, make tags selectable with -k, skip when disabled."""
    fs = _session(config)
    if fs is None:  # the funnel is off and no eval test was collected
        return
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.collect import annotate_items
    from pytest_llmfunnel.pytest_glue.selection import select_shard

    annotate_items(items, fs)
    select_shard(items, config, fs)


@pytest.hookimpl(specname="pytest_collection_modifyitems", trylast=True)
def pytest_llm_funnel_keep_node_ids(items: list[pytest.Item], config: pytest.Config) -> None:
    """Node ids stay the same under xdist: undo the group suffix older xdist adds here."""
    if not _xdist_in_play(config):
        return
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.xdist_bridge import clean_xdist_ids

    clean_xdist_ids(items)


@pytest.hookimpl(wrapper=True)
def pytest_collection_finish(session: pytest.Session) -> Generator[None, None, None]:
    """Count the selected eval items; under xdist loadgroup, keep each chunk's items together."""
    fs = _session(session.config)
    if fs is None and not _xdist_in_play(session.config):
        return (yield)
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.selection import count_selected
    from pytest_llmfunnel.pytest_glue.xdist_bridge import clean_xdist_ids, xdist_group_ids

    if fs is not None:
        count_selected(session.items, fs)
    # Only the ids the worker sends to the scheduler carry the group.
    grouped = xdist_group_ids(session.items, session.config)
    try:
        return (yield)
    finally:
        clean_xdist_ids(grouped)


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    """A crashed item is reported under its own node id, not the scheduler's grouped one."""
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.xdist_bridge import clean_crash_id

    report.nodeid = clean_crash_id(crashitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Start the batch for every selected eval item before the first item runs."""
    fs = _session(session.config)
    if fs is None:
        return (yield)
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.items import start_run

    start_run(session, fs)
    try:
        return (yield)
    finally:
        fs.stop()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session on too many judge errors; close the batch and the cache."""
    fs = _session(session.config)
    if fs is None:
        return
    if not fs.settings.enabled:
        fs.close()  # an ad-hoc llm_judge call may have opened the cache
        return
    # Start-up choice: the end of the run (gate, reports) loads only when it runs.
    from pytest_llmfunnel.pytest_glue.finish import finish

    finish(session, fs)


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    """The funnel tables, after the test results."""
    fs = _session(config)
    if fs is None or fs.distributed or not fs.settings.enabled:
        return
    # Start-up choice: the terminal renderer loads only at the end.
    from pytest_llmfunnel.pytest_glue.summary import write_summary

    write_summary(terminalreporter, config, fs)


@pytest.hookimpl(specname="pytest_terminal_summary", wrapper=True, tryfirst=True)
def pytest_llm_funnel_short_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> Generator[None, None, None]:
    """Add the llm-failed and llm-error items to the end of pytest's short test summary."""
    # Outermost wrapper: pytest's own wrapper prints the short summary as it
    # finishes, so these lines come right after its own (-rf lists failures).
    result = yield
    fs = _session(config)
    if fs is not None and fs.problem_items:
        # Start-up choice: as in pytest_terminal_summary.
        from pytest_llmfunnel.pytest_glue.summary import write_short_summary

        write_short_summary(terminalreporter, config, fs)
    return result


@pytest.fixture
def llm_result() -> CaseResult:
    """The funnel's result for this eval item's case (stages, verdicts, promotion)."""
    # No ``request`` (nor ``pytestconfig``, which asks for it): pytest builds
    # a fixture definition for every ``request`` it hands out, about 40 µs
    # per item, a fifth of a warm eval item's time. The running session
    # knows the running item's result (set in its setup, cleared after).
    # Start-up choice: as in pytest_configure (loaded by then, so this is a lookup).
    from pytest_llmfunnel.pytest_glue.start import SESSIONS

    result = SESSIONS[-1].current_result if SESSIONS else None
    if result is None:
        raise pytest.UsageError(
            "llm_result is only available in tests marked with @pytest.mark.llm_dataset"
        )
    return result


@pytest.fixture(scope="session")
def llm_judge(pytestconfig: pytest.Config) -> Iterator[Callable[..., Any]]:
    """Ask the judge ad hoc: ``assert llm_judge("Is the reply polite?", reply).passed``."""
    # Start-up choice: as in pytest_configure.
    from pytest_llmfunnel.pytest_glue.adhoc import AdHocJudge

    yield AdHocJudge(_session_for(pytestconfig))
