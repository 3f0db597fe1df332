"""The ``llmfunnel ledger`` commands: show the trend, record an online outcome, calibrate.

``cli.py`` only adds this group (:func:`add_ledger_commands`); the work is
here. A ledger line that cannot be read is named (file and line) on stderr
and skipped; a missing file or a bad argument is an error (exit 1 or 2).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

LEDGER_ENV = "LLM_FUNNEL_LEDGER"
PROG = "llmfunnel"


def add_ledger_commands(commands: Any) -> None:
    """Add the ``ledger`` group to the ``llmfunnel`` sub-command parsers."""
    ledger = commands.add_parser("ledger", help="the run ledger: trends, online outcomes, "
                                 "calibration against them")
    group = ledger.add_subparsers(title="ledger commands", metavar="ACTION", required=True)
    files_help = (f"ledger files to read and merge (default: ${LEDGER_ENV}); an entry in "
                  "several counts once")

    show = group.add_parser("show", help="each metric over commits, per eval test and variant")
    show.add_argument("files", nargs="*", type=Path, metavar="FILE", help=files_help)
    show.add_argument("--last", type=int, metavar="N", help="only the last N runs of each")
    show.add_argument("--variant", action="append", metavar="NAME",
                      help="only this variant (repeat for several)")
    show.set_defaults(handler=cmd_show)

    online = group.add_parser("record-online", help="append what an online A/B test found")
    online.add_argument("variant", metavar="VARIANT", help="the variant the experiment tried")
    online.add_argument("--experiment", required=True, metavar="ID",
                        help="the experiment's id or name")
    online.add_argument("--metric", required=True, metavar="NAME",
                        help="the online metric (conversion, retention, ...)")
    online.add_argument("--effect", required=True, type=float, metavar="X",
                        help="the measured effect, variant minus control")
    online.add_argument("--ci", nargs=2, type=float, metavar=("LO", "HI"),
                        help="the effect's confidence interval")
    online.add_argument("--decision", required=True, choices=("win", "loss", "flat"),
                        help="what the experiment concluded")
    online.add_argument("--test", metavar="EVAL_TEST",
                        help="the eval test the variant belongs to, if its name is not unique")
    online.add_argument("--control", metavar="VARIANT",
                        help="the variant it was compared against (offline differences are "
                        "then taken against it)")
    online.add_argument("--ledger", type=Path, metavar="PATH",
                        help=f"the ledger to append to (default: ${LEDGER_ENV})")
    online.set_defaults(handler=cmd_record_online)

    cal = group.add_parser("calibrate", help="how well the offline funnel predicted the "
                           "online experiments")
    cal.add_argument("files", nargs="*", type=Path, metavar="FILE", help=files_help)
    cal.set_defaults(handler=cmd_calibrate)


def default_files(files: Sequence[Path]) -> list[Path]:
    if files:
        return list(files)
    from_env = os.environ.get(LEDGER_ENV, "").strip()
    if not from_env:
        raise ValueError(f"no ledger file: name one, or set {LEDGER_ENV}")
    return [Path(from_env).expanduser()]


def _read(files: Sequence[Path]) -> Any:
    # Start-up choice: pydantic and the ledger models load only when a ledger is read.
    from pytest_llmfunnel.ledger.files import read_ledgers

    ledger = read_ledgers(default_files(files))
    for problem in ledger.problems:
        _warn(problem)
    return ledger


def cmd_show(args: argparse.Namespace) -> int:
    # Start-up choice: as in _read.
    from pytest_llmfunnel.ledger.trend import trend_lines

    if args.last is not None and args.last < 1:
        raise ValueError(f"--last={args.last}: give a number of runs of 1 or more")
    ledger = _read(args.files)
    runs = [r for r in ledger.runs if not args.variant or r.variant in args.variant]
    if not runs:
        _print(["no runs in the ledger" + (" of that variant" if args.variant else "")
                + ": run the evals with --llm-funnel-ledger PATH"])
        return 0
    _print(trend_lines(runs, last=args.last))
    return 0


def cmd_record_online(args: argparse.Namespace) -> int:
    # Start-up choice: as in _read.
    from pytest_llmfunnel.ledger.entries import OnlineEntry
    from pytest_llmfunnel.ledger.files import append_entries
    from pytest_llmfunnel.ledger.provenance import new_run_id, utc_now

    if args.ledger is None and not os.environ.get(LEDGER_ENV, "").strip():
        raise ValueError(f"no ledger to append to: pass --ledger PATH, or set {LEDGER_ENV}")
    path = args.ledger or default_files([])[0]
    low, high = args.ci if args.ci is not None else (None, None)
    numbers = [args.effect] + ([low, high] if args.ci is not None else [])
    if not all(math.isfinite(x) for x in numbers):
        raise ValueError("--effect and --ci take finite numbers")
    if low is not None and high is not None and not low <= args.effect <= high:
        raise ValueError(f"--ci {low:g} {high:g} does not hold the effect {args.effect:g}; "
                         "give the interval as LO HI around the effect")
    entry = OnlineEntry(
        run_id=new_run_id(), time=utc_now(), variant=args.variant, experiment=args.experiment,
        metric=args.metric, effect=args.effect, low=low, high=high, decision=args.decision,
        test=args.test, control=args.control,
    )
    append_entries(path, [entry])
    _print([f"recorded {args.decision} of {args.variant} in {args.experiment} "
            f"({args.metric} {args.effect:+g}) in {path}"])
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    # Start-up choice: as in _read.
    from pytest_llmfunnel.ledger.calibrate import calibrate, calibration_lines

    _print(calibration_lines(calibrate(_read(args.files))))
    return 0


def _print(lines: Iterable[str]) -> None:
    # Start-up choice: the escaping module loads with the first line printed.
    from pytest_llmfunnel.escape import clean

    for line in lines:
        sys.stdout.write(clean(line) + "\n")


def _warn(message: str) -> None:
    # Start-up choice: as in _print.
    from pytest_llmfunnel.escape import clean

    print(f"{PROG}: warning: {clean(message)}", file=sys.stderr)
