"""The session object behind the hooks: datasets, items, the batch, and results.

The funnel is a batch pipeline and pytest items are views onto its results.
When the test loop starts, the batch for every selected eval item starts on a
background event loop; each item waits only for its own case, so items report
while later cases are still being judged, and ``-x`` or Ctrl-C stop new cases
from starting. Under pytest-xdist each worker batches the chunk (an
``xdist_group``) an item belongs to when that chunk's first item comes up, and
sends its process-level counters (:class:`Tallies`) to the controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import threading
from collections.abc import Generator, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmfunnel.completeness import Completeness
from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.dataset.load import Dataset, load_dataset
from pytest_llmfunnel.endpoint.factory import (
    BudgetBackend,
    CountingStore,
    DryRunBackend,
    endpoint_report,
)
from pytest_llmfunnel.funnel.backend import AnswerStore, JudgeBackend
from pytest_llmfunnel.funnel.runner import Funnel, FunnelRunner, LoopThread, OutputRecorder, Unit
from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.models import CaseResult
from pytest_llmfunnel.record import RunResult, Tallies

if TYPE_CHECKING:
    from pytest_llmfunnel.gate.baseline_side import BaselineSide
    from pytest_llmfunnel.pytest_glue.end_of_run import Conclusion

ENABLE_HINT = "LLM eval: run pytest with --llm-funnel to evaluate this case"
DRY_RUN_HINT = "llm-funnel dry run: nothing was judged; the summary counts what would be sent"
WARM_PROBE = 0.5  # seconds an item waits for a first cache hit before streaming
WORKEROUTPUT_KEY = "llm_funnel"
SPECS_KEY = "llm_funnel_specs"  # each worker's eval tests (dataset, baseline file, case ids)
DIST_KEY = "llm_funnel_dist"  # set by the controller in each worker's workerinput
# Distribution modes that keep an xdist group (a chunk) on one worker.
WHOLE_CHUNK_DIST = ("loadgroup", "loadscope", "loadfile")


@dataclass(frozen=True)
class EvalSpec:
    """One eval test function: its dataset and its funnel."""

    key: str  # the test function's node id without parameters
    dataset: Dataset
    funnel: Funnel
    positions: dict[str, int] = field(default_factory=dict, compare=False)  # case id → index
    baseline_file: Path | None = None  # None: no gate for this eval test
    baseline: Baseline | None = field(default=None, compare=False)  # loaded, when it exists


@dataclass(frozen=True)
class ItemInfo:
    spec: EvalSpec
    unit: Unit
    chunk: int


UNIT_KEY = pytest.StashKey[ItemInfo]()


class FunnelSession:
    """State of one pytest process: specs, pending results, backend and cache."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        # xdist gives each worker's config a ``workerinput``; the environment
        # variables it also sets would leak into pytest runs nested in a worker.
        workerinput = getattr(config, "workerinput", None)
        self.worker_id: str | None = workerinput["workerid"] if workerinput else None
        self.worker_count = int(workerinput["workercount"]) if workerinput else 1
        # How the controller hands out items ("loadgroup", "loadscope", ...).
        self.controller_dist: str | None = workerinput.get(DIST_KEY) if workerinput else None
        self._datasets: dict[tuple[Path, tuple[tuple[str, str], ...]], Dataset] = {}
        self.specs: dict[str, EvalSpec] = {}
        self.single_variant: dict[str, str] = {}  # eval test → its one variant, not a parameter
        self.records: list[dict[str, Any]] = []
        # (node id, llm-failed or llm-error, record) per problem item: --lf and -r.
        self.problem_items: list[tuple[str, str, dict[str, Any]]] = []
        # Eval tests as the controller needs them: key → {"path", "baseline", "ids"}.
        self.spec_meta: dict[str, dict[str, Any]] = {}
        self._identities: dict[str, dict[str, str]] = {}
        self._scales: dict[str, dict[str, tuple[float, float]]] = {}
        self._run: tuple[int, RunResult] | None = None
        self._sides: dict[str, BaselineSide | None] = {}
        self.tallies = Tallies()
        self._results: dict[str, CaseResult] = {}
        # The running eval item's result (set in its setup, cleared after its
        # teardown): the llm_result fixture, enforce and decorate_report read it.
        self.current_result: CaseResult | None = None
        self._started: set[tuple[str, int]] = set()
        self._batches: dict[tuple[str, int], Future[None]] = {}  # (spec, chunk) → its batch
        self._cond = threading.Condition()
        self._failures: list[BaseException] = []
        self._loop: LoopThread | None = None
        self._backend: JudgeBackend | None = None
        self._store: AnswerStore | None = None
        self._outputs: OutputRecorder | None = None
        self._outputs_made = False
        self.stop_event = threading.Event()
        self.failure_message: str | None = None
        self.workers_lost = 0  # xdist workers that went down without handing over
        self.conclusion: Conclusion | None = None  # set on the controller at the end
        self.completeness = Completeness()  # how much of the selection ran (set at the end)
        self.started: dict[str, int] = {}  # eval test → its items begun (setup reports)
        self.interrupt_message: str | None = None  # why pytest.exit or xdist stopped the run
        self.session: pytest.Session | None = None
        self._frozen = False

    # -- the collector ---------------------------------------------------------
    def freeze(self) -> None:
        """Keep the collector off what collection made (see :mod:`.gc_freeze`)."""
        from pytest_llmfunnel.pytest_glue import gc_freeze as heap

        heap.freeze()
        self._frozen = True

    def thaw(self, *, nested: bool) -> None:
        """Undo :meth:`freeze` at pytest's shutdown (a config clean-up, see heap.thaw)."""
        if self._frozen:
            from pytest_llmfunnel.pytest_glue import gc_freeze as heap

            self._frozen = False
            heap.thaw(nested=nested)

    # -- collection ----------------------------------------------------------
    def dataset(self, path: Path, columns: dict[str, str] | None) -> Dataset:
        key = (path, tuple(sorted((columns or {}).items())))
        if key not in self._datasets:
            self._datasets[key] = load_dataset(path, columns=columns)
        return self._datasets[key]

    @property
    def distributed(self) -> bool:
        """True in an xdist worker (which reports to a controller)."""
        return self.worker_id is not None

    @property
    def chunks_stay_whole(self) -> bool:
        """Whether this process runs every item of a chunk it starts (else: item by item)."""
        return not self.distributed or self.controller_dist in WHOLE_CHUNK_DIST

    def chunk_size(self, n_cases: int) -> int:
        """Cases per xdist group: several chunks per worker so the load stays balanced."""
        workers = max(1, self.worker_count)
        return max(8, min(1000, math.ceil(n_cases / (workers * 2))))

    # -- backend and stores, made on first use ---------------------------------
    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    @property
    def backend(self) -> JudgeBackend:
        """The judge, wrapped for a dry run or a budget (each worker gets its share)."""
        if self._backend is None:
            from pytest_llmfunnel.endpoint.factory import make_backend

            backend = make_backend(self.settings, self.worker_count)
            if self.settings.dry_run:
                backend = DryRunBackend(backend)
            elif self.settings.budget is not None:
                share = self.settings.budget / max(1, self.worker_count)
                backend = BudgetBackend(
                    backend, share, self.settings.cost, self.backend_concurrency
                )
            self._backend = backend
        return self._backend

    @property
    def store(self) -> AnswerStore:
        if self._store is None:
            from pytest_llmfunnel.endpoint.factory import make_store

            self._store = make_store(self.settings)
        return self._store

    @property
    def outputs(self) -> OutputRecorder | None:
        if not self._outputs_made:
            from pytest_llmfunnel.endpoint.factory import make_output_store

            self._outputs = make_output_store(self.settings)
            self._outputs_made = True
        return self._outputs

    # -- running ---------------------------------------------------------------
    def start(self, items: Iterable[pytest.Item]) -> None:
        """Start the batch for the eval items among ``items`` that have not started yet."""
        groups: dict[str, tuple[EvalSpec, list[tuple[str, Unit]]]] = {}
        for item in items:
            info = item.stash.get(UNIT_KEY, None)
            if info is None or (info.spec.key, info.chunk) in self._started:
                continue
            entry = groups.setdefault(info.spec.key, (info.spec, []))
            entry[1].append((item.nodeid, info.unit))
        chunks = set()
        for item in items:
            info = item.stash.get(UNIT_KEY, None)
            if info is not None and (info.spec.key, info.chunk) not in self._started:
                chunks.add((info.spec.key, info.chunk))
        self._started.update(chunks)
        if groups:
            future = self.loop.submit(self._run_groups(list(groups.values())))
            self._batches.update(dict.fromkeys(chunks, future))

    def runner(
        self, spec: EvalSpec, *, counts_key: str | None = None, hooks: bool = True
    ) -> FunnelRunner:
        """A runner for one eval test, counting its cache hits and misses per stage.

        With ``hooks``, unchanged outputs reuse the baseline's verdicts and
        each case's stored output is evaluated beside it (see rebase).
        """
        counts = self.tallies.cache.setdefault(counts_key or spec.key, {})
        side = self.baseline_side(spec) if hooks else None
        runner = FunnelRunner(
            backend=self.backend,
            store=CountingStore(self.store, counts),
            concurrency=self.backend_concurrency,
            case_timeout=self.settings.case_timeout,
            stop_event=self.stop_event,
            outputs=self.outputs,
            call_targets=not self.settings.dry_run,
            explain_case=self.settings.explain_cache if hooks else None,
            explanations=self.tallies.explanations,
            reuse=side.reuse if side is not None else None,
            reuse_pair=side.reuse_pair if side is not None else None,
        )
        if side is not None and not (self.settings.update_baseline or self.settings.dry_run):
            # Its own counters: re-judging the baseline is not part of this run's funnel.
            other = self.runner(spec, counts_key=f"{spec.key} [baseline]", hooks=False)
            other.reuse_pair = functools.partial(side.reuse_pair, count=False)
            runner.after_case = side.after_case(other)
        return runner

    # -- the baseline side -------------------------------------------------------
    def identities(self, spec: EvalSpec) -> dict[str, str]:
        """Judge identity per judge stage of ``spec`` (computed once per process)."""
        if spec.key not in self._identities:
            from pytest_llmfunnel.gate.baseline_side import judge_identities

            self._identities[spec.key] = (
                judge_identities(spec.funnel, self.backend) if spec.funnel.stages else {}
            )
        return self._identities[spec.key]

    def scales(self, spec: EvalSpec) -> dict[str, tuple[float, float]]:
        """The score scale of each rubric judge of ``spec`` (computed once per process)."""
        if spec.key not in self._scales:
            from pytest_llmfunnel.gate.baseline_side import stage_scales

            self._scales[spec.key] = stage_scales(spec.funnel)
        return self._scales[spec.key]

    def baseline_side(self, spec: EvalSpec) -> BaselineSide | None:
        """``spec``'s stored baseline as the funnel uses it (None without one)."""
        if spec.key not in self._sides:
            side = None
            if spec.baseline is not None:
                from pytest_llmfunnel.gate.baseline_side import BaselineSide

                counts = self.tallies.cache.setdefault(spec.key, {})
                side = BaselineSide(spec.funnel, spec.baseline, self.identities(spec), counts)
            self._sides[spec.key] = side
        return self._sides[spec.key]

    def rebased(self, spec: EvalSpec, unit: Unit) -> CaseResult | None:
        """The baseline's re-evaluated result for ``unit`` (handed out once)."""
        side = self._sides.get(spec.key)
        return None if side is None else side.rebased.pop((unit.case.id, unit.variant), None)

    async def _run_groups(self, groups: list[tuple[EvalSpec, list[tuple[str, Unit]]]]) -> None:
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
        if not self.chunks_stay_whole:
            # worksteal/each may run a chunk's items anywhere: batch only this one.
            self.loop.submit(self._run_groups([(info.spec, [(item.nodeid, info.unit)])]))
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

    def stop(self) -> None:
        """Start no new cases or requests (``-x``, ``--maxfail``, Ctrl-C); keep what is done."""
        self.stop_event.set()
        stop = getattr(self._backend, "stop", None)
        if callable(stop):
            stop()

    def close(self) -> None:
        """Stop, close the HTTP pool on its own loop, then the loop and the stores."""
        self.stop()
        aclose = getattr(self._backend, "aclose", None)
        if self._loop is not None:
            if callable(aclose):
                with contextlib.suppress(Exception):
                    self.loop.submit(aclose()).result(timeout=5)
            self._loop.close()
        for store in (self._store, self._outputs):
            close = getattr(store, "close", None)
            if callable(close):
                close()

    # -- results ---------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather each case's record where the summary is made (the controller under xdist)."""
        if self.distributed:
            return
        if report.when == "setup":
            key = getattr(report, "llm_funnel_dataset", None)
            if key is not None:
                self.started[key] = self.started.get(key, 0) + 1
            return
        record = getattr(report, "llm_funnel", None)
        if record is not None and report.when == "call":
            self.records.append(record)
            status = getattr(report, "llm_funnel_status", "ok")
            if status != "ok":
                self.problem_items.append((report.nodeid, status, record))

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
            and self.chunks_stay_whole
            and self.settings.enabled
            and not self.stop_event.is_set()
        ):
            # An xdist worker learns its chunks one item ahead: starting the next
            # chunk now keeps the judge busy while this chunk's last cases finish.
            self.start_chunk_of(nextitem)
        try:
            return (yield)
        finally:
            if item.session.shouldfail or item.session.shouldstop:
                self.stop()

    def collect_tallies(self) -> None:
        """Copy the wrappers' counters into :attr:`tallies` (once, at the end)."""
        backend = self._backend
        if isinstance(backend, DryRunBackend):
            self.tallies.dry_run.update(
                requests=backend.requests,
                prompt_tokens=backend.prompt_tokens,
                completion_tokens=backend.completion_tokens,
            )
        if isinstance(backend, BudgetBackend):
            self.tallies.budget_spent = backend.spent
            self.tallies.budget_refused = backend.refused
        if self.settings.export_lockfile is not None:
            self.tallies.verdict_keys.update(getattr(self._store, "keys_seen", ()))
        down = endpoint_report(backend)  # why the judge endpoint was given up, if it was
        if down is not None:
            self.tallies.merge({"endpoint_down": down["reasons"], "not_sent": down["not_sent"],
                                "endpoint_errors": down.get("errors", {}),
                                "endpoint_notices": down.get("notes", [])})

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """On the controller: add a finished worker's counters (a crashed one sends none)."""
        if error is not None:
            self.workers_lost += 1
        output = getattr(node, "workeroutput", {})
        data = output.get(WORKEROUTPUT_KEY)
        if data:
            self.tallies.merge(data)
        for key, meta in (output.get(SPECS_KEY) or {}).items():
            self.spec_meta.setdefault(key, meta)

    def send_tallies(self) -> None:
        """On an xdist worker: hand the counters and the eval tests to the controller."""
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKEROUTPUT_KEY] = self.tallies.to_json()
            workeroutput[SPECS_KEY] = self.spec_meta

    def run_result(self) -> RunResult:
        """The funnel counts of :attr:`records`, built once per set of records.

        Records are only appended to (or put in order, see
        :func:`pytest_llmfunnel.pytest_glue.end_of_run.order_records`, which forgets this).
        """
        if self._run is None or self._run[0] != len(self.records):
            self._run = (len(self.records), RunResult.from_records(self.records))
        return self._run[1]

    def forget_run_result(self) -> None:
        """Drop the cached counts (after the records were reordered)."""
        self._run = None
