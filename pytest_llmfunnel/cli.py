"""The ``llmfunnel`` command: what is not a test run.

Cache housekeeping (statistics, export to and import from a verdict lockfile,
clearing), rendering a report from a run's JSON results, moving the
human-review slice out to labellers and their labels back in, and gating the
merged results of a run's CI shards.

Exit codes: 0 done, 1 a problem with the input (a damaged lockfile, a missing
file, a cache that cannot be read), 2 a usage problem (bad arguments, a
refused confirmation). Expected errors print one line on stderr, never a
traceback; nothing here prints the environment, so no API key can leak into a log.

The report and review commands import their modules only when run, so the
cache commands stay fast.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from pytest_llmfunnel import __version__
from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.cache_mode import CacheMode, parse_cache_mode
from pytest_llmfunnel.escape import clean
from pytest_llmfunnel.ledger.commands import add_ledger_commands
from pytest_llmfunnel.shards.command import add_gate_command
from pytest_llmfunnel.store.lockfile import LockfileError, export_lockfile, import_lockfile
from pytest_llmfunnel.store.verdict_cache import VerdictStore
from pytest_llmfunnel.wording import plural

PROG = "llmfunnel"
DEFAULT_CACHE_DIR = Path(".llmfunnel") / "cache"
CACHE_DIR_ENV = "LLM_FUNNEL_CACHE_DIR"
CACHE_MODE_ENV = "LLM_FUNNEL_CACHE"

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2


class CliError(Exception):
    """An expected failure: a one-line message for stderr and the exit code."""

    def __init__(self, message: str, code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[argparse.Namespace], int]


# --- cache -------------------------------------------------------------------


def cache_dir(given: Path | None) -> Path:
    """The cache folder: ``--cache-dir``, else $LLM_FUNNEL_CACHE_DIR, else the nearest one.

    The plugin keeps its cache under the pytest rootdir, and people run this
    command from wherever they are in the project; so, as git finds ``.git``,
    the default is the first ``.llmfunnel/cache`` in the current directory or
    one of its parents, and ``./.llmfunnel/cache`` when there is none.
    """
    if given is not None:
        return given.expanduser()
    from_env = os.environ.get(CACHE_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return nearest_cache_dir(Path.cwd())


def nearest_cache_dir(start: Path) -> Path:
    """The first ``.llmfunnel/cache`` folder at ``start`` or above, else the one at ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CACHE_DIR
        if candidate.is_dir():
            return candidate if folder != start else DEFAULT_CACHE_DIR
    return DEFAULT_CACHE_DIR


def cache_mode() -> CacheMode:
    """The cache mode a test run here would use by default ($LLM_FUNNEL_CACHE)."""
    raw = os.environ.get(CACHE_MODE_ENV, "").strip()
    if not raw:
        return "read-write"
    try:
        return parse_cache_mode(raw)
    except ValueError as exc:
        raise CliError(f"{CACHE_MODE_ENV}: {exc}", EXIT_USAGE) from None


def _existing(directory: Path) -> Path:
    if not directory.is_dir():
        raise CliError(
            f"no verdict cache at {directory}; run the evals once with --llm-funnel, "
            f"or pass --cache-dir (or set {CACHE_DIR_ENV})"
        )
    return directory


