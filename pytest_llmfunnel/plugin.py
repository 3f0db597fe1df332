"""pytest glue: options, the marker, parametrization, fixtures and hooks.

Each hook is a few lines that hand off to the :class:`FunnelSession` kept in
``config.stash``; the logic lives in plain modules.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmfunnel.config import OPTIONS, ConfigError, resolve_settings
from pytest_llmfunnel.models import CaseResult

if TYPE_CHECKING:
    from pytest_llmfunnel.pytest_glue.session import FunnelSession

SESSION_KEY = pytest.StashKey["FunnelSession"]()
_SESSIONS: list[FunnelSession] = []  # configured and not yet shut down, innermost last
MARKER = "llm_dataset"
MARKER_HELP = (
    "llm_dataset(path, funnel=None, tags=None, columns=None, baseline=None): run the test "
    "once per case of the dataset file (JSONL, CSV or YAML), through the given Funnel, and "
    "gate it against the baseline file (default: one in llm_funnel_baseline_dir, else in "
    "__llmfunnel_baselines__ beside the test file; baseline=False: no gate)."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --llm-funnel and the --llm-funnel-* family with their ini keys."""
    group = parser.getgroup("llm-funnel", "LLM evals as an evaluation funnel")
    group.addoption(
        "--llm-funnel",
        action="store_true",
        dest="llm_funnel",
        default=False,
        help="Evaluate llm_dataset tests (without it they are skipped, and nothing is sent).",
    )
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"dest": option.dest, "default": None, "help": option.help}
        if option.kind == "bool":
            kwargs["action"] = "store_true"
            kwargs["default"] = False
        else:
            kwargs["metavar"] = option.metavar or option.name.upper()
            if option.kind == "choice":
                kwargs["metavar"] = "{" + ",".join(option.choices) + "}"
        group.addoption(option.flag, **kwargs)
        if option.ini:
            parser.addini(option.ini_key, help=option.help, default=None)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, validate settings, and set up the session object."""
    config.addinivalue_line("markers", MARKER_HELP)
    _check_rootdir(config)
    enabled = bool(config.getoption("llm_funnel")) or _env_enabled()
    cli = {o.dest: config.getoption(o.dest) for o in OPTIONS}
    try:
        settings = resolve_settings(
            cli, enabled=enabled, ini=config.getini, rootdir=config.rootpath
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    from pytest_llmfunnel.pytest_glue.session import FunnelSession

    fs = FunnelSession(config, settings)
    config.stash[SESSION_KEY] = fs
    # The innermost configured session is the one running tests (pytester
    # runs sessions nested in another's test).
    _SESSIONS.append(fs)

    def shut_down() -> None:
        _SESSIONS.remove(fs)
        fs.thaw(nested=bool(_SESSIONS))

    # Registered before pytest's own clean-ups, so it runs after them (after
    # the session's last gc.collect()): see heap.thaw.
    config.add_cleanup(shut_down)
    config.pluginmanager.register(fs, "llmfunnel-session")
    if enabled and config.getoption("dist", "no") == "load":
        # One xdist group per dataset chunk keeps each chunk on one worker,
        # so no case is evaluated twice; other tests still spread freely.
        config.option.dist = "loadgroup"
        if config.getoption("maxworkerrestart", None) is None:
            # pytest-xdist's group scheduler (up to 3.8 at least) can wait
            # forever after it replaces a crashed worker: it hands the new one
            # work units that are already done. Without replacements a crash
            # fails its test and the run ends, which a CI job can report.
            config.option.maxworkerrestart = "0"
    if fs.controller_dist == "loadgroup":
        # A worker re-parses the command line, so it learns of the switch above
        # from its workerinput; it must then add "@group" to its node ids.
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker how the controller distributes items."""
    from pytest_llmfunnel.pytest_glue.session import DIST_KEY

    node.workerinput[DIST_KEY] = node.config.getoption("dist", "no")


