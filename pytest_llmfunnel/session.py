"""The session object behind the hooks: datasets, items, the batch, and results.

The funnel is a batch pipeline and pytest items are views onto its results.
When the test loop starts, the batch for every selected eval item starts on a
background event loop; each item waits only for its own case, so items report
while later cases are still being judged, and ``-x`` or Ctrl-C stop new cases
from starting. Under pytest-xdist each worker batches the chunk (an
``xdist_group``) an item belongs to when that chunk's first item comes up.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.backend import AnswerStore, JudgeBackend
from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.dataset import Dataset, load_dataset
from pytest_llmfunnel.funnel import Funnel, FunnelRunner, LoopThread, Unit
from pytest_llmfunnel.models import CaseResult
from pytest_llmfunnel.results import RunResult

ENABLE_HINT = "LLM eval: run pytest with --llm-funnel to evaluate this case"


@dataclass(frozen=True)
class EvalSpec:
    """One eval test function: its dataset and its funnel."""

    key: str  # the test function's node id without parameters
    dataset: Dataset
    funnel: Funnel


@dataclass(frozen=True)
class ItemInfo:
    spec: EvalSpec
    unit: Unit
    chunk: int


UNIT_KEY = pytest.StashKey[ItemInfo]()
RESULT_KEY = pytest.StashKey[CaseResult]()


class FunnelSession:
    """State of one pytest process: specs, pending results, backend and cache."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.worker_id = os.environ.get("PYTEST_XDIST_WORKER")
        self.worker_count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
        self._datasets: dict[tuple[Path, tuple[tuple[str, str], ...]], Dataset] = {}
        self.specs: dict[str, EvalSpec] = {}
        self.records: list[dict[str, Any]] = []
        self._results: dict[str, CaseResult] = {}
        self._started: set[tuple[str, int]] = set()
        self._cond = threading.Condition()
        self._failures: list[BaseException] = []
        self._loop: LoopThread | None = None
        self._backend: JudgeBackend | None = None
        self._store: AnswerStore | None = None
        self.stop_event = threading.Event()
        self.failure_message: str | None = None
        self.session: pytest.Session | None = None

    # -- collection ----------------------------------------------------------
    def dataset(self, path: Path, columns: dict[str, str] | None) -> Dataset:
        key = (path, tuple(sorted((columns or {}).items())))
        if key not in self._datasets:
            self._datasets[key] = load_dataset(path, columns=columns)
        return self._datasets[key]

    @property
    def distributed(self) -> bool:
        return self.worker_id is not None

    def chunk_size(self, n_cases: int) -> int:
        """Cases per xdist group: several chunks per worker so the load stays balanced."""
        workers = max(1, self.worker_count)
        return max(8, min(1000, math.ceil(n_cases / (workers * 4))))

    # -- running ---------------------------------------------------------------
    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    @property
    def backend(self) -> JudgeBackend:
        if self._backend is None:
            from pytest_llmfunnel.factory import make_backend

            self._backend = make_backend(self.settings, self.worker_count)
        return self._backend

    @property
    def store(self) -> AnswerStore:
        if self._store is None:
            from pytest_llmfunnel.factory import make_store

            self._store = make_store(self.settings)
        return self._store

    def start(self, items: Iterable[pytest.Item]) -> None:
        """Start the batch for the eval items among ``items`` that have not started yet."""
        groups: dict[str, tuple[EvalSpec, list[tuple[str, Unit]]]] = {}
        for item in items:
            info = item.stash.get(UNIT_KEY, None)
            if info is None or (info.spec.key, info.chunk) in self._started:
                continue
            entry = groups.setdefault(info.spec.key, (info.spec, []))
            entry[1].append((item.nodeid, info.unit))
        chunks = {
            (item.stash[UNIT_KEY].spec.key, item.stash[UNIT_KEY].chunk)
            for item in items
            if UNIT_KEY in item.stash
        }
        self._started |= chunks
        if groups:
            asyncio.run_coroutine_threadsafe(self._run_groups(list(groups.values())),
                                             self._loop_obj())

    def _loop_obj(self) -> asyncio.AbstractEventLoop:
        return self.loop._loop

    async def _run_groups(self, groups: list[tuple[EvalSpec, list[tuple[str, Unit]]]]) -> None:
        try:
            runner = FunnelRunner(
                backend=self.backend,
                store=self.store,
                concurrency=self.backend_concurrency,
                case_timeout=self.settings.case_timeout,
                stop_event=self.stop_event,
            )

            async def one(spec: EvalSpec, pairs: list[tuple[str, Unit]]) -> None:
                def publish(index: int, result: CaseResult) -> None:
                    self._publish(pairs[index][0], result)

                await runner.run(spec.funnel, [u for _, u in pairs], on_result=publish)

            await asyncio.gather(*(one(spec, pairs) for spec, pairs in groups))
        except BaseException as exc:  # surfaced to the waiting item, never swallowed
            with self._cond:
                self._failures.append(exc)
                self._cond.notify_all()
            raise

    @property
    def backend_concurrency(self) -> int:
        return max(1, self.settings.concurrency // max(1, self.worker_count))

    def _publish(self, nodeid: str, result: CaseResult) -> None:
        with self._cond:
            self._results[nodeid] = result
            self._cond.notify_all()

    def result_for(self, item: pytest.Item) -> CaseResult:
        """Wait for this item's case; start its chunk first if nothing started it."""
        info = item.stash[UNIT_KEY]
        if (info.spec.key, info.chunk) not in self._started:
            chunk_items = [
                i for i in item.session.items
                if UNIT_KEY in i.stash
                and i.stash[UNIT_KEY].spec.key == info.spec.key
                and i.stash[UNIT_KEY].chunk == info.chunk
            ]
            self.start(chunk_items)
        with self._cond:
            while item.nodeid not in self._results:
                if self._failures:
                    raise RuntimeError("the funnel batch failed") from self._failures[0]
                self._cond.wait(timeout=0.5)
            return self._results.pop(item.nodeid)

    def stop(self) -> None:
        """Start no new cases (``-x``, ``--maxfail``, Ctrl-C); finished verdicts stay cached."""
        self.stop_event.set()

    def close(self) -> None:
        self.stop()
        if self._loop is not None:
            self._loop.close()
        store = self._store
        close = getattr(store, "close", None)
        if callable(close):
            close()

    # -- results ---------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather each case's record where the summary is made (the controller under xdist)."""
        record = getattr(report, "llm_funnel", None)
        if record is not None and report.when == "call" and not self.distributed:
            self.records.append(record)
        session = self.session
        if session is not None and (session.shouldfail or session.shouldstop):
            self.stop()  # -x / --maxfail: start no new cases

    def run_result(self) -> RunResult:
        return RunResult.from_records(self.records)
