"""``llmfunnel gate SHARD.json…``: its arguments and what it prints, writes and returns.

Kept apart from the other commands of :mod:`pytest_llmfunnel.cli`, which only
adds it; the merge and the renderers load when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.escape import clean

EXIT_MISMATCH = 2  # shards that do not belong together: the files given are wrong

DESCRIPTION = (
    "Merge the --llm-funnel-json files of the shards of one CI run (pytest --llm-funnel "
    "--llm-funnel-shard=I/N) and gate them as one run: one Holm-adjusted decision over "
    "every gated metric of every shard, the verdict printed as the run prints it, the merged "
    "JSON results and the pull-request report written. Run it from the project's root on "
    "the commit the shards ran on: it reads the baseline files. Exit status: 0 passed; 1 a "
    "regression, a missing baseline, too many errors, failed tests, an incomplete merge (a "
    "shard missing or unfinished) or a file that cannot be read; 2 shards that do not "
    "belong together (of different runs, splits or settings, or one given twice)."
)


def add_gate_command(commands: Any) -> None:
    """Add ``gate`` to the ``llmfunnel`` subcommands (``commands``: argparse's subparsers)."""
    gate: argparse.ArgumentParser = commands.add_parser(
        "gate", help="merge the JSON results of a run's CI shards into one gate decision",
        description=DESCRIPTION,
    )
    gate.add_argument("shards", type=Path, nargs="+", metavar="SHARD.json",
                      help="each shard's --llm-funnel-json file (e.g. shard-*.json)")
    gate.add_argument("--json", type=Path, metavar="PATH",
                      help="write the merged JSON results here")
    gate.add_argument("--report", type=Path, metavar="PATH",
                      help="write the pull-request report (Markdown) here; under GitHub "
                      "Actions it is also added to the job summary")
    gate.add_argument("--rootdir", type=Path, metavar="DIR",
                      help="the project's root, where pytest ran (default: here)")
    gate.add_argument("--width", type=int, metavar="COLUMNS",
                      help="wrap the printed verdict to this width (default: the terminal's)")
    gate.set_defaults(handler=run_gate)


def run_gate(args: argparse.Namespace) -> int:
    """Merge, print the verdict, write the files; the exit status of the unsharded run."""
    # Start-up choice: the merge loads the gate's statistics and the renderers.
    from pytest_llmfunnel.report.results_json import write_results
    from pytest_llmfunnel.report.terminal_text import render_text
    from pytest_llmfunnel.shards.combine import ShardMismatch
    from pytest_llmfunnel.shards.decide import merge

    try:
        merged = merge(args.shards, rootdir=args.rootdir or Path.cwd())
    except ShardMismatch as exc:
        print(f"llmfunnel: error: {clean(str(exc), keep_newlines=True)}", file=sys.stderr)
        return EXIT_MISMATCH
    sys.stdout.write(render_text(merged.document, width=args.width))
    for line in [*merged.failures, *merged.notes]:
        print(clean(line, keep_newlines=True))
    if args.json is not None:
        write_results(merged.document, args.json)
        print(f"JSON results written: {args.json}")
    if args.report is not None:
        atomic_write(args.report, merged.report)
        print(f"report written: {args.report}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if summary:
        with Path(summary).open("a", encoding="utf-8") as handle:
            handle.write(merged.report + "\n")
    return merged.exit_code
