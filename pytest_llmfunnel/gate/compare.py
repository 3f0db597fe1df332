"""From a session's per-case records and the stored baselines to the gate's decisions.

Metrics, per eval test (dataset use), each named as reports show it:

* ``promotion rate`` (binary, gated): the share of cases that passed every
  gating stage. It is gated so the funnel cannot look better by shrinking.
* ``<stage> pass rate`` (binary, gated) for every judge and scorer that
  decides pass/fail (a judge's threshold, a scorer's threshold).
* ``<stage> mean score`` (score, measured only) for every judge that scores,
  and for scorers without a threshold.

Every metric is taken over **all** paired cases, not the promoted slice: a
case that dropped before a stage counts as a fail (or the scale's minimum) for
that stage on whichever side dropped it. The baseline side is the record's
``baseline`` (the stored output re-run through the current stages) when the
plugin provides one, so a changed check or threshold applies to both sides
alike; otherwise the baseline file's stored results.

Pairing is by (case id, variant). A case whose fingerprint (input, context,
expected) changed is left unpaired, as are new and removed cases; all three
are listed. Stage errors (status ``error``) are left out of both sides of that
metric's pair (the promotion rate keeps them: an error at a gating stage, or a
target that failed, is a case that did not get through); past
``max_error_share`` of the pairs the metric is *not comparable*, as it is
when a judge changed and no re-judged baseline exists.

Neither errors nor unpairing may hide a drop: every metric is decided a
second time with the worst case filled in (a sensitivity analysis). Errored
pairs count as a fail on the current side (and a pass where the baseline
side errored); changed and removed cases, whose baseline line exists but
whose current value cannot be paired, count as current fails against their
stored baseline value. New cases have no baseline value to drop from and
stay out. When the two decisions disagree on whether the metric regressed,
it is *not comparable*, with the reason. An unpaired share above
``UNPAIRED_WARNING`` of a dataset's cases is a warning with the number.
All decisions of a session come from one :func:`gate.decide` call, so Holm
runs across every gated (dataset, metric) pair.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.gate import sensitivity
from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.gate.decision import GateDecision, MetricSpec, Mode, PairedSample, decide
from pytest_llmfunnel.gate.metrics import PROMOTION, Metric, judge_identity, metrics_of
from pytest_llmfunnel.gate.result import UPDATE, DatasetComparison, Flip, GateResult, TagStat
from pytest_llmfunnel.gate.sides import (
    ERROR,
    FLOOR,
    MISSING,
    Side,
    Value,
    side_of_line,
    side_of_record,
    value_of,
)
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.wording import plural

__all__ = [
    "PROMOTION", "DatasetComparison", "Flip", "GateResult", "Metric", "TagStat", "compare",
]

EXCERPT_LIMIT = 200


def _label(key: tuple[str, str]) -> str:
    return key[0] if key[1] == "default" else f"{key[0]}[{key[1]}]"


def _excerpt(text: str | None) -> str:
    return truncate(text or "", EXCERPT_LIMIT, one_line=True)


def _not_comparable(dataset: str, spec: MetricSpec, n: int, reason: str) -> GateDecision:
    nan = math.nan
    return GateDecision(
        dataset, spec.name, n, nan, nan, nan, nan, nan, nan, nan, "not comparable", reason,
        "none", None, spec.gated, nan, spec.tolerance_units,
    )


@dataclass(frozen=True)
class _Pair:
    key: tuple[str, str]
    record: CaseRecord
    base: Side
    cur: Side
    same_output: bool = False  # the baseline stored this very output: it cannot flip


@dataclass
class _Prepared:
    """One metric of one eval test, ready for the gate (or already decided)."""

    dataset: str
    metric: Metric
    spec: MetricSpec
    pairs: list[tuple[_Pair, float, float]]
    errors: int
    worst_case: list[tuple[float, float]]  # errored and unpaired cases, filled in as fails
    decision: GateDecision | None = None


def _prepare(
    dataset: str, metric: Metric, spec: MetricSpec, pairs: Sequence[_Pair],
    unpaired: Sequence[Side], baseline: Baseline, records: Sequence[CaseRecord],
    max_error_share: float,
) -> _Prepared:
    raw: list[tuple[_Pair, Value, Value]] = []
    errored: list[Value] = []  # the baseline side of each errored pair
    for pair in pairs:
        b, c = value_of(pair.base, metric), value_of(pair.cur, metric)
        if ERROR in (b, c):
            errored.append(b)
        elif MISSING not in (b, c):
            raw.append((pair, b, c))
    numbers = [v for _, b, c in raw for v in (b, c) if isinstance(v, float)]
    floor = metric.scale[0] if metric.scale else min(numbers, default=0.0)
    top = metric.scale[1] if metric.scale else max(numbers, default=1.0)
    worst, best = (0.0, 1.0) if metric.kind == "binary" else (floor, top)

    def num(v: Value) -> float:
        return v if isinstance(v, float) else floor

    # The sensitivity analysis: a current fail against the baseline value, or
    # against a pass where that value is unknown (errored, or a stage never reached).
    stored = [value_of(side, metric) for side in unpaired]
    worst_case = [
        (b if isinstance(b, float) else (floor if b == FLOOR else best), worst)
        for b in (*errored, *stored)
    ]
    prepared = _Prepared(
        dataset, metric, spec, [(p, num(b), num(c)) for p, b, c in raw], len(errored),
        worst_case,
    )
    stage, header = metric.stage, baseline.header
    uses_file = any(p.base.from_file for p in pairs)
    reason = None
    if stage is not None and uses_file and stage not in header.stages:
        reason = (
            f"stage {stage!r} is not in the baseline; re-evaluate the baseline outputs "
            f"with the current stages or update the baseline ({UPDATE})"
        )
    elif stage is not None and uses_file and header.stages[stage].kind == "judge":
        old, new = header.judges.get(stage), judge_identity(records, stage)
        if new is not None and old != new:
            reason = (
                f"judge changed: {old or 'unknown'} → {new}; re-judge the baseline outputs "
                f"(needs an endpoint) or update the baseline ({UPDATE})"
            )
    errors = len(errored)
    if reason is None and pairs and errors / len(pairs) > max_error_share:
        reason = (
            f"{errors} of {plural(len(pairs), 'pair')} ({errors / len(pairs):.1%}) have stage "
            "errors, "
            f"above the allowed share {max_error_share:g}; fix the errors (items marked "
            f"llm-error) or raise --llm-funnel-max-error-share"
        )
    if reason is not None:
        prepared.decision = _not_comparable(dataset, spec, len(prepared.pairs), reason)
    return prepared


def _flips(prep: _Prepared) -> list[Flip]:
    metric = prep.metric
    if metric.kind != "binary":
        return []
    out = []
    scores = [
        s for p, _, _ in prep.pairs for side in (p.base, p.cur)
        if metric.stage and (s := side.stages.get(metric.stage, ("", None, ""))[1]) is not None
    ]
    lo, hi = metric.scale or (min(scores, default=0.0), max(scores, default=1.0))
    width = (hi - lo) or 1.0
    for pair, b, c in prep.pairs:
        if b == c:
            continue
        worse = b > c
        if metric.stage is None:
            # The stage where the side that failed dropped out, with the current reason.
            stage = (pair.cur if worse else pair.base).dropped_at or "target"
            before = after = None
            severity = 1.0
        else:
            stage = metric.stage
            before = pair.base.stages.get(stage, ("", None, ""))[1]
            after = pair.cur.stages.get(stage, ("", None, ""))[1]
            drop = (lo if before is None else before) - (lo if after is None else after)
            severity = abs(drop) / width
        got = pair.cur.stages.get(stage)
        reason = got[2] if got else (pair.record.error or "")
        out.append(Flip(
            prep.dataset, pair.key[0], pair.key[1], metric.name, stage, before, after,
            reason, _excerpt(pair.record.output if pair.record.structured is None
                             else pair.record.structured.summary()),
            direction="worse" if worse else "better", severity=severity,
        ))
    return out


def _tags(prep: _Prepared) -> list[TagStat]:
    groups: dict[str, list[tuple[float, float]]] = {}
    for pair, b, c in prep.pairs:
        for tag in pair.record.tags:
            groups.setdefault(tag, []).append((b, c))
    return [
        TagStat(tag, prep.metric.name, len(v), math.fsum(b for b, _ in v) / len(v),
                math.fsum(c for _, c in v) / len(v))
        for tag, v in sorted(groups.items())
    ]


def compare(
    records: Iterable[CaseRecord],
    baselines: Mapping[str, Baseline | None],
    *,
    alpha: float = 0.05,
    tolerance: float = 0.02,
    mode: str = "superiority",
    max_error_share: float = 0.02,
    seed: int = 0,
    tolerances: Mapping[str, float] | None = None,
    dataset_ids: Mapping[str, Iterable[str]] | None = None,
) -> GateResult:
    """Gate a session: pair every eval test's records with its baseline and decide.

    Args:
        records: the session's per-case records (see :mod:`pytest_llmfunnel.record`).
        baselines: the baseline of each gated eval test; None when its file does
            not exist yet (the gate then fails, saying how to create it). Eval
            tests not in the mapping have no gate.
        alpha, mode, seed: as for :func:`pytest_llmfunnel.gate.decision.decide`.
        tolerance: the default tolerance; ``tolerances`` overrides it by metric name.
        max_error_share: above this share of pairs with stage errors, a metric
            is not comparable.
        dataset_ids: per eval test, the case ids its dataset holds now. A
            baseline line whose case is still there but whose (case, variant)
            did not run this session was left out on purpose (``-k``, node ids,
            one variant selected): a partial run gates what it ran, so such a
            line is neither paired nor counted as a fail in the worst case. A
            case gone from the dataset still counts.
    """
    if mode not in ("superiority", "non-inferiority"):
        raise ValueError(f"mode must be 'superiority' or 'non-inferiority', got {mode!r}")
    by_dataset: dict[str, dict[tuple[str, str], CaseRecord]] = {}
    for record in records:
        key = (record.case, record.variant)
        by_dataset.setdefault(record.dataset, {})[key] = record  # a rerun replaces
    missing = tuple(sorted(n for n, b in baselines.items() if b is None and n in by_dataset))
    prepared: list[_Prepared] = []
    warnings: list[str] = []
    comparisons: list[tuple[str, int, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    for dataset in sorted(by_dataset):
        baseline = baselines.get(dataset)
        if baseline is None:
            continue
        current = by_dataset[dataset]
        stored = baseline.index()
        changed, pairs = [], []
        # Baseline lines whose current value cannot be paired: changed, then removed.
        still = set((dataset_ids or {}).get(dataset, ()))
        unpaired = [side_of_line(stored[k]) for k in sorted(set(stored) - set(current))
                    if k[0] not in still]
        for key in sorted(set(current) & set(stored)):
            record, line = current[key], stored[key]
            fp = record.fingerprint
            if fp and line.fingerprint and fp != line.fingerprint:
                changed.append(_label(key))
                unpaired.append(side_of_line(line))
                continue
            reeval = record.baseline
            base = side_of_record(reeval) if reeval is not None else side_of_line(line)
            same = record.output is not None and record.output == line.output
            pairs.append(_Pair(key, record, base, side_of_record(record), same))
        comparisons.append((
            dataset, len(pairs), tuple(changed),
            tuple(_label(k) for k in sorted(set(current) - set(stored))),
            tuple(_label(k) for k in sorted(set(stored) - set(current))),
        ))
        recs = list(current.values())
        for metric in metrics_of(recs, baseline):
            tol = (tolerances or {}).get(metric.name, tolerance)
            spec = MetricSpec(metric.name, metric.kind, tol, metric.gated, scale=metric.scale)
            prepared.append(_prepare(
                dataset, metric, spec, pairs, unpaired, baseline, recs, max_error_share
            ))
        warning = sensitivity.unpaired_warning(
            dataset, len(pairs), len(unpaired), len(set(current) - set(stored)), UPDATE
        )
        warnings += [warning] if warning else []
    to_decide = [p for p in prepared if p.decision is None]
    samples = [
        PairedSample(p.spec, p.dataset, tuple(b for _, b, _ in p.pairs),
                     tuple(c for _, _, c in p.pairs),
                     sum(pair.same_output for pair, _, _ in p.pairs))
        for p in to_decide
    ]
    worst = [
        PairedSample(p.spec, p.dataset, (*s.baseline, *(b for b, _ in p.worst_case)),
                     (*s.current, *(c for _, c in p.worst_case)), s.unchanged)
        for p, s in zip(to_decide, samples, strict=True)
    ]
    rule = cast(Mode, mode)
    for prep, decision, pessimistic in zip(
        to_decide, decide(samples, alpha=alpha, mode=rule, seed=seed),
        decide(worst, alpha=alpha, mode=rule, seed=seed), strict=True,
    ):
        prep.decision = sensitivity.combine(
            decision, pessimistic, prep.errors, len(prep.worst_case) - prep.errors
        )
    datasets = []
    for dataset, paired, changed_ids, new_ids, removed_ids in comparisons:
        mine = [p for p in prepared if p.dataset == dataset]
        compared = [p for p in mine if p.decision is not None
                    and p.decision.decision != "not comparable"]
        flips = [f for p in compared for f in _flips(p)]
        flips.sort(key=lambda f: (f.direction != "worse", -(f.severity or 0.0), f.metric, f.case,
                                  f.variant))
        tags = [t for p in compared if p.metric.gated for t in _tags(p)]
        tags.sort(key=lambda t: (t.tag, t.metric))
        datasets.append(DatasetComparison(
            dataset, paired, changed_ids, new_ids, removed_ids, tuple(flips), tuple(tags)
        ))
    decisions = tuple(p.decision for p in prepared if p.decision is not None)
    return GateResult(decisions, tuple(datasets), missing, tuple(warnings))

