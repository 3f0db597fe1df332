"""Target repeats: one case's several outputs, folded into one result.

A non-deterministic system answers the same case differently from call to
call. With ``target_repeats=k`` the target is called k times, each output
goes through the funnel on its own (its checks, scorers and judges, cached
like any output), and the case's result is folded from the k results the
way judge repeats are folded from their samples:

* a stage's **score** is the mean over the repeats that reached it and gave one;
* its **status** is the majority over the repeats that decided it: passed when
  more than half of them passed (so a tie fails: a case must pass *usually*,
  not half the time); an error only when no repeat decided it; ``measured``
  when every repeat measured;
* the case is **promoted** when its folded gating stages all pass; the stages
  after the first folded gating failure are left out, as for a single output;
* a judge's folded verdict keeps every repeat's samples and adds up the
  requests, cache hits and tokens, so costs stay true;
* a repeat whose target call failed counts in ``target_errors`` and is left out
  of the fold; when every call failed the case is a target error.

The record shows the first successful repeat's output; each stage's reason
says how many repeats passed (``2 of 3 target repeats passed``), and
``repeat_outputs`` keeps the digest of every repeat's output.

**Reusing the baseline's verdicts.** Every repeat's output is produced before
any is judged, so the baseline's stored verdicts can stand for them when all
of them are the outputs it stored (see
:meth:`pytest_llmfunnel.gate.baseline_side.BaselineSide.reuse_repeats`): each
repeat then gets its own stored score, decided with today's threshold, and
the fold is the one a fresh run with the same verdicts would give.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace

from pytest_llmfunnel.models import NO_USAGE, CaseResult, StageResult, Verdict
from pytest_llmfunnel.output import Output

#: Stored judge results per output, for each of the repeats' outputs (or None).
Reuse = Callable[[Sequence[str | Output]], Sequence[Mapping[str, StageResult]] | None]


async def run_repeats(
    repeats: int,
    produce: Callable[[int], Awaitable[str | Output | CaseResult]],
    evaluate: Callable[..., Awaitable[CaseResult]],
    reuse: Reuse | None = None,
) -> CaseResult:
    """One case's ``repeats`` target calls, each output through the stages, folded.

    Args:
        produce: the output of repeat ``i``, or the result saying why there is none.
        evaluate: ``evaluate(output, reuse=...)``: one output through the stages.
        reuse: called with every output once all were produced; the mappings
            it returns (one per output) are taken instead of asking those judges.
    """
    produced = await asyncio.gather(*(produce(i) for i in range(repeats)))
    outputs = [p for p in produced if not isinstance(p, CaseResult)]
    stored = reuse(outputs) if reuse is not None and len(outputs) == repeats else None
    nothing: list[Mapping[str, StageResult] | None] = [None] * len(outputs)
    per_output: Iterator[Mapping[str, StageResult] | None] = iter(stored or nothing)

    async def one(item: str | Output | CaseResult) -> CaseResult:
        if isinstance(item, CaseResult):
            return item
        return await evaluate(item, reuse=next(per_output))

    done = await asyncio.gather(*(one(p) for p in produced))
    ran = [r for r in done if r.error is None]
    failed = [r.error for r in done if r.error is not None]
    if not ran:
        return replace(done[0], target_errors=sum(r.target_errors for r in done))
    digests = tuple(Output.of(o).digest() for o in outputs)
    return replace(fold(ran, [e for e in failed if e]), repeat_outputs=digests)


def fold(results: Sequence[CaseResult], target_errors: Sequence[str] = ()) -> CaseResult:
    """One case result from the results of its target repeats (see the module)."""
    if not results:
        raise ValueError("fold() needs at least one repeat's result")
    first = results[0]
    names: dict[str, None] = {}
    for result in results:
        names.update(dict.fromkeys(s.stage for s in result.stages))
    stages: list[StageResult] = []
    dropped_at: str | None = None
    for name in names:
        reached = [s for r in results if (s := r.stage(name)) is not None]
        folded = fold_stage(reached, len(results) + len(target_errors))
        stages.append(folded)
        if folded.gating and folded.status in ("failed", "error"):
            dropped_at = name
            break
    return replace(
        first,
        stages=tuple(stages),
        promoted=dropped_at is None,
        dropped_at=dropped_at,
        target_errors=len(target_errors) + sum(r.target_errors for r in results),
    )


def fold_stage(reached: list[StageResult], repeats: int) -> StageResult:
    """One stage's result from the repeats that reached it (of ``repeats`` in all)."""
    base = reached[0]
    scores = [s.score for s in reached if s.score is not None]
    score = statistics.fmean(scores) if scores else None
    decided = [s for s in reached if s.status in ("passed", "failed")]
    passed = sum(s.status == "passed" for s in decided)
    if all(s.status == "measured" for s in reached):
        status = "measured"
        summary = f"measured on {len(reached)} of {repeats} target repeats"
    elif not decided:
        status = "error"
        summary = f"no target repeat decided: {base.reason}"
    else:
        status = "passed" if 2 * passed > len(decided) else "failed"
        summary = f"{passed} of {len(decided)} target repeats passed"
        failing = next((s for s in decided if s.status != status), None)
        example = next((s for s in decided if s.status == status), base)
        if failing is not None or len(decided) < repeats:
            summary += f" (of {repeats})"
        summary += f"; e.g. {example.reason}" if example.reason else ""
    return StageResult(
        stage=base.stage,
        kind=base.kind,
        status=status,  # type: ignore[arg-type]
        gating=base.gating,
        score=score,
        reason=summary,
        verdict=_fold_verdict(reached, score, status),
        must=base.must,
        pair=base.pair,
    )


def _fold_verdict(reached: list[StageResult], score: float | None, status: str) -> Verdict | None:
    verdicts = [s.verdict for s in reached if s.verdict is not None]
    if not verdicts:
        return None
    usage = NO_USAGE
    for v in verdicts:
        usage += v.usage
    samples = tuple(
        x for v in verdicts for x in (v.samples or ((v.score,) if v.score is not None else ()))
    )
    errors = [v.error for v in verdicts if v.error]
    return Verdict(
        criterion=verdicts[0].criterion,
        judge=verdicts[0].judge,
        score=score,
        passed=None if status in ("measured", "error") else status == "passed",
        reasoning=verdicts[0].reasoning,
        samples=samples,
        usage=usage,
        requests=sum(v.requests for v in verdicts),
        cache_hits=sum(v.cache_hits for v in verdicts),
        error=errors[0] if status == "error" and errors else None,
        reused=all(v.reused for v in verdicts),
    )
