"""The run ledger and MLflow at the end of a session, and the ledger's report section.

Only the controller writes (workers hand their records over first), once per
run, after the gate: one atomic append of every eval test and variant's line
(:mod:`pytest_llmfunnel.ledger.files`). A run that did not finish appends
nothing, as its numbers would describe part of a selection. A ledger or
MLflow that cannot be written fails the session with the reason, as a
configured record that silently stops being kept would mislead later.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.display import shown_path as display_path
from pytest_llmfunnel.ledger.build import Decided, RunFacts, run_entries
from pytest_llmfunnel.ledger.entries import LedgerError, RunEntry
from pytest_llmfunnel.ledger.files import append_entries, read_ledgers
from pytest_llmfunnel.ledger.provenance import commit_and_branch, new_run_id, utc_now
from pytest_llmfunnel.ledger.trend import section_text
from pytest_llmfunnel.pytest_glue.paths import shown_path
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.report.conclusion import Conclusion

STARTED = pytest.StashKey[float]()
SECTION_RUNS = 8  # runs per metric in the report section, this one included
SECTION_TITLE = "Run ledger: the last runs of the gated metrics"


def note_start(config: pytest.Config) -> None:
    """Remember when the session started, for the ledger's duration."""
    config.stash[STARTED] = time.monotonic()


def ledger_sections(
    config: pytest.Config, settings: Settings, records: Sequence[CaseRecord]
) -> list[tuple[str, str]]:
    """The report section: the ledger's last runs and this one, per gated metric."""
    path = settings.ledger
    if path is None or not records:
        return []
    # Damaged lines are named by the path as the user gave it, not the machine's.
    shown = display_path(path, config.rootpath)
    current = run_entries(records, RunFacts("", "", None, None, 0.0), Decided())
    problems: list[str] = []
    history: list[RunEntry] = []
    if path.exists():
        try:
            ledger = read_ledgers([path])
        except (OSError, LedgerError) as exc:
            text = str(exc).replace(str(path), shown)
            return [(SECTION_TITLE, f"the ledger could not be read: {text}")]
        history = ledger.runs
        problems = [p.replace(str(path), shown, 1) for p in ledger.problems]
    text = section_text(history, current, SECTION_RUNS)
    return [(SECTION_TITLE, "\n".join([text, *problems]).strip())]


def log_run(session: pytest.Session, fs: FunnelSession, out: Conclusion) -> None:
    """Append this run to the ledger and log it to MLflow, as the settings ask."""
    settings = fs.settings
    if not fs.records:
        return
    if fs.completeness.status == "incomplete":
        out.notes.append("run ledger not appended: the run did not finish")
        return
    started = session.config.stash.get(STARTED, time.monotonic())
    commit, branch = commit_and_branch(session.config.rootpath)
    facts = RunFacts(new_run_id(), utc_now(), commit, branch, time.monotonic() - started)
    gate = out.gate
    decided = Decided(
        decisions=gate.decisions if gate else (),
        missing_baselines=gate.missing_baselines if gate else (),
        gated=gate is not None, rankings=out.rankings,
    )
    entries = run_entries(fs.records, facts, decided, settings.cost)
    if settings.ledger is not None:
        shown = shown_path(str(settings.ledger), fs)
        try:
            append_entries(settings.ledger, entries)
        except OSError as exc:
            out.failures.append(f"llm-funnel: cannot append to the run ledger {shown}: {exc}")
        else:
            out.notes.append(
                f"run ledger: {len(entries)} line{'' if len(entries) == 1 else 's'} appended "
                f"to {shown}"
            )
    if settings.mlflow:
        failed = session.exitstatus != pytest.ExitCode.OK or bool(out.failure)
        to_mlflow(fs, out, entries, failed=failed)


def to_mlflow(
    fs: FunnelSession, out: Conclusion, entries: Sequence[RunEntry], *, failed: bool
) -> None:
    # Start-up choice: the MLflow bridge loads only when MLflow logging is on.
    from pytest_llmfunnel.ledger.mlflow_log import log_run as log_to_mlflow

    settings = fs.settings
    try:
        run_id = log_to_mlflow(
            entries, tracking_uri=settings.mlflow_tracking_uri,
            experiment=settings.mlflow_experiment, report=report_text(fs, out), failed=failed,
        )
    except Exception as exc:  # any MLflow or network error: the run says so and fails
        out.failures.append(f"llm-funnel: cannot log the run to MLflow: {type(exc).__name__}: "
                            f"{str(exc)[:300]}")
        return
    out.notes.append(f"MLflow: run {run_id} logged to experiment {settings.mlflow_experiment}")


def report_text(fs: FunnelSession, out: Conclusion) -> str:
    """The Markdown report: the file this run wrote, else rendered as it would be."""
    if fs.settings.report is not None and Path(fs.settings.report).is_file():
        return Path(fs.settings.report).read_text(encoding="utf-8")
    # Start-up choice: the report renderer loads only when MLflow needs the report.
    from pytest_llmfunnel.pytest_glue.run_files import markdown, verdict_label

    gate = out.gate
    decisions = gate.decisions if gate else ()
    flips = [f for d in gate.datasets for f in d.flips] if gate else []
    missing = gate.missing_baselines if gate else ()
    return markdown(fs, out, decisions, flips, missing, verdict_label(fs))
