"""Which output variant deserves an online experiment: a paired ranking of a dataset's variants.

An offline eval cannot say which variant (``output_<variant>`` columns,
candidate prompts) users will prefer, but it can rule variants out: one earns
an online experiment only when it is *shown* to be no worse than the best by
more than a tolerance on every gated metric; "not significantly worse" is not
enough, as with few cases every variant is that. Use::

    rankings = rank_variants(records, alpha=0.05, tolerance=0.02)  # per multi-variant dataset

The rankings are drawn for the terminal and the pull request by
:mod:`pytest_llmfunnel.report.variants`.

* **Metrics and values** are the gate's (:mod:`.gate.metrics`, :mod:`.gate.sides`): the promotion
  rate and each ``<stage> pass rate`` are gated, ``<stage> mean score`` is
  shown only. A case dropped before a stage fails it (or scores the scale's
  minimum); a stage error is left out of both sides of that metric's pair; a
  failed target did not get through. Only cases every variant ran are compared.
* **The best variant** is the highest on the primary metric: the first judge
  pass rate in funnel order, else the promotion rate. Exact ties go to the
  higher mean pairwise score (+1 win, 0 tie, -1 loss; first pairwise stage),
  then the promotion rate, then the name. A pairwise judge meets only the
  first variant with each other one, so it cannot order every pair and does
  not override the primary metric; where it clearly prefers another variant
  (win-rate interval above one half), ``note`` says so.
* **Every other variant** meets the best in :func:`.gate.decide`'s
  non-inferiority mode (best as baseline, variant as current), one call per
  dataset, so Holm runs across its gated (variant, metric) pairs. A *candidate*
  has, on every gated metric, an adjusted p-value below alpha: a one-sided
  lower bound of (variant - best) above -tolerance. Otherwise it is
  *discarded*, with a reason per failing metric: worse beyond the margin, too
  few cases to show non-inferiority at this tolerance (the minimum detectable
  effect exceeds it), or a bound below the margin. A bound that clears the
  margin counts even where the gate would call the sample too small to fail
  on: low power hides a drop, it does not fake a clear bound.
* **Pairwise judges**: wins, ties and losses per pair of variants, and the win
  rate over decisive comparisons (ties left out) with a 95% Wilson interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_llmfunnel.gate.decision import GateDecision, MetricSpec, PairedSample, decide
from pytest_llmfunnel.gate.metrics import PROMOTION, Metric
from pytest_llmfunnel.gate.sides import ERROR, MISSING, Side, side_of_record, value_of
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.variants.pairs import (
    PairwiseResult,
    pair_score,
    pairwise_results,
    preference_note,
)
from pytest_llmfunnel.wording import plural

# The gate's own metric and value rules, used as they are so the two cannot drift apart.

Status = Literal["best", "candidate", "discarded"]
Record = CaseRecord


@dataclass(frozen=True)
class MetricInfo:
    """A metric of a ranking: ``n`` cases behind the values, ``tolerance`` in its own units."""

    name: str
    kind: Literal["binary", "score"]
    gated: bool
    n: int
    tolerance: float


@dataclass(frozen=True)
class Comparison:
    """A variant against the best on one metric, as the gate's non-inferiority test decided it.

    ``decision.diff`` is variant - best, ``decision.bound`` its one-sided
    lower bound at the Holm level, ``decision.p_adjusted`` the adjusted
    p-value. ``shown`` is True when non-inferiority is shown; ``reason`` says
    why not ("" when shown). ``errors`` pairs were left out for stage errors.
    """

    metric: str
    kind: Literal["binary", "score"]
    gated: bool
    shown: bool
    errors: int
    reason: str
    decision: GateDecision


@dataclass(frozen=True)
class VariantResult:
    """One variant's place: ``values`` follow the ranking's ``metrics`` (NaN: no case)."""

    variant: str
    rank: int
    status: Status
    reason: str
    values: tuple[float, ...]
    comparisons: tuple[Comparison, ...]  # against the best; empty for the best itself


@dataclass(frozen=True)
class VariantRanking:
    """The variants of one dataset, best first, and the comparisons that placed them."""

    dataset: str
    cases: int  # cases every variant ran: the ones compared
    unpaired: tuple[str, ...]  # case ids some variant did not run
    primary: str
    alpha: float
    metrics: tuple[MetricInfo, ...]
    variants: tuple[VariantResult, ...]
    pairwise: tuple[PairwiseResult, ...]
    note: str = ""

    @property
    def best(self) -> VariantResult:
        return self.variants[0]

    @property
    def candidates(self) -> tuple[str, ...]:
        """The variants worth an online experiment, best first."""
        return tuple(v.variant for v in self.variants if v.status != "discarded")

    def value(self, variant: str, metric: str) -> float:
        names = [m.name for m in self.metrics]
        return self.result(variant).values[names.index(metric)]

    def result(self, variant: str) -> VariantResult:
        return next(v for v in self.variants if v.variant == variant)


def rank_variants(
    records: Iterable[Record], *, alpha: float = 0.05, tolerance: float = 0.02,
    tolerances: Mapping[str, float] | None = None, seed: int = 0,
) -> list[VariantRanking]:
    """Rank the variants of every dataset that has two or more.

    Args:
        records: per-case records (see :mod:`pytest_llmfunnel.record`); a
            rerun of the same (dataset, case, variant) replaces the earlier one.
        alpha: one-sided error rate of the non-inferiority tests (Holm-adjusted).
        tolerance: the non-inferiority margin, as for the gate (a pass-rate
            fraction; a fraction of the scale width for scores with a scale);
            ``tolerances`` overrides it by metric name.
        seed: passed on to :func:`~pytest_llmfunnel.gate.decision.decide` (deterministic).
    """
    grouped: dict[str, dict[str, dict[str, Record]]] = {}
    for record in records:
        grouped.setdefault(record.dataset, {}).setdefault(record.variant, {})[record.case] = record
    return [
        _rank(dataset, grouped[dataset], alpha, tolerance, tolerances or {}, seed)
        for dataset in sorted(grouped)
        if len(grouped[dataset]) >= 2
    ]


def _metrics(records: Sequence[Record]) -> tuple[list[Metric], str, set[str]]:
    """The gate's metrics in funnel order, the primary metric, and the pairwise stages."""
    kinds: dict[str, str] = {}
    statuses: dict[str, set[str]] = {}  # with the marks "scored" and "pairwise"
    scales: dict[str, tuple[float, float]] = {}
    for s in (s for record in records for s in record.stages):
        kinds.setdefault(s.stage, s.kind)
        seen = statuses.setdefault(s.stage, set())
        seen.add(s.status)
        if s.score is not None:
            seen.add("scored")
        if s.pairwise:
            seen.add("pairwise")
        if s.scale is not None:
            scales[s.stage] = s.scale
    metrics = [Metric(PROMOTION, None, "binary", True, None)]
    for name, kind in kinds.items():
        seen = statuses[name]
        if kind == "check" or "pairwise" in seen:
            continue  # checks count through the promotion rate; pairwise has its own counts
        decides = bool(seen & {"passed", "failed"})
        if decides:
            metrics.append(Metric(f"{name} pass rate", name, "binary", True, scales.get(name)))
        if "scored" in seen and (kind == "judge" or not decides):
            metrics.append(Metric(f"{name} mean score", name, "score", False, scales.get(name)))
    judged = [m.name for m in metrics if m.kind == "binary" and kinds.get(m.stage or "") == "judge"]
    return metrics, (judged or [PROMOTION])[0], {n for n, seen in statuses.items()
                                                 if "pairwise" in seen}


