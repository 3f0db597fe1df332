"""The batch scheduler: runs the funnel for the collected eval items, chunk by chunk.

The funnel is a batch pipeline and pytest items are views onto its results.
When the test loop starts, the batch for every selected eval item starts on a
background event loop; each item waits only for its own case, so items report
while later cases are still being judged, and ``-x`` or Ctrl-C stop new cases
from starting. Under pytest-xdist a worker batches the chunk (an
``xdist_group``) an item belongs to when that chunk's first item comes up.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.endpoint.backoff import backoff_delay
from pytest_llmfunnel.endpoint.factory import CountingStore
from pytest_llmfunnel.funnel.runner import FunnelRunner, Unit
from pytest_llmfunnel.funnel.target import TargetCaller, TargetPolicy
from pytest_llmfunnel.models import CaseResult
from pytest_llmfunnel.pytest_glue.backends import BackendLifetime
from pytest_llmfunnel.pytest_glue.rejudge import BaselineRejudging
from pytest_llmfunnel.pytest_glue.specs import UNIT_KEY, EvalSpec
from pytest_llmfunnel.tallies import Tallies

WARM_PROBE = 0.5  # seconds an item waits for a first cache hit before streaming
TARGET_BACKOFF = (0.5, 8.0)  # seconds: base and cap of the waits between target tries
Group = tuple[EvalSpec, list[tuple[str, Unit]]]  # an eval test and (node id, unit) pairs


class BatchScheduler:
    """Starts batches of cases, and hands each item its case's result when it is ready."""

    def __init__(
        self,
        settings: Settings,
        backends: BackendLifetime,
        rejudging: BaselineRejudging,
        tallies: Tallies,
        *,
        chunks_stay_whole: bool,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.rejudging = rejudging
        self.tallies = tallies
        self.chunks_stay_whole = chunks_stay_whole
        self.stop_event = threading.Event()
        self._started: set[tuple[str, int]] = set()
        self._batches: dict[tuple[str, int], Future[None]] = {}  # (spec, chunk) → its batch
        self._results: dict[str, CaseResult] = {}
        self._cond = threading.Condition()
        self._failures: list[BaseException] = []
        # The target's own policy, apart from the judge's: the judge client's
        # jittered backoff between tries, one concurrency limit per funnel.
        self.target_policy = TargetPolicy(
            timeout=settings.case_timeout,
            retries=settings.target_retries,
            concurrency=settings.target_concurrency,
            delay=functools.partial(backoff_delay, base=TARGET_BACKOFF[0], cap=TARGET_BACKOFF[1]),
        )
        self.target_callers: dict[int, TargetCaller] = {}

    def start(self, items: Iterable[pytest.Item]) -> None:
        """Start the batch for the eval items among ``items`` that have not started yet."""
        groups: dict[str, Group] = {}
        chunks = set()
        for item in items:
            info = item.stash.get(UNIT_KEY, None)
            if info is None or (info.spec.key, info.chunk) in self._started:
                continue
            entry = groups.setdefault(info.spec.key, (info.spec, []))
            entry[1].append((item.nodeid, info.unit))
            chunks.add((info.spec.key, info.chunk))
        self._started.update(chunks)
        if groups:
            future = self.backends.loop.submit(self._run_groups(list(groups.values())))
            self._batches.update(dict.fromkeys(chunks, future))

    def start_chunk_of(self, item: pytest.Item) -> None:
        """Start the batch of ``item``'s chunk (every selected item in it), unless started."""
        info = item.stash.get(UNIT_KEY, None)
        if info is None or (info.spec.key, info.chunk) in self._started:
            return
        chunk_items = [
            i
            for i in item.session.items
            if UNIT_KEY in i.stash
            and i.stash[UNIT_KEY].spec.key == info.spec.key
            and i.stash[UNIT_KEY].chunk == info.chunk
        ]
        self.start(chunk_items)

    def runner(
        self, spec: EvalSpec, *, counts_key: str | None = None, hooks: bool = True
    ) -> FunnelRunner:
        """A runner for one eval test, counting its cache hits and misses per stage.

        With ``hooks``, unchanged outputs reuse the baseline's verdicts and
        each case's stored output is evaluated beside it (see rejudge).
        """
        counts = self.tallies.cache.setdefault(counts_key or spec.key, {})
        side = self.rejudging.side(spec) if hooks else None
        runner = FunnelRunner(
            backend=self.backends.backend,
            store=CountingStore(self.backends.store, counts),
            concurrency=self.backends.peak_concurrency,  # cases in flight may follow the limit
            case_timeout=self.settings.case_timeout,
            target_policy=self.target_policy,
            target_callers=self.target_callers,
            stop_event=self.stop_event,
            outputs=self.backends.outputs,
            call_targets=not self.settings.dry_run,
            explain_case=self.settings.explain_cache if hooks else None,
            explanations=self.tallies.explanations,
            reuse=side.reuse if side is not None else None,
            reuse_pair=side.reuse_pair if side is not None else None,
            reuse_repeats=side.reuse_repeats if side is not None else None,
        )
        if side is not None and not (self.settings.update_baseline or self.settings.dry_run):
            # Its own counters: re-judging the baseline is not part of this run's funnel.
            other = self.runner(spec, counts_key=f"{spec.key} [baseline]", hooks=False)
            other.reuse_pair = functools.partial(side.reuse_pair, count=False)
            runner.after_case = side.after_case(other)
        return runner

    async def _run_groups(self, groups: list[Group]) -> None:
        try:

            async def one(spec: EvalSpec, pairs: list[tuple[str, Unit]]) -> None:
                def publish(index: int, result: CaseResult) -> None:
                    self._publish(pairs[index][0], result)

                await self.runner(spec).run(spec.funnel, [u for _, u in pairs], on_result=publish)

            # Every group's exception is kept (gather would leave all but the
            # first unretrieved, logged when the task is collected): requests
            # in flight when the run stops fail once the HTTP pool is closed.
            outcomes = await asyncio.gather(
                *(one(spec, pairs) for spec, pairs in groups), return_exceptions=True
            )
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            if errors:
                raise errors[0]
        except BaseException as exc:  # surfaced to the waiting item, never swallowed
            with self._cond:
                self._failures.append(exc)
                self._cond.notify_all()
            raise

    def _publish(self, nodeid: str, result: CaseResult) -> None:
        with self._cond:
            self._results[nodeid] = result
            self._cond.notify_all()

    def result_for(self, item: pytest.Item) -> CaseResult:
        """Wait for this item's case; start its chunk first if nothing started it."""
        info = item.stash[UNIT_KEY]
        if not self.chunks_stay_whole:
            # worksteal/each may run a chunk's items anywhere: batch only this one.
            self.backends.loop.submit(self._run_groups([(info.spec, [(item.nodeid, info.unit)])]))
        else:
            self.start_chunk_of(item)
            self._wait_while_cached(self._batches.get((info.spec.key, info.chunk)))
        with self._cond:
            while item.nodeid not in self._results:
                if self._failures:
                    raise RuntimeError("the funnel batch failed") from self._failures[0]
                self._cond.wait(timeout=0.5)
            return self._results.pop(item.nodeid)

    def _wait_while_cached(self, batch: Future[None] | None) -> None:
        """Let a batch answered from the cache finish before items run beside it.

        Items and the batch share the GIL: running them side by side costs a
        warm run about twice the batch's CPU time. While every judge lookup so
        far hit the cache, the first item waits for its batch to end; once a
        request goes out (a cold run), or nothing was looked up for a while
        (slow targets), items stream as their cases finish.
        """
        waited = 0.0
        while batch is not None and not batch.done():
            hits = misses = 0
            for stages in self.tallies.cache.values():
                for counts in list(stages.values()):
                    hits += counts.get("hits", 0)
                    misses += counts.get("misses", 0)
            if misses or (not hits and waited >= WARM_PROBE):
                return
            try:
                batch.result(timeout=0.02)
            except FutureTimeout:
                waited += 0.02
            except Exception:  # the wait below reports a failed batch; Ctrl-C still stops
                return

    def stop(self) -> None:
        """Start no new cases or requests (``-x``, ``--maxfail``, Ctrl-C); keep what is done."""
        self.stop_event.set()
        self.backends.stop()
