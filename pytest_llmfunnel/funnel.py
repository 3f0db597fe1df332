"""The funnel: stages in order over a batch of cases, with bounded concurrency.

Checks and scorers are free and run inline; a gating stage that fails (or
cannot decide) stops the case there, so only the promoted slice reaches the
paid judges. Judge calls are I/O-bound, so cases run concurrently on one
asyncio loop; the judge backend enforces the request limit.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pytest_llmfunnel.backend import AnswerStore, JudgeBackend, NullStore
from pytest_llmfunnel.models import Case, CaseResult, StageResult
from pytest_llmfunnel.stages.base import Check, Scorer
from pytest_llmfunnel.stages.judge import RubricJudge, run_judge

T = TypeVar("T")
Target = Callable[[Case], str | Awaitable[str]]
Stage = Check | Scorer | RubricJudge


class Funnel:
    """The stages of one dataset, in order, and where outputs come from.

    ``target`` is a callable (sync or async) taking a :class:`Case` and returning
    the output; without one, the dataset's pre-logged outputs are evaluated (one
    variant per ``output`` / ``output_<name>`` column).
    """

    def __init__(
        self,
        *stages: Stage,
        target: Target | None = None,
        target_version: str | None = None,
        name: str | None = None,
    ) -> None:
        for stage in stages:
            if not isinstance(stage, (Check, Scorer, RubricJudge)):
                raise TypeError(
                    f"Funnel stages must be checks, scorers or judges; got {stage!r}. "
                    "Wrap a plain function with checks.check(fn) or scorers.scorer(fn)."
                )
        names = [s.name for s in stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Funnel stage names must be unique; {', '.join(duplicates)} appear more "
                "than once. Pass name=... to tell them apart."
            )
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.target = target
        self.target_version = target_version
        self.name = name

    @property
    def judges(self) -> tuple[RubricJudge, ...]:
        return tuple(s for s in self.stages if isinstance(s, RubricJudge))

    def __repr__(self) -> str:
        inner = ", ".join(s.name for s in self.stages)
        return f"Funnel({inner})"


@dataclass(frozen=True)
class Unit:
    """One case and the variant of its output to evaluate."""

    case: Case
    variant: str


@dataclass
class FunnelRunner:
    """Runs funnels over units on the current event loop."""

    backend: JudgeBackend
    store: AnswerStore = field(default_factory=NullStore)
    concurrency: int = 16
    case_timeout: float = 120.0
    parse_retries: int = 2
    progress: Callable[[int, int], None] | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    async def run(
        self,
        funnel: Funnel,
        units: Sequence[Unit],
        on_result: Callable[[int, CaseResult], None] | None = None,
    ) -> list[CaseResult]:
        """Evaluate every unit; results come back in the order of ``units``.

        ``on_result(index, result)`` is called as each case finishes, so a caller
        can hand results out while later cases are still running.
        """
        results: list[CaseResult | None] = [None] * len(units)
        indexes = iter(range(len(units)))
        done = 0
        # Enough cases in flight to keep the judge limit busy while others run checks.
        workers = max(1, min(len(units), self.concurrency * 2))

        async def worker() -> None:
            nonlocal done
            for index in indexes:
                if self.stop_event.is_set():
                    return
                unit = units[index]
                results[index] = result = await self.run_one(funnel, unit)
                if on_result is not None:
                    on_result(index, result)
                done += 1
                if self.progress is not None:
                    self.progress(done, len(units))

        await asyncio.gather(*(worker() for _ in range(workers)))
        final = []
        for index, (r, u) in enumerate(zip(results, units, strict=True)):
            if r is None:
                r = _not_run(u, "stopped before this case ran")
                if on_result is not None:
                    on_result(index, r)
            final.append(r)
        return final

    async def run_one(self, funnel: Funnel, unit: Unit) -> CaseResult:
        case = unit.case
        try:
            output = await self._output(funnel, unit)
        except asyncio.TimeoutError:
            return _not_run(unit, f"target timed out after {self.case_timeout:g} s")
        except Exception as exc:
            return _not_run(unit, f"target raised {type(exc).__name__}: {exc}")
        stage_results: list[StageResult] = []
        dropped_at: str | None = None
        for stage in funnel.stages:
            if isinstance(stage, RubricJudge):
                result = await run_judge(
                    stage,
                    case,
                    output,
                    backend=self.backend,
                    store=self.store,
                    parse_retries=self.parse_retries,
                )
            else:
                result = stage.run(case, output)
            stage_results.append(result)
            if result.gating and result.status in ("failed", "error"):
                dropped_at = stage.name
                break
        return CaseResult(
            case_id=case.id,
            variant=unit.variant,
            output=output,
            stages=tuple(stage_results),
            promoted=dropped_at is None,
            dropped_at=dropped_at,
        )

    async def _output(self, funnel: Funnel, unit: Unit) -> str:
        target = funnel.target
        if target is None:
            output = unit.case.outputs.get(unit.variant)
            if output is None:
                raise ValueError(
                    f"case {unit.case.id!r} has no output for variant {unit.variant!r}; "
                    "add an 'output' column or give the funnel a target"
                )
            return output
        if inspect.iscoroutinefunction(target):
            value = await asyncio.wait_for(target(unit.case), self.case_timeout)
        else:
            # A sync target runs in a thread; on timeout we stop waiting for it.
            value = await asyncio.wait_for(
                asyncio.to_thread(target, unit.case), self.case_timeout
            )
            if inspect.isawaitable(value):
                value = await asyncio.wait_for(value, self.case_timeout)
        if not isinstance(value, str):
            raise TypeError(f"the target returned {type(value).__name__}, not a str")
        return value


def _not_run(unit: Unit, error: str) -> CaseResult:
    return CaseResult(
        case_id=unit.case.id,
        variant=unit.variant,
        output=None,
        stages=(),
        promoted=False,
        dropped_at="target",
        error=error,
    )


def units_for(case: Case, funnel: Funnel) -> list[Unit]:
    """The units of one case: one per pre-logged variant, or one for a target."""
    if funnel.target is not None or not case.outputs:
        return [Unit(case, "default")]
    return [Unit(case, variant) for variant in case.outputs]


class LoopThread:
    """A private asyncio loop on a daemon thread, so pytest's own thread can block on it.

    Test code (sync or async) can call :meth:`run` without clashing with an event
    loop the test itself may be running.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="llmfunnel-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
