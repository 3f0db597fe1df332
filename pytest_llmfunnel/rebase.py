"""The baseline side of the gate: the stored outputs, re-evaluated with the current funnel.

The gate compares like with like. A baseline file stores every case's output,
so the current checks and scorers run on the stored output too: a check made
stricter in this change applies to both sides, and the gate measures the
change of the *outputs*, not of the rules.

Judges cost money, so a baseline verdict is reused when the judge is the same
one that gave it: same model, same rendered prompt, rubric, scale and sampling
(:func:`judge_identities`, a hash of the request a judge would send for a
fixed probe case). Its pass/fail is derived again from the stored score and
the current threshold, so a changed threshold applies to both sides for free.
When the judge changed, the stored output is judged again with the current
judge (through the verdict cache, so only once); if that is impossible (no
endpoint, a replay-only miss) the stage ends in an error and the gate calls
the metric not comparable.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_llmfunnel.backend import JudgeBackend
from pytest_llmfunnel.baseline import BaselineCase
from pytest_llmfunnel.funnel import Funnel, FunnelRunner, Unit
from pytest_llmfunnel.models import Case, CaseResult, StageResult, Verdict, sha256_json
from pytest_llmfunnel.prompts import scale_bounds
from pytest_llmfunnel.stages.judge_kinds import PairwiseJudge, RubricJudge

_PROBE = Case(id="probe", input="probe input", context="probe context", expected="probe expected")
REUSED = "baseline verdict reused (same judge): score {score:g} {op} threshold {threshold:g}"


def judge_identities(funnel: Funnel, backend: JudgeBackend) -> dict[str, str]:
    """Per judge stage: ``<model> · prompt <hash>`` of what it would send.

    The hash covers the whole request body for a fixed probe case (model,
    rendered prompt template, rubric, scale, sampling, response schema), not
    the endpoint's address: the same model behind another URL is the same judge.
    """
    identities: dict[str, str] = {}
    for stage in funnel.stages:
        if not isinstance(stage, RubricJudge | PairwiseJudge):
            continue
        outputs = ("probe output",) if isinstance(stage, RubricJudge) else ("probe a", "probe b")
        requests = stage.requests(
            _PROBE, *outputs, model=backend.model, base_url=backend.base_url, json_schema=True
        )
        body = requests[0].body
        identities[stage.name] = f"{body.get('model')} · prompt {sha256_json(body)[:12]}"
    return identities


def stage_scales(funnel: Funnel) -> dict[str, tuple[float, float]]:
    """The score scale of every rubric judge (pass/fail is 0-1)."""
    return {
        stage.name: scale_bounds(stage.scale)
        for stage in funnel.stages
        if isinstance(stage, RubricJudge)
    }


def reused_verdicts(
    funnel: Funnel, line: BaselineCase, same_judges: set[str], identities: Mapping[str, str]
) -> dict[str, StageResult]:
    """The stored verdicts of unchanged judges, decided again with today's threshold."""
    reused: dict[str, StageResult] = {}
    for judge in funnel.judges:
        outcome = line.stages.get(judge.name)
        if judge.name not in same_judges or outcome is None or outcome.score is None:
            continue
        if outcome.status not in ("passed", "failed"):
            continue  # an error (or no decision) is asked again, not carried over
        score, threshold = outcome.score, judge.pass_threshold
        passed = score >= threshold
        reason = REUSED.format(score=score, op=">=" if passed else "<", threshold=threshold)
        verdict = Verdict(
            criterion=judge.criterion, judge=identities.get(judge.name, ""), score=score,
            passed=passed, reasoning=reason, samples=(score,),
        )
        reused[judge.name] = StageResult(
            stage=judge.name, kind="judge", status="passed" if passed else "failed",
            gating=judge.gating, score=score, reason=reason, verdict=verdict, must=judge.must,
        )
    return reused


async def reevaluate(
    runner: FunnelRunner,
    funnel: Funnel,
    unit: Unit,
    line: BaselineCase,
    same_judges: set[str],
    identities: Mapping[str, str],
) -> CaseResult:
    """The baseline's stored output of ``unit`` through the current per-variant stages."""
    if line.output is None:
        return CaseResult(
            case_id=unit.case.id, variant=unit.variant, output=None, stages=(),
            promoted=False, error=line.error or "the baseline has no output for this case",
        )
    reuse = reused_verdicts(funnel, line, same_judges, identities)
    return await runner.evaluate(funnel, unit, line.output, reuse=reuse)
