"""What part of the selected evaluation a session ran, gathered from pytest.

The items selected per eval test (after ``-k``, ``--deselect``, node ids),
the items begun (each one's setup report, which reaches the xdist controller
from every worker), the cases evaluated (the records), and how the session
ended; :mod:`pytest_llmfunnel.completeness` judges what that means.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_llmfunnel.completeness import Completeness, DatasetCount, assess
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.pytest_glue.specs import UNIT_KEY


def select_shard(items: list[pytest.Item], config: pytest.Config, fs: FunnelSession) -> None:
    """Keep the eval items of ``--llm-funnel-shard=I/N``; deselect the other shards' cases.

    Items that are not eval cases stay: every shard runs them.
    """
    shard = fs.settings.shard
    if shard is None or not fs.settings.enabled:
        return
    # Start-up choice: the results models load only when the run is a shard.
    from pytest_llmfunnel.report.shard_entry import shard_of

    index, count = shard
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        info = item.stash.get(UNIT_KEY, None)
        mine = info is None or shard_of(info.spec.key, info.unit.case.id, count) == index
        (kept if mine else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def count_selected(items: list[pytest.Item], fs: FunnelSession) -> None:
    """Note how many items of each eval test this run selected (after -k, --deselect)."""
    counts: dict[str, int] = {}
    for item in items:
        info = item.stash.get(UNIT_KEY, None)
        if info is not None:
            counts[info.spec.key] = counts.get(info.spec.key, 0) + 1
    for key, meta in fs.spec_meta.items():
        fs.spec_meta[key] = replace(meta, selected=counts.get(key, 0))


def mark_setup_report(item: pytest.Item, report: pytest.TestReport) -> None:
    """Name the eval test on an eval item's setup report: the item began (see completeness)."""
    info = item.stash.get(UNIT_KEY, None)
    if info is not None:
        report.llm_funnel_dataset = info.spec.key  # type: ignore[attr-defined]


def completeness_of(session: pytest.Session, fs: FunnelSession) -> Completeness:
    """How much of the selected evaluation ran (see :mod:`pytest_llmfunnel.completeness`).

    The counts per eval test come from this process's collection, or from the
    xdist workers that handed theirs over; the items begun and the cases
    evaluated from the reports, which reach the controller from every worker.
    """
    if session.config.option.collectonly:
        return Completeness()  # nothing was meant to run
    evaluated: dict[str, int] = {}
    for record in fs.records:
        evaluated[record.dataset] = evaluated.get(record.dataset, 0) + 1
    names = sorted(set(evaluated) | {k for k, m in fs.spec_meta.items() if m.selected})
    counts = [
        DatasetCount(
            name, evaluated.get(name, 0),
            selected=fs.spec_meta[name].selected if name in fs.spec_meta else None,
            total=fs.spec_meta[name].units if name in fs.spec_meta else None,
            started=fs.results.started.get(name, 0),
        )
        for name in names
    ]
    reason = session.shouldfail or session.shouldstop or fs.interrupt_message
    return assess(
        counts, exit_code=int(session.exitstatus), stop_reason=str(reason) if reason else None,
        workers_lost=fs.bridge.workers_lost,
    )
