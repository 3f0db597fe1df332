"""The start of a run: the flags and ini keys, the settings, and the session object.

Every run reads the flags and the settings; the session object and its parts
(the funnel, the endpoint, the stores, pydantic) load only when the run needs
them: with ``--llm-funnel``, or when collection meets an eval test.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmfunnel.config import OPTIONS, ConfigError, Settings, resolve_settings
from pytest_llmfunnel.pytest_glue.xdist_bridge import DIST_KEY, XdistBridge

if TYPE_CHECKING:
    from pytest_llmfunnel.funnel.backend import JudgeBackend
    from pytest_llmfunnel.pytest_glue.session import FunnelSession

MARKER = "llm_dataset"
MARKER_HELP = (
    "llm_dataset(path, funnel=None, tags=None, columns=None, baseline=None): run the test "
    "once per case of the dataset file (JSONL, CSV or YAML), through the given Funnel, and "
    "gate it against the baseline file (default: one in llm_funnel_baseline_dir, else in "
    "__llmfunnel_baselines__ beside the test file; baseline=False: no gate)."
)
# Configured and not yet shut down, innermost last: pytester runs sessions
# nested in another's test, and the innermost one is running tests.
SESSIONS: list[FunnelSession] = []
# Every pytest run configured in this process and not yet shut down, with the
# funnel on or off (a run with it off may have no session): how deep a run is nested.
CONFIGS: list[pytest.Config] = []


def add_options(parser: pytest.Parser) -> None:
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


def read_settings(config: pytest.Config) -> Settings:
    """Register the marker, validate the settings, and choose how xdist hands out items.

    Every run does this, on or off; it needs neither the funnel nor pydantic.
    """
    config.addinivalue_line("markers", MARKER_HELP)
    CONFIGS.append(config)
    config.add_cleanup(lambda: CONFIGS.remove(config))
    _check_rootdir(config)
    enabled = bool(config.getoption("llm_funnel")) or _env_enabled()
    cli = {o.dest: config.getoption(o.dest) for o in OPTIONS}
    try:
        settings = resolve_settings(
            cli, enabled=enabled, ini=config.getini, rootdir=config.rootpath
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
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
    if XdistBridge(config).controller_dist == "loadgroup":
        # A worker re-parses the command line, so it learns of the switch above
        # from its workerinput; it must then add "@group" to its node ids.
        config.option.loadgroup = True
    return settings


def start_session(config: pytest.Config, settings: Settings) -> FunnelSession:
    """Make and register the session object (at configure with --llm-funnel, else on demand)."""
    # Start-up choice: the session's parts (funnel, endpoint, stores, pydantic)
    # load only in a run that evaluates, or once collection meets an eval test.
    from pytest_llmfunnel.pytest_glue.session import FunnelSession

    fs = FunnelSession(config, settings)
    SESSIONS.append(fs)

    def shut_down() -> None:
        SESSIONS.remove(fs)
        # Runs before this run's own CONFIGS entry is removed (clean-ups run last first).
        fs.thaw(nested=len(CONFIGS) > 1)

    # Registered before pytest's own clean-ups, so it runs after them (after
    # the session's last gc.collect()): see heap.thaw. (A session made on
    # demand, with the funnel off, never freezes the heap.)
    config.add_cleanup(shut_down)
    config.pluginmanager.register(fs, "llmfunnel-session")
    return fs


def tell_worker(node: Any) -> None:
    """Tell an xdist worker how the controller distributes items."""
    node.workerinput[DIST_KEY] = node.config.getoption("dist", "no")


def default_backend(config: pytest.Config, settings: Any) -> JudgeBackend:
    """The built-in judge backend: the offline reference judge, or the configured endpoint."""
    # Start-up choice: the endpoint loads when the first eval item is about to run.
    from pytest_llmfunnel.endpoint.factory import make_backend

    return make_backend(settings, XdistBridge(config).worker_count)


def header_lines(config: pytest.Config, fs: FunnelSession) -> list[str]:
    """What judges and caches verdicts, and which ini file the settings came from."""
    # Start-up choice: only a run with --llm-funnel describes its judge.
    from pytest_llmfunnel.endpoint.factory import describe, placeholder_warning

    if config.inipath is not None:
        source = f"llm-funnel: settings from {config.inipath} (and the command line)"
    else:
        source = (
            f"llm-funnel: no ini file was read (rootdir {config.rootpath}), so no "
            "llm_funnel_* ini setting applies"
        )
    warning = placeholder_warning(fs.settings)
    lines = [describe(fs.settings), source] + ([warning] if warning else [])
    # A conftest's backend replaces the described judge (unless it returns None).
    hook = config.pluginmanager.hook.pytest_llmfunnel_make_backend
    others = [impl.plugin_name for impl in hook.get_hookimpls()
              if impl.function is not _builtin_backend_hook(config)]
    if others:
        lines.insert(1, "llm-funnel: the judge comes from pytest_llmfunnel_make_backend in "
                     f"{', '.join(others)} (unless it returns None)")
    return lines


def _builtin_backend_hook(config: pytest.Config) -> object:
    plugin = config.pluginmanager.get_plugin("llmfunnel")
    return getattr(plugin, "pytest_llmfunnel_make_backend", None)


def _env_enabled() -> bool:
    return os.environ.get("LLM_FUNNEL", "").strip().lower() in {"1", "true", "yes", "on"}


def _check_rootdir(config: pytest.Config) -> None:
    """Refuse a path flag whose separate value made pytest pick another rootdir.

    pytest chooses the rootdir and ini file before plugins add their options,
    so in ``--llm-funnel-cache-dir /elsewhere`` it takes ``/elsewhere`` for a
    test path when it exists: the rootdir moves up to a common ancestor and the
    project's ini file (its judge, its baselines) is silently not read.
    """
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
