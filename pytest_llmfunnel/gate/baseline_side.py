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

The current side reuses the stored verdicts too, when nothing the judge would
be shown changed (:func:`unchanged_verdicts`): the same output text, the same
case fingerprint (input, context, expected) and the same judge identity
(model, rendered prompt template, rubric, scale, sampling, response schema,
repeat count). Asking again would only draw fresh noise, and comparing a
fresh draw with the baseline's frozen one is what makes an unchanged run fail
now and then; reused, both sides hold the same verdict and the pair is equal.

With target repeats (``target_repeats=N``) a case has N outputs and its
stored verdict is a fold of N per-repeat verdicts, so the folded score alone
cannot be decided again (a majority of passing repeats is not a mean above
the threshold). The baseline keeps the digest of every repeat's output and
each judge's samples in repeat order; when the N outputs now are the N it
stored (in any order), the judge identity is the same and every repeat
reached the judge, each repeat gets its own stored score back
(:meth:`BaselineSide.reuse_repeats`) and is folded as in a fresh run.
Anything else (a changed repeat, a failed target call, a repeat that did not
reach the judge) is judged again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from pytest_llmfunnel.funnel.backend import JudgeBackend
from pytest_llmfunnel.funnel.prompts import scale_bounds
from pytest_llmfunnel.funnel.repeats import fold_stage
from pytest_llmfunnel.funnel.runner import Funnel, FunnelRunner, Unit
from pytest_llmfunnel.funnel.stages.base import Scorer
from pytest_llmfunnel.funnel.stages.conversation_turns import EachTurn
from pytest_llmfunnel.funnel.stages.judge_kinds import PairwiseJudge, RubricJudge
from pytest_llmfunnel.gate.baseline_file import Baseline, BaselineCase, BaselineOutcome
from pytest_llmfunnel.models import Case, CaseResult, StageResult, Verdict, sha256_json
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.record import StageFacts

_PROBE = Case(id="probe", input="probe input", context="probe context", expected="probe expected")
REUSED = "baseline verdict reused (same judge): score {score:g} {op} threshold {threshold:g}"
REUSED_FOLD = "baseline verdicts of the target repeats reused (same judge)"


def judge_identities(funnel: Funnel, backend: JudgeBackend) -> dict[str, str]:
    """Per judge stage: ``<model> · prompt <hash>`` of what it would send.

    The hash covers the whole request body for a fixed probe case (model,
    rendered prompt template, rubric, scale, sampling, response schema), not
    the endpoint's address: the same model behind another URL is the same judge.
    A rubric judge asked more than once per output adds its repeat count and
    reducer (a mean of three draws is not the verdict of one).
    """
    identities: dict[str, str] = {}
    for outer in funnel.stages:
        # A per-turn stage is the judge it wraps, under its own name.
        stage = outer.stage if isinstance(outer, EachTurn) else outer
        if not isinstance(stage, RubricJudge | PairwiseJudge):
            continue
        # A judge that needs more than text (a RAG judge's chunks) brings its own probe.
        probe = getattr(stage, "probe_output", "probe output")
        outputs = (probe,) if isinstance(stage, RubricJudge) else ("probe a", "probe b")
        requests = stage.requests(
            _PROBE, *outputs, model=backend.model, base_url=backend.base_url, json_schema=True
        )
        body = requests[0].body
        identity = f"{body.get('model')} · prompt {sha256_json(body)[:12]}"
        if isinstance(stage, RubricJudge) and stage.repeats != 1:
            identity += f" · {stage.repeats} repeats ({stage.reducer})"
        identities[outer.name] = identity
    return identities


def stage_facts(funnel: Funnel) -> dict[str, StageFacts]:
    """Each stage's scale (rubric judges; pass/fail is 0-1) and the threshold it decides with."""
    facts: dict[str, StageFacts] = {}
    for outer in funnel.stages:
        stage = outer.stage if isinstance(outer, EachTurn) else outer
        if isinstance(stage, RubricJudge):
            facts[outer.name] = StageFacts(scale_bounds(stage.scale), stage.pass_threshold)
        elif isinstance(stage, Scorer) and stage.threshold is not None:
            facts[outer.name] = StageFacts(threshold=float(stage.threshold))
    return facts


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
        if not line.repeat_outputs:
            reused[judge.name] = _reused(judge, outcome.score, (outcome.score,), identities)
            continue
        # A fold of target repeats: its score alone cannot be decided again,
        # each repeat's can (when every repeat reached the judge).
        repeats = _per_repeat(judge, outcome, len(line.repeat_outputs), identities)
        if repeats is not None:
            folded = fold_stage(repeats, len(repeats))
            reused[judge.name] = replace(folded, reason=f"{REUSED_FOLD}: {folded.reason}")
    return reused