def human_size(size: int) -> str:
    """``1536`` -> ``1.5 KiB``: sizes as a reader wants them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def cmd_cache_stats(args: argparse.Namespace) -> int:
    directory = cache_dir(args.cache_dir)
    mode = cache_mode()
    if not directory.is_dir():
        _write_rows(sys.stdout, [("cache", f"{directory} (not created yet)"), ("mode", mode),
                                 ("verdicts", "0"), ("outputs", "0"), ("size", "0 B")])
        return EXIT_OK
    with VerdictStore(directory, mode=mode) as store:
        stats = store.stats()
    _write_rows(
        sys.stdout,
        [
            ("cache", str(directory)),
            ("mode", stats.mode),
            ("verdicts", str(stats.verdicts)),
            ("outputs", str(stats.outputs)),
            ("size", human_size(stats.size_bytes)),
        ],
    )
    return EXIT_OK


def cmd_cache_export(args: argparse.Namespace) -> int:
    directory = _existing(cache_dir(args.cache_dir))
    with VerdictStore(directory, mode="read-only") as store:
        count = export_lockfile(store, args.path)
    print(f"exported {plural(count, 'verdict')} from {directory} to {args.path}")
    return EXIT_OK


def cmd_cache_import(args: argparse.Namespace) -> int:
    directory = cache_dir(args.cache_dir)
    # An import is an explicit request to write, whatever mode test runs use.
    with VerdictStore(directory, mode="read-write") as store:
        count = import_lockfile(store, args.path)
    print(f"imported {plural(count, 'verdict')} from {args.path} into {directory}")
    return EXIT_OK


def cmd_cache_clear(args: argparse.Namespace) -> int:
    directory = cache_dir(args.cache_dir)
    if not directory.is_dir():
        print(f"nothing to clear: no verdict cache at {directory}")
        return EXIT_OK
    with VerdictStore(directory) as store:
        count = store.stats().verdicts
        if not args.yes:
            _confirm(f"Delete {plural(count, 'cached verdict')} from {directory}?")
        store.clear()
    print(f"cleared {plural(count, 'verdict')} from {directory} (recorded outputs kept)")
    return EXIT_OK


def _confirm(question: str) -> None:
    """Ask on a terminal; refuse (usage error) when nobody can answer."""
    if not sys.stdin.isatty():
        raise CliError(
            "refusing to clear the cache without confirmation: stdin is not a terminal; "
            "pass --yes",
            EXIT_USAGE,
        )
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in {"y", "yes"}:
        raise CliError("not cleared", EXIT_INPUT)


# --- report and review (rendered by modules imported on demand) ---------------


# Each command imports what it renders with when it runs: a start-up choice, so
# the cache commands do not load the report and review modules.


def cmd_report(args: argparse.Namespace) -> int:
    # Lazy: a start-up choice (see above).
    from pytest_llmfunnel.report.markdown import render_markdown
    from pytest_llmfunnel.report.pr_report import document_report
    from pytest_llmfunnel.report.results_json import load_results
    from pytest_llmfunnel.report.terminal import document_text
    from pytest_llmfunnel.report.terminal_text import render_text

    results = load_results(args.results)
    if args.format == "md" and args.baseline is not None:
        text = render_markdown(results, baseline=args.baseline)  # says why it cannot
    elif args.format == "md":
        text = document_report(results)  # what the run drew, with what its end added
    elif args.baseline is not None:
        text = render_text(results, baseline=args.baseline)  # says why it cannot
    else:
        text = document_text(results, verbosity=args.verbose - args.quiet, width=args.width)
    _emit(text, args.output)
    return EXIT_OK


def cmd_review_export(args: argparse.Namespace) -> int:
    # Lazy: a start-up choice (see above).
    from pytest_llmfunnel.report.results_json import load_results
    from pytest_llmfunnel.review.label_files import export_from_results

    count = export_from_results(
        load_results(args.results), args.output, budget=args.budget, seed=args.seed,
        show_verdicts=args.show_verdicts,
    )
    print(f"exported {plural(count, 'case')} for review to {args.output}")
    return EXIT_OK


def cmd_review_import(args: argparse.Namespace) -> int:
    # Lazy: a start-up choice (see above).
    from pytest_llmfunnel.report.results_json import load_results
    from pytest_llmfunnel.report.review_import import import_review

    summary = import_review(args.labels, load_results(args.results))
    _emit(str(summary), None)
    return EXIT_OK


# --- parser and entry point ----------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="pytest-llmfunnel outside a test run: the verdict cache, reports, review.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    cache = commands.add_parser("cache", help="inspect, export, import or clear the verdict cache")
    cache_commands = cache.add_subparsers(
        title="cache commands", metavar="ACTION", required=True
    )
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--cache-dir", type=Path, metavar="DIR",
        help=f"the cache folder (default: ${CACHE_DIR_ENV}, else the nearest .llmfunnel/cache "
        "here or in a parent folder)",
    )
    stats = cache_commands.add_parser(
        "stats", parents=[where], help="how many verdicts are cached, and their size"
    )
    stats.set_defaults(handler=cmd_cache_stats)
    export = cache_commands.add_parser(
        "export", parents=[where], help="write every cached verdict to a lockfile (JSONL)"
    )
    export.add_argument("path", type=Path, metavar="PATH", help="the lockfile to write")
    export.set_defaults(handler=cmd_cache_export)
    imp = cache_commands.add_parser(
        "import", parents=[where], help="load a verdict lockfile into the cache (all or nothing)"
    )
    imp.add_argument("path", type=Path, metavar="PATH", help="the lockfile to read")
    imp.set_defaults(handler=cmd_cache_import)
    clear = cache_commands.add_parser(
        "clear", parents=[where], help="forget every cached verdict"
    )
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(handler=cmd_cache_clear)

    report = commands.add_parser("report", help="render a run's JSON results as a report")
    report.add_argument("results", type=Path, metavar="RESULTS.json",
                        help="the file written by --llm-funnel-json")
    report.add_argument("--baseline", type=Path, metavar="PATH",
                        help="compare against this baseline")
    report.add_argument("--format", choices=("md", "text"), default="md",
                        help="Markdown for a pull request (default) or plain text")
    report.add_argument("-o", "--output", type=Path, metavar="PATH",
                        help="write here instead of stdout")
    report.add_argument("--width", type=int, metavar="COLUMNS",
                        help="text: wrap to this width (default: the terminal's, or COLUMNS)")
    report.add_argument("-v", "--verbose", action="count", default=0,
                        help="text: list every case, tag and flip, with whole reasons")
    report.add_argument("-q", "--quiet", action="count", default=0,
                        help="text: only the verdict and what failed, as pytest -q")
    report.set_defaults(handler=cmd_report)

    add_gate_command(commands)
    review = commands.add_parser("review", help="export the human-review slice, import labels")
    review_commands = review.add_subparsers(
        title="review commands", metavar="ACTION", required=True
    )
    rexport = review_commands.add_parser("export", help="write the cases chosen for review")
    rexport.add_argument("results", type=Path, metavar="RESULTS.json",
                         help="the file written by --llm-funnel-json")
    rexport.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                         help="the review file to write (.csv or .jsonl)")
    rexport.add_argument("--budget", type=float, default=0.1, metavar="SHARE_OR_COUNT",
                         help="size of the slice: a share of the cases (below 1) or a count")
    rexport.add_argument("--seed", type=int, default=0, help="seed of the random audit sample")
    rexport.add_argument("--show-verdicts", action="store_true",
                         help="show the judge's verdict and reason to labellers")
    rexport.set_defaults(handler=cmd_review_export)
    rimport = review_commands.add_parser(
        "import", help="read labels back and measure how far the judge agrees"
    )
    rimport.add_argument("labels", type=Path, metavar="LABELS",
                         help="the labelled review file (.csv or .jsonl)")
    rimport.add_argument("--results", type=Path, required=True, metavar="RESULTS.json",
                         help="the results the slice was exported from")
    rimport.set_defaults(handler=cmd_review_import)

    add_ledger_commands(commands)
    return parser


def _help_of(parser: argparse.ArgumentParser) -> Handler:
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler = getattr(args, "handler", _help_of(parser))
    try:
        return handler(args)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except LockfileError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except (OSError, sqlite3.Error, ValueError) as exc:
        return _fail(_describe(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, sqlite3.Error):
        return f"the cache cannot be read ({exc}); point --cache-dir at a verdict cache"
    return str(exc)


def _fail(message: str, code: int) -> int:
    # An error may quote a file's content (a label, a case id): keep it inert.
    print(f"{PROG}: error: {clean(message, keep_newlines=True)}", file=sys.stderr)
    return code


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        atomic_write(output, text)
        print(f"wrote {output}")


def _write_rows(stream: TextIO, rows: Sequence[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        stream.write(f"{name + ':':<{width}} {value}\n")
