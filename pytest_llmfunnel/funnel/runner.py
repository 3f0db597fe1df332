"""The funnel: stages in order over a batch of cases, with bounded concurrency.

Checks and scorers are free and run inline; a gating stage that fails (or
cannot decide) stops the case there, so only the promoted slice reaches the
paid judges. Judge calls are I/O-bound, so cases run concurrently on one
asyncio loop; the judge backend enforces the request limit.

Pairwise judges compare the variants of one case, so the runner schedules by
case: every variant of a case goes through the per-variant stages, then each
pairwise judge compares the case's first variant with each other variant.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from pytest_llmfunnel.funnel.backend import AnswerStore, JudgeBackend, NullStore

# The declaration is its own module; these names are imported from here as they were.
from pytest_llmfunnel.funnel.definition import Funnel as Funnel
from pytest_llmfunnel.funnel.definition import Stage as Stage
from pytest_llmfunnel.funnel.explained import explain_requests
from pytest_llmfunnel.funnel.live_variants import live_variant
from pytest_llmfunnel.funnel.pairwise_outcomes import mirror, walkover

# Where outputs come from (recorded, pre-logged, the target) is its own module;
# these two names are imported from here as they always were.
from pytest_llmfunnel.funnel.producing import OutputRecorder as OutputRecorder
from pytest_llmfunnel.funnel.producing import TargetNotCalled as TargetNotCalled
from pytest_llmfunnel.funnel.producing import produce_output
from pytest_llmfunnel.funnel.repeats import run_repeats
from pytest_llmfunnel.funnel.stages.conversation_turns import EachTurn, stage_runner
from pytest_llmfunnel.funnel.stages.judge import run_judge, run_pairwise
from pytest_llmfunnel.funnel.stages.judge_kinds import PairwiseJudge, RubricJudge
from pytest_llmfunnel.funnel.target import (
    Target,
    TargetCaller,
    TargetError,
    TargetPolicy,
)
from pytest_llmfunnel.models import Case, CaseResult, StageResult
from pytest_llmfunnel.output import Output

T = TypeVar("T")


@dataclass(frozen=True)
class Unit:
    """One case and the variant of its output to evaluate."""

    case: Case
    variant: str


@dataclass
class FunnelRunner:
    """Runs funnels over units on the current event loop.

    Args:
        outputs: where target outputs are recorded (used when the funnel has a
            ``target_version``).
        call_targets: False in a dry run: a target that would be called makes
            its case an error instead.
        target_policy: the session's target policy (a funnel's own settings
            override it); ``None``: ``case_timeout`` and the default retries.
        target_callers: the target callers by funnel (see :meth:`_caller`).
        explain_case: a case id whose judge requests are explained against the
            cache (see :meth:`VerdictStore.explain`) before they are answered;
            the rendered lines collect in ``explanations``.
        after_case: awaited with each case's units and results before they are
            handed out (the session re-evaluates baseline outputs there).
        reuse: called with each unit and its output; the judge results it returns
            are taken instead of asking those judges (the baseline's stored
            verdicts of an unchanged output, see :mod:`pytest_llmfunnel.gate.baseline_side`).
        reuse_pair: the same for a pairwise comparison, called with the judge,
            the case, the two variants' results and the comparison's stage name.
        reuse_repeats: the same with target repeats, called with each unit and
            every repeat's output once all were produced; it returns one mapping
            per output (or ``None``: judge them).
    """

    backend: JudgeBackend
    store: AnswerStore = field(default_factory=NullStore)
    concurrency: int = 16
    case_timeout: float = 120.0
    target_policy: TargetPolicy | None = None  # None: case_timeout, default retries
    parse_retries: int = 2
    stop_event: threading.Event = field(default_factory=threading.Event)
    outputs: OutputRecorder | None = None
    call_targets: bool = True
    explain_case: str | None = None
    explanations: list[str] = field(default_factory=list)
    after_case: Callable[[Sequence[Unit], list[CaseResult]], Awaitable[None]] | None = None
    reuse: Callable[[Unit, str | Output], Mapping[str, StageResult]] | None = None
    reuse_pair: Callable[[PairwiseJudge, Case, CaseResult, CaseResult, str],
                         StageResult | None] | None = None
    reuse_repeats: Callable[[Unit, Sequence[str | Output]],
                            Sequence[Mapping[str, StageResult]] | None] | None = None
    target_callers: dict[int, TargetCaller] = field(default_factory=dict)

    async def run(
        self,
        funnel: Funnel,
        units: Sequence[Unit],
        on_result: Callable[[int, CaseResult], None] | None = None,
    ) -> list[CaseResult]:
        """Evaluate every unit; results come back in the order of ``units``.

        ``on_result(index, result)`` is called as each case finishes, so a caller
        can hand results out while later cases are still running. The variants
        of one case finish together.
        """
        results: list[CaseResult | None] = [None] * len(units)
        by_case: dict[str, list[int]] = {}
        for index, unit in enumerate(units):
            by_case.setdefault(unit.case.id, []).append(index)
        if funnel.variants:  # a live control first, whatever order the items came in
            order = {v.name: i for i, v in enumerate(funnel.variants)}
            for group in by_case.values():
                group.sort(key=lambda i: order.get(units[i].variant, len(order)))
        groups = iter(list(by_case.values()))
        # Enough cases in flight to keep the judge limit busy while others run checks.
        workers = max(1, min(len(by_case), self.concurrency * 2))

        async def worker() -> None:
            for group in groups:
                if self.stop_event.is_set():
                    return
                finished = await self.run_case(funnel, [units[i] for i in group])
                if self.after_case is not None:
                    await self.after_case([units[i] for i in group], finished)
                for index, result in zip(group, finished, strict=True):
                    results[index] = result
                    if on_result is not None:
                        on_result(index, result)

        tasks: list[asyncio.Task[None]] = []
        try:
            for _ in range(workers):
                tasks.append(asyncio.ensure_future(worker()))
                # One turn of the loop per worker started: the request the last one
                # prepared goes out before the next renders, instead of all of them
                # being prepared before the first is sent.
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        final = []
        for index, (r, u) in enumerate(zip(results, units, strict=True)):
            if r is None:
                r = _not_run(u, "stopped before this case ran")
                if on_result is not None:
                    on_result(index, r)
            final.append(r)
        return final

    async def run_case(self, funnel: Funnel, units: Sequence[Unit]) -> list[CaseResult]:
        """Every variant of one case through the per-variant stages, then the comparisons."""
        if len(units) == 1:
            # Most cases have one variant: awaiting it directly spares a task
            # and a turn of the event loop per case.
            results = [await self.run_one(funnel, units[0])]
        else:
            results = list(await asyncio.gather(*(self.run_one(funnel, u) for u in units)))
        if len(results) > 1 and funnel.pairwise_judges:
            results = await self.compare(funnel, units[0].case, results)
        return results

    async def run_one(self, funnel: Funnel, unit: Unit) -> CaseResult:
        """One variant of one case through the checks, scorers and rubric judges.

        With ``target_repeats`` above 1 the target is called that many times and
        the repeats' results are folded (:func:`pytest_llmfunnel.funnel.repeats.fold`).
        """
        repeats = funnel.target_repeats if funnel.target is not None else 1
        if repeats == 1:
            output = await self._produce(funnel, unit, 0)
            if isinstance(output, CaseResult):
                return output
            reuse_one = self.reuse(unit, output) if self.reuse is not None else None
            return await self.evaluate(funnel, unit, output, reuse=reuse_one)
        reuse = None if self.reuse_repeats is None else functools.partial(self.reuse_repeats, unit)
        return await run_repeats(
            repeats,
            functools.partial(self._produce, funnel, unit),
            functools.partial(self.evaluate, funnel, unit),
            reuse,
        )

    async def _produce(self, funnel: Funnel, unit: Unit, repeat: int) -> str | Output | CaseResult:
        """The output of one repeat, or the case result that says why there is none."""
        try:
            return await self._output(funnel, unit, repeat)
        except TargetNotCalled as exc:
            return _not_run(unit, str(exc), target_error=False)
        except TargetError as exc:
            return _not_run(unit, str(exc))
        except Exception as exc:
            return _not_run(unit, f"target raised {type(exc).__name__}: {exc}")

    async def evaluate(
        self,
        funnel: Funnel,
        unit: Unit,
        output: str | Output,
        reuse: Mapping[str, StageResult] | None = None,
    ) -> CaseResult:
        """One given output through the per-variant stages.

        ``reuse`` maps judge stage names to results to take instead of asking
        the judge (the baseline's stored verdicts, when the judge is unchanged).
        """
        case = unit.case
        stage_results: list[StageResult] = []
        dropped_at: str | None = None
        for stage in funnel.stages:
            if isinstance(stage, PairwiseJudge):
                continue
            if isinstance(stage, RubricJudge) and reuse and stage.name in reuse:
                result = reuse[stage.name]
            elif isinstance(stage, EachTurn):
                run_stage = stage_runner(self.backend, self.store, self.parse_retries)
                result = await stage.run_turns(case, Output.of(output), run_stage)
            elif isinstance(stage, RubricJudge):
                self._explain(stage, case, unit.variant, output)
                result = await run_judge(
                    stage,
                    case,
                    output,
                    backend=self.backend,
                    store=self.store,
                    parse_retries=self.parse_retries,
                )
            else:
                result = await stage.arun(case, output)
            stage_results.append(result)
            if result.gating and result.status in ("failed", "error"):
                dropped_at = stage.name
                break
        whole = Output.of(output)
        return CaseResult(
            case_id=case.id,
            variant=unit.variant,
            output=whole.text,
            stages=tuple(stage_results),
            promoted=dropped_at is None,
            dropped_at=dropped_at,
            structured=None if whole.is_plain else whole,
        )

    async def compare(
        self, funnel: Funnel, case: Case, results: list[CaseResult]
    ) -> list[CaseResult]:
        """Each pairwise judge: the first variant against each other one.

        The comparison's requests, hits and usage are counted on the first
        variant's record only, so sums over records stay true. When the first
        variant meets several others, its results are named ``<judge> vs <variant>``.
        """
        first = results[0]
        extra: list[list[StageResult]] = [[] for _ in results]
        several = len(results) > 2
        for judge in funnel.pairwise_judges:
            for index, other in enumerate(results[1:], start=1):
                name = f"{judge.name} vs {other.variant}" if several else judge.name
                reused = None
                if first.promoted and other.promoted and self.reuse_pair is not None:
                    reused = self.reuse_pair(judge, case, first, other, name)
                if reused is not None:
                    result = reused
                elif first.promoted and other.promoted:
                    output_a, output_b = first.whole_output, other.whole_output
                    assert output_a is not None and output_b is not None
                    self._explain(judge, case, first.variant, output_a, output_b)
                    result = await run_pairwise(
                        judge,
                        case,
                        output_a,
                        output_b,
                        variant_a=first.variant,
                        variant_b=other.variant,
                        backend=self.backend,
                        store=self.store,
                        parse_retries=self.parse_retries,
                    )
                elif first.promoted or other.promoted:
                    result = walkover(judge, first, other)
                else:
                    continue  # both dropped: nothing to compare
                result = replace(result, pair=(first.variant, other.variant))
                extra[0].append(replace(result, stage=name))
                extra[index].append(mirror(result))
        return [
            replace(r, stages=r.stages + tuple(more)) if more else r
            for r, more in zip(results, extra, strict=True)
        ]

    def _explain(self, judge: RubricJudge | PairwiseJudge, case: Case, variant: str,
                 *outputs: str | Output) -> None:
        if self.explain_case == case.id:
            self.explanations += explain_requests(
                self.store, self.backend, judge, case, variant, outputs
            )

    async def _output(self, funnel: Funnel, unit: Unit, repeat: int = 0) -> str | Output:
        target = funnel.target
        return await produce_output(
            unit.case, unit.variant, repeat, target_version=funnel.target_version,
            target_name=funnel.target_name if target is not None else "",
            outputs=self.outputs, call_targets=self.call_targets,
            caller=None if target is None else lambda: self._caller(funnel, target),
            live=live_variant(funnel.variants, unit.variant),
        )

    def _caller(self, funnel: Funnel, target: Target) -> TargetCaller:
        """The funnel's target caller: one concurrency limit per funnel (and event loop).

        ``target_callers`` may be shared between runners (the session shares
        it), so that the limit holds across the chunks of one eval test.
        """
        caller = self.target_callers.get(id(funnel))
        if caller is None or caller.loop is not asyncio.get_running_loop():
            session = self.target_policy or TargetPolicy(timeout=self.case_timeout)
            caller = TargetCaller(target, funnel.target_policy(session))
            self.target_callers[id(funnel)] = caller
        return caller


def _not_run(unit: Unit, error: str, *, target_error: bool = True) -> CaseResult:
    return CaseResult(
        case_id=unit.case.id,
        variant=unit.variant,
        output=None,
        stages=(),
        promoted=False,
        dropped_at="target",
        error=error,
        target_errors=int(target_error),
    )


def units_for(case: Case, funnel: Funnel) -> list[Unit]:
    """The units of one case: one per live or pre-logged variant, or one for a target."""
    if funnel.variants:
        return [Unit(case, variant.name) for variant in funnel.variants]
    if funnel.target is not None or not case.outputs:
        return [Unit(case, "default")]
    return [Unit(case, variant) for variant in case.outputs]