def _per_repeat(
    judge: RubricJudge, outcome: BaselineOutcome, repeats: int, identities: Mapping[str, str]
) -> list[StageResult] | None:
    """Each target repeat's stored verdict, or None when some repeat did not reach the judge."""
    k = judge.repeats
    if outcome.samples is None or len(outcome.samples) != k * repeats:
        return None
    return [
        _reused(judge, judge.reduce(part), part, identities)
        for part in (tuple(outcome.samples[i * k : (i + 1) * k]) for i in range(repeats))
    ]


def _reused(
    judge: RubricJudge, score: float, samples: tuple[float, ...], identities: Mapping[str, str]
) -> StageResult:
    """A stored score as the judge's result, decided with today's threshold."""
    threshold = judge.pass_threshold
    passed = score >= threshold
    reason = REUSED.format(score=score, op=">=" if passed else "<", threshold=threshold)
    verdict = Verdict(
        criterion=judge.criterion, judge=identities.get(judge.name, ""), score=score,
        passed=passed, reasoning=reason, samples=samples, reused=True,
    )
    return StageResult(
        stage=judge.name, kind="judge", status="passed" if passed else "failed",
        gating=judge.gating, score=score, reason=reason, verdict=verdict, must=judge.must,
    )


def repeat_verdicts(
    funnel: Funnel,
    line: BaselineCase,
    unit: Unit,
    outputs: Sequence[str | Output],
    same_judges: set[str],
    identities: Mapping[str, str],
) -> list[dict[str, StageResult]] | None:
    """Per output, the stored per-repeat verdicts that stand for it (see the module).

    ``None`` unless the outputs are, in some order, the ones the baseline
    stored for this case and variant (by digest), with the same fingerprint.
    A judge is reused only when every repeat reached it and it is unchanged.
    """
    digests = [Output.of(o).digest() for o in outputs]
    stored = list(line.repeat_outputs)
    if not stored or sorted(stored) != sorted(digests):
        return None
    if not line.fingerprint or line.fingerprint != unit.case.fingerprint():
        return None
    if line.variant != unit.variant:
        return None
    # Which stored repeat each output is (equal outputs may pair either way).
    order = []
    for digest in digests:
        index = stored.index(digest)
        order.append(index)
        stored[index] = ""
    per_output: list[dict[str, StageResult]] = [{} for _ in outputs]
    for judge in funnel.judges:
        outcome = line.stages.get(judge.name)
        if judge.name not in same_judges or outcome is None:
            continue
        if outcome.status not in ("passed", "failed"):
            continue
        repeats = _per_repeat(judge, outcome, len(digests), identities)
        if repeats is None:
            continue  # some repeat did not reach the judge: which one is unknown
        for slot, index in zip(per_output, order, strict=True):
            slot[judge.name] = repeats[index]
    return per_output


def unchanged_verdicts(
    funnel: Funnel,
    line: BaselineCase,
    unit: Unit,
    output: str | Output,
    same_judges: set[str],
    identities: Mapping[str, str],
) -> dict[str, StageResult]:
    """The stored verdicts that stand for ``output`` on the current side (see the module).

    Empty unless the output (its text and its whole structure), the case's
    fingerprint and the variant are the ones the baseline stored; then the
    verdicts of the unchanged judges.
    """
    whole = Output.of(output)
    if not line.same_output(whole.text, None if whole.is_plain else whole):
        return {}
    if not line.fingerprint:
        return {}
    if line.fingerprint != unit.case.fingerprint() or line.variant != unit.variant:
        return {}
    return reused_verdicts(funnel, line, same_judges, identities)


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
    stored = line.output if line.structured is None else line.structured
    return await runner.evaluate(funnel, unit, stored, reuse=reuse)


