"""The session object behind the hooks: it wires the parts of one pytest process.

Each part has one job: :class:`EvalTests` (what collection found),
:class:`XdistBridge` (workers and controller), :class:`BackendLifetime` (the
judge backend, the stores and the loop), :class:`BaselineRejudging` (the
baseline side of each eval test), :class:`BatchScheduler` (runs the funnel
for the selected items) and :class:`ResultStore` (each case's record). The
session keeps them, the running item's result and the end's conclusion, and
answers the pytest hooks it is registered for.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.models import CaseResult
from pytest_llmfunnel.pytest_glue import gc_freeze as heap
from pytest_llmfunnel.pytest_glue.backends import BackendLifetime
from pytest_llmfunnel.pytest_glue.rejudge import BaselineRejudging
from pytest_llmfunnel.pytest_glue.results import ResultStore
from pytest_llmfunnel.pytest_glue.scheduler import BatchScheduler
from pytest_llmfunnel.pytest_glue.specs import EvalSpec, EvalTestInfo, EvalTests
from pytest_llmfunnel.pytest_glue.xdist_bridge import XdistBridge
from pytest_llmfunnel.record import CaseRecord, RunResult
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.tallies import Tallies


class FunnelSession:
    """One pytest process: its parts, the running item's result, and the conclusion."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.bridge = XdistBridge(config)
        self.tests = EvalTests()
        self.tallies = Tallies()
        self.backends = BackendLifetime(config, settings, self.bridge.worker_count)
        self.rejudging = BaselineRejudging(lambda: self.backends.backend, self.tallies)
        self.scheduler = BatchScheduler(
            settings, self.backends, self.rejudging, self.tallies,
            chunks_stay_whole=self.bridge.chunks_stay_whole,
        )
        self.results = ResultStore()
        # The running eval item's result (set in its setup, cleared after its
        # teardown): the llm_result fixture, enforce and decorate_report read it.
        self.current_result: CaseResult | None = None
        self.failure_message: str | None = None
        self.conclusion: Conclusion | None = None  # set on the controller at the end
        self.completeness = Completeness()  # how much of the selection ran (set at the end)
        self.interrupt_message: str | None = None  # why pytest.exit or xdist stopped the run
        self.pytest_status = 0  # pytest's exit status before the funnel's (a shard's file has it)
        self._frozen = False

    # -- what the end of the run and the reports read ----------------------------
    @property
    def distributed(self) -> bool:
        """True in an xdist worker (which reports to a controller)."""
        return self.bridge.distributed

    @property
    def specs(self) -> dict[str, EvalSpec]:
        return self.tests.specs

    @property
    def spec_meta(self) -> dict[str, EvalTestInfo]:
        return self.tests.meta

    @property
    def records(self) -> list[CaseRecord]:
        return self.results.records

    @property
    def problem_items(self) -> list[tuple[str, str, CaseRecord]]:
        return self.results.problem_items

    def run_result(self) -> RunResult:
        """The funnel counts of this run's records (see :meth:`ResultStore.run_result`)."""
        return self.results.run_result()

    # -- the collector ---------------------------------------------------------
    def freeze(self) -> None:
        """Keep the collector off what collection made (see :mod:`.gc_freeze`)."""
        heap.freeze()
        self._frozen = True

    def thaw(self, *, nested: bool) -> None:
        """Undo :meth:`freeze` at pytest's shutdown (a config clean-up, see heap.thaw)."""
        if self._frozen:
            self._frozen = False
            heap.thaw(nested=nested, worker=self.distributed)

    # -- the run ---------------------------------------------------------------
    def stop(self) -> None:
        """Start no new cases or requests (``-x``, ``--maxfail``, Ctrl-C); keep what is done."""
        self.scheduler.stop()

    def close(self) -> None:
        """Stop, then close the backend, the loop and the stores."""
        self.scheduler.stop()
        self.backends.close()

    # -- hooks this object is registered for --------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather each case's record where the summary is made (the controller under xdist)."""
        if not self.distributed:
            self.results.add_report(report)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Keep why the run stopped: pytest.exit's reason, xdist's "stopping after ..."."""
        self.interrupt_message = str(excinfo.value) or None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        """Start the next item's chunk early; after each item, stop on -x / --maxfail."""
        if (
            nextitem is not None
            and self.distributed
            and self.bridge.chunks_stay_whole
            and self.settings.enabled
            and not self.scheduler.stop_event.is_set()
        ):
            # An xdist worker learns its chunks one item ahead: starting the next
            # chunk now keeps the judge busy while this chunk's last cases finish.
            self.scheduler.start_chunk_of(nextitem)
        try:
            return (yield)
        finally:
            if item.session.shouldfail or item.session.shouldstop:
                self.stop()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """On the controller: add a finished worker's counters (a crashed one sends none)."""
        self.bridge.receive(node, error, self.tallies, self.tests.meta)
