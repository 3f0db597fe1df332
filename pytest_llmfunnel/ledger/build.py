"""A session's records and decisions as ledger entries: one per eval test and variant.

The metrics are the gate's (:mod:`pytest_llmfunnel.gate.metrics`), valued by
the gate's own rules (:func:`pytest_llmfunnel.gate.sides.value_of`: a case
that dropped before a stage fails it, a stage error is left out), each with a
95% interval: Wilson for a pass rate, Student's t for a mean score. Where the
gate compared the test with its baseline, each metric carries the gate's
difference and decision; where the test has variants, the ranking's
comparison with the control (verdict, margin, cases a tighter margin needs)
and the variant's outcome. A variant is promoted offline when the ranking
says it deserves an online experiment: the control and the non-inferior ones.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.gate.metrics import PROMOTION, Metric
from pytest_llmfunnel.gate.sides import FLOOR, side_of_record, value_of
from pytest_llmfunnel.ledger.entries import PROMOTING, Cost, MetricEntry, RunEntry
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.variants.ranking import VariantRanking, VariantResult

CONFIDENCE = 0.95
FAILING = ("regressed", "not comparable")


@dataclass(frozen=True)
class RunFacts:
    """What is the same on every entry of one run."""

    run_id: str
    time: str
    commit: str | None
    branch: str | None
    duration: float


@dataclass(frozen=True)
class Decided:
    """What the end of the run decided: gate decisions, tests without a baseline, rankings."""

    decisions: Sequence[GateDecision] = ()
    missing_baselines: Sequence[str] = ()
    gated: bool = False  # the gate ran (not a baseline update, not an incomplete run)
    rankings: Sequence[VariantRanking] = ()


def run_entries(
    records: Sequence[CaseRecord], facts: RunFacts, decided: Decided,
    cost: Callable[[int, int], float | None] = lambda _p, _c: None,
) -> list[RunEntry]:
    """One entry per (eval test, variant) of ``records``, in the order they first appear."""
    groups: dict[tuple[str, str], list[CaseRecord]] = {}
    for record in records:
        groups.setdefault((record.dataset, record.variant), []).append(record)
    by_test: dict[str, list[GateDecision]] = {}
    for d in decided.decisions:
        by_test.setdefault(d.dataset, []).append(d)
    rankings = {r.dataset: r for r in decided.rankings}
    out = []
    for (test, variant), group in groups.items():
        decisions = {d.metric: d for d in by_test.get(test, [])}
        ranking = rankings.get(test)
        found = None if ranking is None else _result(ranking, variant)
        metrics = [
            _metric(m, group, decisions.get(m.name), ranking, variant) for m in metrics_of(group)
        ]
        word = _gate_word(test, by_test.get(test, []), decided)
        if found is not None:
            promoted: bool | None = found.outcome in PROMOTING
        elif word in ("passed", "improved"):
            promoted = True
        elif word in FAILING:
            promoted = False
        else:
            promoted = None
        out.append(RunEntry(
            run_id=facts.run_id, time=facts.time, commit=facts.commit, branch=facts.branch,
            test=test, variant=variant, cases=len(group),
            dataset_fingerprint=dataset_fingerprint(group), judges=judges_of(group),
            metrics=metrics, decision=word, promoted=promoted,
            outcome=None if found is None else found.outcome,
            control=None if ranking is None or found is None else ranking.best.variant,
            cost=cost_of(group, cost), duration=round(facts.duration, 3),
        ))
    return out


def metrics_of(records: Sequence[CaseRecord]) -> list[Metric]:
    """The promotion rate, each deciding stage's pass rate, each scored stage's mean score."""
    kinds: dict[str, str] = {}
    seen: dict[str, set[str]] = {}
    scales: dict[str, tuple[float, float]] = {}
    for s in (s for r in records for s in r.stages):
        kinds.setdefault(s.stage, s.kind)
        marks = seen.setdefault(s.stage, set())
        marks.add(s.status)
        if s.score is not None:
            marks.add("scored")
        if s.pairwise:
            marks.add("pairwise")
        if s.scale is not None:
            scales[s.stage] = s.scale
    out = [Metric(PROMOTION, None, "binary", True, None)]
    for name, kind in kinds.items():
        marks = seen[name]
        if kind == "check":
            continue  # counted through the promotion rate
        decides = bool(marks & {"passed", "failed"}) and "pairwise" not in marks
        if decides:
            out.append(Metric(f"{name} pass rate", name, "binary", True, scales.get(name)))
        if "scored" in marks and (kind == "judge" or not decides):
            out.append(Metric(f"{name} mean score", name, "score", False, scales.get(name)))
    return out


def _metric(
    metric: Metric, records: Sequence[CaseRecord], decision: GateDecision | None,
    ranking: VariantRanking | None, variant: str,
) -> MetricEntry:
    raw = [value_of(side_of_record(r), metric) for r in records]
    numbers = [v for v in raw if isinstance(v, float)]
    # A case dropped before a scored stage scores the scale's minimum, as in the gate.
    floor = metric.scale[0] if metric.scale else min(numbers, default=0.0)
    values = [v if isinstance(v, float) else floor for v in raw
              if isinstance(v, float) or v == FLOOR]
    value, low, high = interval(values, metric.kind)
    diff = against = word = margin = None
    needed = decide_at = None
    comparison = None
    if ranking is not None and variant != ranking.best.variant:
        found = _result(ranking, variant)
        comparisons = found.comparisons if found is not None else ()
        comparison = next((c for c in comparisons if c.metric == metric.name), None)
    if comparison is not None:
        d = comparison.decision
        diff, against = _finite(d.diff), ranking.best.variant if ranking else None
        v = comparison.verdict
        word = "non-inferior" if comparison.shown else "undecided"
        if v is not None:
            word = "non-inferior" if v.noninferior else "clearly worse" if v.worse else word
            margin = _finite(v.margin)
            needed, decide_at = v.tighter, v.decide_at
    elif decision is not None:
        diff, against, word = _finite(decision.diff), "baseline", decision.decision
    return MetricEntry(
        name=metric.name, kind=metric.kind, gated=metric.gated, n=len(values),
        value=value, low=low, high=high, diff=diff, against=against, decision=word,
        margin=margin, cases_needed=needed, decide_at=decide_at,
    )


def interval(values: Sequence[float], kind: str) -> tuple[float | None, float | None,
                                                           float | None]:
    """The mean of ``values`` and its 95% interval (Wilson for 0/1 values, else Student's t)."""
    if not values:
        return None, None, None
    n = len(values)
    mean = math.fsum(values) / n
    if kind == "binary":
        low, high = stats.wilson_interval(math.fsum(values), n, CONFIDENCE)
    else:
        m, se = stats.mean_and_se(values)
        if not math.isfinite(se):
            return _round(mean), None, None
        half = stats.t_ppf(0.5 + CONFIDENCE / 2, n - 1) * se
        low, high = m - half, m + half
    return _round(mean), _round(low), _round(high)


def dataset_fingerprint(records: Iterable[CaseRecord]) -> str:
    """sha256 of the (case id, case fingerprint) pairs a run used, in id order."""
    pairs = sorted((r.case, r.fingerprint) for r in records)
    text = "\n".join(f"{case}\t{fp}" for case, fp in pairs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def judges_of(records: Iterable[CaseRecord]) -> dict[str, str]:
    """Each judge stage's identity (model and prompt version), the most common one per stage."""
    counts: dict[str, dict[str, int]] = {}
    for s in (s for r in records for s in r.stages):
        if s.judge:
            per = counts.setdefault(s.stage, {})
            per[s.judge] = per.get(s.judge, 0) + 1
    return {stage: min(ids, key=lambda v: (-ids[v], v)) for stage, ids in sorted(counts.items())}


def cost_of(records: Iterable[CaseRecord], price: Callable[[int, int], float | None]) -> Cost:
    requests = hits = prompt = completion = 0
    for s in (s for r in records for s in r.stages):
        requests += s.requests
        hits += s.cache_hits
        prompt += s.prompt_tokens
        completion += s.completion_tokens
    money = price(prompt, completion)
    return Cost(requests=requests, cache_hits=hits, prompt_tokens=prompt,
                completion_tokens=completion, cost=None if money is None else round(money, 6))


def _gate_word(test: str, decisions: Sequence[GateDecision], decided: Decided) -> str:
    if test in decided.missing_baselines:
        return "no baseline"
    if not decided.gated or not decisions:
        return "not gated"
    gated = [d for d in decisions if d.gated]
    if any(d.decision == "regressed" for d in gated):
        return "regressed"
    if any(d.decision == "not comparable" for d in gated):
        return "not comparable"
    return "improved" if any(d.decision == "improved" for d in gated) else "passed"


def _result(ranking: VariantRanking, variant: str) -> VariantResult | None:
    return next((v for v in ranking.variants if v.variant == variant), None)


def _finite(value: float) -> float | None:
    return _round(value) if math.isfinite(value) else None


def _round(value: float) -> float:
    return round(value, 6)