_Cell = float | str  # a number, or ERROR / MISSING


def _cells(metric: Metric, sides: Mapping[str, list[Side]]) -> dict[str, list[_Cell]]:
    """Each variant's value per compared case; a dropped case scores the floor (survivorship)."""
    raw = {v: [value_of(side, metric) for side in column] for v, column in sides.items()}
    numbers = [x for column in raw.values() for x in column if isinstance(x, float)]
    floor = metric.scale[0] if metric.scale else min(numbers, default=0.0)
    return {v: [x if isinstance(x, float) or x in (ERROR, MISSING) else floor for x in column]
            for v, column in raw.items()}


def _means(column: Mapping[str, list[_Cell]]) -> tuple[int, dict[str, float]]:
    """Each variant's mean over the cases where every variant has a value, and their count."""
    size = len(next(iter(column.values())))
    rows = [i for i in range(size) if all(isinstance(col[i], float) for col in column.values())]
    return len(rows), {v: math.fsum(float(col[i]) for i in rows) / len(rows) if rows else math.nan
                       for v, col in column.items()}


def _rank(
    dataset: str, by_variant: Mapping[str, Mapping[str, Record]], alpha: float,
    tolerance: float, tolerances: Mapping[str, float], seed: int,
) -> VariantRanking:
    names = sorted(by_variant)
    cases = sorted(set.intersection(*(set(v) for v in by_variant.values())))
    unpaired = sorted(set().union(*by_variant.values()) - set(cases))
    metrics, primary, pairwise_names = _metrics([by_variant[v][c] for v in names for c in cases])
    sides = {v: [side_of_record(by_variant[v][c]) for c in cases] for v in names}
    cells = [_cells(m, sides) for m in metrics]
    means = [_means(column) for column in cells]
    infos = [MetricInfo(m.name, m.kind, m.gated, n, _spec(m, tolerance, tolerances).tolerance_units)
             for m, (n, _) in zip(metrics, means, strict=True)]
    table = {v: tuple(values[v] for _, values in means) for v in names}
    pairs = pairwise_results(by_variant, names, cases, pairwise_names)
    lead = pairs[0].stage if pairs else ""
    p_index = [m.name for m in metrics].index(primary)

    def key(v: str) -> tuple[float, float, float, str]:
        primary_value, promotion = table[v][p_index], table[v][0]
        return (-primary_value if math.isfinite(primary_value) else math.inf,
                -pair_score([p for p in pairs if p.stage == lead], v),
                -promotion if math.isfinite(promotion) else math.inf, v)

    order = sorted(names, key=key)
    best = order[0]
    comparisons = _compare(dataset, metrics, cells, order, alpha, tolerance, tolerances, seed)
    results = [VariantResult(best, 1, "best", _best_reason([key(v) for v in order], primary,
                                                           table[best][p_index], lead),
                             table[best], ())]
    for rank, v in enumerate(order[1:], start=2):
        status, reason = _verdict(comparisons[v], best)
        results.append(VariantResult(v, rank, status, reason, table[v], tuple(comparisons[v])))
    pairs = [p if order.index(p.variant) < order.index(p.opponent) else p.flipped() for p in pairs]
    return VariantRanking(dataset, len(cases), tuple(unpaired), primary, alpha, tuple(infos),
                          tuple(results), tuple(pairs), preference_note(pairs, best, primary))


