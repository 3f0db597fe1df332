"""Where each case's record is kept: on the controller (or the single process).

Records arrive on the call reports (from every xdist worker); the items begun
arrive on the setup reports. The funnel counts are built from the records once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

from pytest_llmfunnel.record import CaseRecord, RunResult

if TYPE_CHECKING:
    from pytest_llmfunnel.pytest_glue.specs import EvalTestInfo


class ResultStore:
    """The records of this run, the problem items, and the items begun per eval test."""

    def __init__(self) -> None:
        self.records: list[CaseRecord] = []
        # (node id, llm-failed or llm-error, record) per problem item: --lf and -r.
        self.problem_items: list[tuple[str, str, CaseRecord]] = []
        self.started: dict[str, int] = {}  # eval test → its items begun (setup reports)
        self._run: tuple[int, RunResult] | None = None

    def add_report(self, report: pytest.TestReport) -> None:
        """Keep what an eval item's setup or call report carries."""
        if report.when == "setup":
            key = getattr(report, "llm_funnel_dataset", None)
            if key is not None:
                self.started[key] = self.started.get(key, 0) + 1
            return
        record = getattr(report, "llm_funnel", None)
        if record is not None and report.when == "call":
            if not isinstance(record, CaseRecord):  # a worker's, in its wire form
                record = CaseRecord.from_json(record)
            self.records.append(record)
            status = getattr(report, "llm_funnel_status", "ok")
            if status != "ok":
                self.problem_items.append((report.nodeid, status, record))

    def run_result(self) -> RunResult:
        """The funnel counts of :attr:`records`, built once per set of records.

        Records are only appended to, or put in order by :meth:`order` (which
        forgets the counts).
        """
        if self._run is None or self._run[0] != len(self.records):
            self._run = (len(self.records), RunResult.from_records(self.records))
        return self._run[1]

    def order(self, spec_meta: Mapping[str, EvalTestInfo]) -> None:
        """Records in dataset order, whatever order xdist workers reported them in."""
        positions: dict[str, dict[str, int]] = {}
        for name, meta in spec_meta.items():
            positions[name] = {case: i for i, case in enumerate(meta.ids)}

        def place(record: CaseRecord) -> tuple[str, int, str]:
            where = positions.get(record.dataset, {})
            return record.dataset, where.get(record.case, len(where)), record.variant

        self.records.sort(key=place)
        self._run = None