@dataclass
class BaselineSide:
    """One eval test's baseline as a running funnel uses it, for both sides of the gate.

    Args:
        funnel, baseline: the eval test's funnel and its stored baseline.
        identities: the current judge identity of each judge stage.
        counts: per stage, the counters the terminal table shows; each stored
            verdict reused on the current side adds one to ``"reused"``.
    """

    funnel: Funnel
    baseline: Baseline
    identities: Mapping[str, str]
    counts: dict[str, dict[str, int]]
    index: dict[tuple[str, str], BaselineCase] = field(init=False)
    same_judges: set[str] = field(init=False)
    rebased: dict[tuple[str, str], CaseResult] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = self.baseline.index()
        judges = self.baseline.header.judges
        self.same_judges = {n for n, i in self.identities.items() if judges.get(n) == i}

    def reuse(self, unit: Unit, output: str | Output) -> dict[str, StageResult]:
        """The stored verdicts that answer for ``output`` (for :attr:`FunnelRunner.reuse`)."""
        line = self.index.get((unit.case.id, unit.variant))
        if line is None or not self.same_judges:
            return {}
        found = unchanged_verdicts(
            self.funnel, line, unit, output, self.same_judges, self.identities
        )
        for name in found:
            entry = self.counts.setdefault(name, {"hits": 0, "misses": 0})
            entry["reused"] = entry.get("reused", 0) + 1
        return found

    def reuse_repeats(
        self, unit: Unit, outputs: Sequence[str | Output]
    ) -> list[dict[str, StageResult]] | None:
        """The stored per-repeat verdicts (for :attr:`FunnelRunner.reuse_repeats`)."""
        line = self.index.get((unit.case.id, unit.variant))
        if line is None or not self.same_judges:
            return None
        found = repeat_verdicts(
            self.funnel, line, unit, outputs, self.same_judges, self.identities
        )
        for name in (found or [{}])[0]:
            entry = self.counts.setdefault(name, {"hits": 0, "misses": 0})
            entry["reused"] = entry.get("reused", 0) + 1
        return found

    def reuse_pair(
        self, judge: PairwiseJudge, case: Case, first: CaseResult, other: CaseResult, name: str,
        *, count: bool = True,
    ) -> StageResult | None:
        """The stored comparison of two unchanged variants (for :attr:`FunnelRunner.reuse_pair`).

        ``count``: add it to the ``"reused"`` counter (the current side's, not
        the baseline side's, whose stored variants it also serves).
        """
        if judge.name not in self.same_judges:
            return None
        lines = []
        for result in (first, other):
            line = self.index.get((case.id, result.variant))
            if line is None or not line.same_output(result.output, result.structured):
                return None
            if not line.fingerprint or line.fingerprint != case.fingerprint():
                return None
            lines.append(line)
        stored = lines[0].stages.get(name)
        if stored is None or stored.status != "measured" or stored.score is None:
            return None
        reason = f"baseline comparison reused (same outputs, same judge): score {stored.score:g}"
        verdict = Verdict(
            criterion=judge.criterion, judge=self.identities.get(judge.name, ""),
            score=stored.score, reasoning=reason, samples=(stored.score,), reused=True,
        )
        if count:
            entry = self.counts.setdefault(name, {"hits": 0, "misses": 0})
            entry["reused"] = entry.get("reused", 0) + 1
        return StageResult(
            stage=judge.name, kind="judge", status="measured", gating=False,
            score=stored.score, reason=reason, verdict=verdict,
        )

    def after_case(
        self, runner: FunnelRunner
    ) -> Callable[[Sequence[Unit], list[CaseResult]], Awaitable[None]]:
        """A hook that evaluates the stored outputs of each finished case (its baseline side).

        A variant whose output did not change shares the current result: the
        same output through the same stages and judges, one verdict for both
        sides. A changed one is evaluated again (:func:`reevaluate`); then
        each pairwise judge compares the stored variants as it did the current.
        """

        async def hook(units: Sequence[Unit], results: list[CaseResult]) -> None:
            paired: list[tuple[Unit, CaseResult, BaselineCase]] = []
            for unit, result in zip(units, results, strict=True):
                line = self.index.get((unit.case.id, unit.variant))
                if line is None or line.fingerprint not in ("", unit.case.fingerprint()):
                    continue  # new or changed case: reported unpaired, nothing to compare
                paired.append((unit, result, line))
            rebased: list[CaseResult] = []
            shared = True
            for unit, result, line in paired:
                if line.same_outputs(result.output, result.structured, result.repeat_outputs):
                    rebased.append(result)
                else:
                    shared = False
                    rebased.append(await reevaluate(
                        runner, self.funnel, unit, line, self.same_judges, self.identities
                    ))
            if not shared and self.funnel.pairwise_judges and len(rebased) > 1:
                rebased = await runner.compare(
                    self.funnel, paired[0][0].case, [_per_variant(self.funnel, r) for r in rebased]
                )
            for (unit, _, _), base in zip(paired, rebased, strict=True):
                self.rebased[(unit.case.id, unit.variant)] = base

        return hook


def _per_variant(funnel: Funnel, result: CaseResult) -> CaseResult:
    """``result`` without its pairwise comparisons (they are made again)."""
    names = {j.name for j in funnel.pairwise_judges}
    kept = tuple(s for s in result.stages if s.stage.split(" vs ")[0] not in names)
    return replace(result, stages=kept)