def _spec(metric: Metric, tolerance: float, tolerances: Mapping[str, float]) -> MetricSpec:
    tol = tolerances.get(metric.name, tolerance)
    return MetricSpec(metric.name, metric.kind, tol, metric.gated, scale=metric.scale)


def _compare(
    dataset: str, metrics: Sequence[Metric], cells: Sequence[Mapping[str, list[_Cell]]],
    order: Sequence[str], alpha: float, tolerance: float, tolerances: Mapping[str, float],
    seed: int,
) -> dict[str, list[Comparison]]:
    """Every other variant against the best, all in one :func:`decide` call (one Holm family)."""
    samples, errors = [], []
    for v in order[1:]:
        for metric, column in zip(metrics, cells, strict=True):
            pairs = list(zip(column[order[0]], column[v], strict=True))
            both = [(b, c) for b, c in pairs if isinstance(b, float) and isinstance(c, float)]
            errors.append(sum(ERROR in pair for pair in pairs))
            samples.append(PairedSample(_spec(metric, tolerance, tolerances), f"{dataset} [{v}]",
                                        tuple(b for b, _ in both), tuple(c for _, c in both)))
    decisions = decide(samples, alpha=alpha, mode="non-inferiority", seed=seed)
    out: dict[str, list[Comparison]] = {v: [] for v in order[1:]}
    for i, (d, sample) in enumerate(zip(decisions, samples, strict=True)):
        shown = d.p_adjusted < alpha and d.bound > -d.tolerance  # False for NaN
        kind, n_err = sample.metric.kind, errors[i]
        out[order[1 + i // len(metrics)]].append(Comparison(
            d.metric, kind, d.gated, shown, n_err, "" if shown else _why(d, kind, n_err), d))
    return out