def _env_enabled() -> bool:
    import os

    return os.environ.get("LLM_FUNNEL", "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """What judges and caches verdicts, and which ini file the settings came from."""
    fs = config.stash.get(SESSION_KEY, None)
    if fs is None or not fs.settings.enabled:
        return None
    from pytest_llmfunnel.endpoint.factory import describe, placeholder_warning

    if config.inipath is not None:
        source = f"llm-funnel: settings from {config.inipath} (and the command line)"
    else:
        source = (
            f"llm-funnel: no ini file was read (rootdir {config.rootpath}), so no "
            "llm_funnel_* ini setting applies"
        )
    warning = placeholder_warning(fs.settings)
    return [describe(fs.settings), source] + ([warning] if warning else [])


def _check_rootdir(config: pytest.Config) -> None:
    """Refuse a path flag whose separate value made pytest pick another rootdir.

    pytest chooses the rootdir and ini file before plugins add their options,
    so in ``--llm-funnel-cache-dir /elsewhere`` it takes ``/elsewhere`` for a
    test path when it exists: the rootdir moves up to a common ancestor and the
    project's ini file (its judge, its baselines) is silently not read.
    """
    import itertools
    import os

    args = [str(a) for a in config.invocation_params.args]
    flags = {o.flag for o in OPTIONS if o.kind == "path"}
    here = Path(config.invocation_params.dir).resolve()
    root = Path(config.rootpath).resolve()
    for flag, value in itertools.pairwise(args):
        if flag not in flags or value.startswith("-") or not os.path.exists(value):
            continue
        target = (here / value).resolve()
        if target == here or here in target.parents:
            continue  # inside the folder pytest started in: it cannot move the rootdir
        if not (root == target or root in target.parents):
            continue  # the rootdir does not contain it, so it did not choose the rootdir
        ini = config.inipath
        if ini is not None and Path(ini).resolve().parent in (here, *here.parents):
            continue  # an ini file of the project was found and read all the same
        raise pytest.UsageError(
            f"{flag} {value}: pytest took {value} for a test path while choosing "
            f"the rootdir (now {root}), so the project's ini file was not read. "
            f"Write {flag}={value} (one argument)."
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize llm_dataset tests with one test id per case (and variant)."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    from pytest_llmfunnel.pytest_glue.collect import parametrize

    parametrize(metafunc, marker, metafunc.config.stash[SESSION_KEY])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Attach each eval item's case, make tags selectable with -k, skip when disabled."""
    from pytest_llmfunnel.pytest_glue.collect import annotate_items

    annotate_items(items, config.stash[SESSION_KEY])


@pytest.hookimpl(specname="pytest_collection_modifyitems", trylast=True)
def pytest_llm_funnel_keep_node_ids(items: list[pytest.Item]) -> None:
    """Node ids stay the same under xdist: undo the group suffix older xdist adds here."""
    from pytest_llmfunnel.pytest_glue.collect import clean_xdist_ids

    clean_xdist_ids(items)


@pytest.hookimpl(wrapper=True)
def pytest_collection_finish(session: pytest.Session) -> Generator[None, None, None]:
    """Count the selected eval items; under xdist loadgroup, keep each chunk's items together."""
    from pytest_llmfunnel.pytest_glue.collect import clean_xdist_ids, xdist_group_ids
    from pytest_llmfunnel.pytest_glue.selection import count_selected

    count_selected(session.items, session.config.stash[SESSION_KEY])

    # Only the ids the worker sends to the scheduler carry the group.
    grouped = xdist_group_ids(session.items, session.config)
    try:
        return (yield)
    finally:
        clean_xdist_ids(grouped)


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    """A crashed item is reported under its own node id, not the scheduler's grouped one."""
    from pytest_llmfunnel.pytest_glue.collect import clean_crash_id

    report.nodeid = clean_crash_id(crashitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Start the batch for every selected eval item before the first item runs."""
    fs = session.config.stash[SESSION_KEY]
    fs.session = session
    if fs.settings.enabled and not session.config.option.collectonly:
        fs.freeze()  # the items and cases live to the end: see heap
        if not fs.distributed:
            fs.start(session.items)
    try:
        return (yield)
    finally:
        fs.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Wait for this item's case result before its fixtures are set up."""
    from pytest_llmfunnel.pytest_glue.collect import attach_result

    attach_result(item, item.config.stash[SESSION_KEY])
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body, fail the item for must=True stages (or every stage with strict)."""
    result = yield
    from pytest_llmfunnel.pytest_glue.collect import enforce

    enforce(item, item.config.stash[SESSION_KEY])
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Put the case's compact record on the call report (it travels through xdist)."""
    report = yield
    if report.longrepr is not None:
        from pytest_llmfunnel.pytest_glue.collect import inert_failure

        inert_failure(item, report)
    if call.when == "call":
        from pytest_llmfunnel.pytest_glue.collect import decorate_report

        decorate_report(item, report, item.config.stash[SESSION_KEY])
    elif call.when == "setup":
        from pytest_llmfunnel.pytest_glue.selection import mark_setup_report

        mark_setup_report(item, report)
    elif call.when == "teardown":
        # The record travels on the call report; the result is dropped, not
        # kept until the session ends.
        item.config.stash[SESSION_KEY].current_result = None
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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session on too many judge errors; close the batch and the cache."""
    fs = session.config.stash.get(SESSION_KEY, None)
    if fs is None:
        return
    from pytest_llmfunnel.pytest_glue.collect import finish

    finish(session, fs)


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    """The funnel tables, after the test results."""
    fs = config.stash.get(SESSION_KEY, None)
    if fs is None or fs.distributed or not fs.settings.enabled:
        return
    from pytest_llmfunnel.report.terminal import summary_lines

    listed = bool(fs.problem_items) and _short_summary_lists(terminalreporter, config)
    # The width pytest itself wraps to (follows COLUMNS, then the terminal).
    width = config.get_terminal_writer().fullwidth
    for line in summary_lines(
        fs, verbosity=config.get_verbosity(), short_summary=listed, width=width
    ):
        terminalreporter.write_line(line)


# pytest's own short-summary lists per -r character (as pytest 8 and 9 print them).
PYTEST_SHORT_SUMMARY = {"f": "failed", "E": "error", "s": "skipped", "x": "xfailed",
                        "X": "xpassed", "p": "passed"}


def _short_summary_lists(terminalreporter: Any, config: pytest.Config) -> bool:
    """Whether the short test summary lists llm-failed/llm-error items: with -r f (a, A)."""
    return not getattr(config.option, "no_summary", False) and terminalreporter.hasopt("f")


@pytest.hookimpl(specname="pytest_terminal_summary", wrapper=True, tryfirst=True)
def pytest_llm_funnel_short_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> Generator[None, None, None]:
    """Add the llm-failed and llm-error items to the end of pytest's short test summary."""
    # Outermost wrapper: pytest's own wrapper prints the short summary as it
    # finishes, so these lines come right after its own (-rf lists failures).
    result = yield
    fs = config.stash.get(SESSION_KEY, None)
    if fs is None or not fs.problem_items or not _short_summary_lists(terminalreporter, config):
        return result
    import os

    from pytest_llmfunnel.report.terminal import short_summary_lines

    whole = config.get_verbosity() >= 2 or any(os.environ.get(v) for v in ("CI", "BUILD_NUMBER"))
    if getattr(config.option, "force_short_summary", False):
        whole = False
    width = None if whole else max(40, config.get_terminal_writer().fullwidth)
    stats = terminalreporter.stats
    if not any(stats.get(kind) for char, kind in PYTEST_SHORT_SUMMARY.items()
               if terminalreporter.hasopt(char)):
        terminalreporter.write_sep("=", "short test summary info", cyan=True, bold=True)
    for line in short_summary_lines(fs.problem_items, width=width):
        terminalreporter.write_line(line)
    return result


@pytest.fixture
def llm_result() -> CaseResult:
    """The funnel's result for this eval item's case (stages, verdicts, promotion)."""
    # No ``request`` (nor ``pytestconfig``, which asks for it): pytest builds
    # a fixture definition for every ``request`` it hands out, about 40 µs
    # per item, a fifth of a warm eval item's time. The running session
    # knows the running item's result (set in its setup, cleared after).
    result = _SESSIONS[-1].current_result if _SESSIONS else None
    if result is None:
        raise pytest.UsageError(
            "llm_result is only available in tests marked with @pytest.mark.llm_dataset"
        )
    return result


@pytest.fixture(scope="session")
def llm_judge(pytestconfig: pytest.Config) -> Iterator[Callable[..., Any]]:
    """Ask the judge ad hoc: ``assert llm_judge("Is the reply polite?", reply).passed``."""
    fs = pytestconfig.stash[SESSION_KEY]
    from pytest_llmfunnel.pytest_glue.adhoc import AdHocJudge

    yield AdHocJudge(fs)