def _fmt(value: float, kind: str, signed: bool = True) -> str:
    """Pass rates in percentage points (``pt``), scores in their own units."""
    if not math.isfinite(value):
        return "-"
    sign = "+" if signed else ""
    return f"{value * 100:{sign}.1f}pt" if kind == "binary" else f"{value:{sign}.3g}"


def _why(d: GateDecision, kind: str, errors: int) -> str:
    """Why non-inferiority was not shown on one metric, in one clause that names it."""
    tol = d.tolerance
    margin = _fmt(-tol, kind)
    if d.n == 0 or not math.isfinite(d.bound):
        why = "no case to compare" if d.n == 0 else d.reason
        left = f" ({plural(errors, 'pair')} with stage errors left out)" if errors else ""
        return f"{d.metric}: {why}{left}"
    bound = f"lower bound {_fmt(d.bound, kind)}"
    if d.diff < -tol:
        return (f"{d.metric}: worse by {_fmt(-d.diff, kind, False)} ({bound}, "
                f"margin {margin})")
    if d.mde > tol:
        need = (f"about {math.ceil(d.n * (d.mde / tol) ** 2)} needed" if tol > 0
                else "no number suffices at tolerance 0")
        return (f"{d.metric}: too few cases to show non-inferiority at this tolerance "
                f"({plural(d.n, 'case')} resolve about {_fmt(d.mde, kind, False)}, tolerance "
                f"{_fmt(tol, kind, False)}; {need}; {bound})")
    if d.bound > -tol:
        return (f"{d.metric}: {bound} clears the margin {margin} but not after Holm's "
                f"adjustment (adjusted p={d.p_adjusted:.3g})")
    return (f"{d.metric}: {bound} is not above the margin {margin} "
            f"(diff {_fmt(d.diff, kind)}, adjusted p={d.p_adjusted:.3g})")


def _verdict(comparisons: Sequence[Comparison], best: str) -> tuple[Status, str]:
    gated = [c for c in comparisons if c.gated]
    # Worse beyond the margin first: the reason that matters most leads.
    worse_first = sorted(gated, key=lambda c: c.decision.diff >= -c.decision.tolerance)
    failing = [c.reason for c in worse_first if not c.shown]
    if failing or not gated:
        return "discarded", "; ".join(failing) or "no gated metric to compare"

    def slack(c: Comparison) -> float:
        tol = c.decision.tolerance
        return (c.decision.bound + tol) / tol if tol > 0 else c.decision.bound

    tight = min(gated, key=slack)
    d = tight.decision
    return "candidate", (
        f"non-inferior to {best} on every gated metric; closest: {d.metric} lower bound "
        f"{_fmt(d.bound, tight.kind)} vs margin {_fmt(-d.tolerance, tight.kind)}"
    )


def _best_reason(
    keys: Sequence[tuple[float, float, float, str]], primary: str, value: float, lead: str,
) -> str:
    """Why the first of the ordered ``keys`` is best: the primary metric, or the tie-break."""
    text = f"highest {primary} ({value * 100:.1f}%)"
    if len(keys) < 2 or keys[0][0] != keys[1][0]:
        return text
    mine, theirs = keys[0], keys[1]
    tie = f"tied with {theirs[3]} on {primary}; "
    if mine[1] != theirs[1]:
        return tie + f"ahead on the mean {lead} score ({-mine[1]:+.2f} vs {-theirs[1]:+.2f})"
    return tie + ("ahead on the promotion rate" if mine[2] != theirs[2] else "first by name")
