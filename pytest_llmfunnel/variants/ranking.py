"""Which variants deserve an online experiment: an honest ranking of a dataset's variants.

An offline eval cannot say which variant (``output_<variant>`` columns,
candidate prompts) users will prefer, but it can rule some in and some out,
and say where it cannot tell. Use::

    rankings = rank_variants(records, alpha=0.05, tolerance=0.02)      # control: the best
    rankings = rank_variants(records, control="production")            # a named control
    rankings = rank_variants(records, controls={"test_x.py::test_x": "production"})  # per dataset

The rankings are drawn for the terminal and the pull request by
:mod:`pytest_llmfunnel.report.variants`.

* **Metrics and values** are the gate's (:mod:`.gate.metrics`, :mod:`.gate.sides`): the promotion
  rate and each ``<stage> pass rate`` are gated, ``<stage> mean score`` is
  shown only. A case dropped before a stage fails it (or scores the scale's
  minimum); a stage error is left out of both sides of that metric's pair; a
  failed target did not get through. Only cases every variant ran are compared.
  Each pairwise judge adds a gated ``<stage> win rate vs <control>``: the
  variant's wins over the control among decisive comparisons (ties left out).
* **Best on what** (:mod:`.leaders`): per gated metric the highest variant, and
  whether it is clearly ahead of the runner-up or tied within noise.
* **The control** is the best variant (highest on the primary metric: the
  first judge pass rate in funnel order, else the promotion rate; exact ties
  go to the mean pairwise score, the promotion rate, the name), or the one
  named with ``control=`` (every dataset) or ``controls=`` (one dataset's: the
  funnel's own ``control=``, which ``control=`` overrides).
* **Every other variant** is non-inferior within a stated margin, clearly
  worse, or undecided at this size, on every gated metric against the control
  (:mod:`.outcomes`, which also says why a margin chosen from the number of
  cases and the noise keeps the test honest). ``online`` answers "online
  experiment?": yes (control, non-inferior), only if cheap (undecided), no
  (clearly worse).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_llmfunnel.gate.decision import GateDecision, MetricSpec
from pytest_llmfunnel.gate.metrics import PROMOTION, Metric
from pytest_llmfunnel.gate.sides import ERROR, MISSING, Side, side_of_record, value_of
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.variants.leaders import Leader, leaders, pass_rate_p, win_rate_p
from pytest_llmfunnel.variants.outcomes import (
    ONLINE,
    MarginVerdict,
    Outcome,
    Probe,
    decide_family,
    outcome_of,
    paired_probe,
    win_rate_probe,
)
from pytest_llmfunnel.variants.pairs import (
    PairwiseResult,
    pair_score,
    pairwise_results,
    preference_note,
)
from pytest_llmfunnel.variants.reasons import control_reason, reason_for, verdict_text
from pytest_llmfunnel.wording import plural

# The gate's own metric and value rules, used as they are so the two cannot drift apart.

# The ledger's word for a place: the control is "best", a non-inferior variant a
# "candidate" (promoted offline), the others "discarded" (not promoted offline).
Status = Literal["best", "candidate", "discarded"]
STATUS: dict[Outcome, Status] = {"control": "best", "non-inferior": "candidate",
                                 "clearly worse": "discarded", "undecided": "discarded"}
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
    """A variant against the control on one gated metric.

    ``verdict`` holds the margin, bounds, Holm-adjusted p-values and the cases
    needed (None: no case to compare); ``decision`` restates the
    non-inferiority test at that margin in the gate's terms (``diff`` is
    variant - control). ``shown``: non-inferior; ``reason`` says what was found.
    """

    metric: str
    kind: Literal["binary", "score"]
    gated: bool
    shown: bool
    errors: int
    reason: str
    decision: GateDecision
    verdict: MarginVerdict | None = None


@dataclass(frozen=True)
class VariantResult:
    """One variant's place: ``values`` follow the ranking's ``metrics`` (NaN: no value)."""

    variant: str
    rank: int  # by the primary metric
    status: Status
    reason: str
    values: tuple[float, ...]
    comparisons: tuple[Comparison, ...]  # against the control; empty for the control itself
    outcome: Outcome = "control"
    online: str = ONLINE["control"]


@dataclass(frozen=True)
class VariantRanking:
    """The variants of one dataset, the control first, and the comparisons that placed them."""

    dataset: str
    cases: int  # cases every variant ran: the ones compared
    unpaired: tuple[str, ...]  # case ids some variant did not run
    primary: str
    alpha: float
    metrics: tuple[MetricInfo, ...]
    variants: tuple[VariantResult, ...]
    pairwise: tuple[PairwiseResult, ...]
    note: str = ""
    control: str = ""
    leaders: tuple[Leader, ...] = ()

    @property
    def best(self) -> VariantResult:
        """The control (the best variant unless one was named)."""
        return self.variants[0]

    @property
    def candidates(self) -> tuple[str, ...]:
        """The variants an online experiment is worth: the control and the non-inferior ones."""
        return tuple(v.variant for v in self.variants if v.status != "discarded")

    def value(self, variant: str, metric: str) -> float:
        names = [m.name for m in self.metrics]
        return self.result(variant).values[names.index(metric)]

    def result(self, variant: str) -> VariantResult:
        return next(v for v in self.variants if v.variant == variant)


def rank_variants(
    records: Iterable[Record], *, alpha: float = 0.05, tolerance: float = 0.02,
    tolerances: Mapping[str, float] | None = None, seed: int = 0, control: str | None = None,
    controls: Mapping[str, str] | None = None,
) -> list[VariantRanking]:
    """Rank the variants of every dataset that has two or more.

    Args:
        records: per-case records (see :mod:`pytest_llmfunnel.record`); a
            rerun of the same (dataset, case, variant) replaces the earlier one.
        alpha: one-sided error rate of each test (Holm-adjusted across the dataset).
        tolerance: the margin wanted, as for the gate (a pass-rate fraction; a
            fraction of the scale width for scores with a scale);
            ``tolerances`` overrides it by metric name. Where the cases cannot
            resolve it the stated margin is wider (:mod:`.outcomes`).
        seed: accepted for older callers; every test is deterministic.
        control: the variant the others are compared with (default: the best);
            a dataset without a variant of that name compares with its best and
            says so in its ``note``.
        controls: each dataset's own control (the funnel's ``control=``), used
            where ``control`` is None; a dataset not in it compares with its best.
    """
    del seed
    grouped: dict[str, dict[str, dict[str, Record]]] = {}
    for record in records:
        grouped.setdefault(record.dataset, {}).setdefault(record.variant, {})[record.case] = record
    return [
        _rank(dataset, grouped[dataset], alpha, tolerance, tolerances or {},
              control if control is not None else (controls or {}).get(dataset))
        for dataset in sorted(grouped) if len(grouped[dataset]) >= 2
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
    tolerance: float, tolerances: Mapping[str, float], control: str | None,
) -> VariantRanking:
    names = sorted(by_variant)
    cases = sorted(set.intersection(*(set(v) for v in by_variant.values())))
    unpaired = sorted(set().union(*by_variant.values()) - set(cases))
    metrics, primary, pairwise_names = _metrics([by_variant[v][c] for v in names for c in cases])
    sides = {v: [side_of_record(by_variant[v][c]) for c in cases] for v in names}
    cells = [_cells(m, sides) for m in metrics]
    means = [_means(column) for column in cells]
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
    missing = control if control is not None and control not in names else None
    control = None if missing else control
    chosen = control or order[0]
    others = [v for v in order if v != chosen]
    stages = sorted({p.stage for p in pairs})
    against = {(s, v): _against(pairs, s, v, chosen) for s in stages for v in others}
    win_names = [f"{s} win rate vs {chosen}" for s in stages]
    infos = [MetricInfo(m.name, m.kind, m.gated, n, _tol(m, tolerance, tolerances))
             for m, (n, _) in zip(metrics, means, strict=True)]
    infos += [MetricInfo(w, "binary", True, len(cases), tolerances.get(w, tolerance))
              for w in win_names]
    probes: list[tuple[str, Probe | None, int]] = []
    for v in others:
        for m, column in zip(metrics, cells, strict=True):
            if not m.gated:
                continue
            both = [(b, c) for b, c in zip(column[chosen], column[v], strict=True)
                    if isinstance(b, float) and isinstance(c, float)]
            errs = sum(ERROR in pair for pair in zip(column[chosen], column[v], strict=True))
            probes.append((v, paired_probe(m.name, m.kind, [b for b, _ in both],
                                           [c for _, c in both]) if both else None, errs))
        for s, w in zip(stages, win_names, strict=True):
            found = against[(s, v)]
            if found is None:
                continue  # this judge never met the control with v: no win rate to compare
            probes.append((v, win_rate_probe(w, found.wins, found.losses,
                                             found.wins + found.ties + found.losses),
                           found.errors))
    live = [(v, p) for v, p, _ in probes if p is not None]
    tols = [next(i.tolerance for i in infos if i.name == p.metric) for _, p in live]
    verdicts = iter(decide_family([p for _, p in live], tols, alpha))
    per: dict[str, list[Comparison]] = {v: [] for v in others}
    for v, probe, errs in probes:
        per[v].append(_comparison(next(verdicts), dataset, v, errs) if probe else
                      _missing(dataset, v, errs))
    wins = {(s, v): p.win_rate for (s, v), p in against.items() if p is not None}
    values = {v: table[v] + tuple(wins.get((s, v), math.nan) for s in stages) for v in names}
    results = [VariantResult(chosen, order.index(chosen) + 1, "best", control_reason(
        chosen, control, [key(v) for v in order], primary, table[chosen][p_index], lead),
        values[chosen], (), "control", ONLINE["control"])]
    for v in others:
        comps = tuple(per[v])
        outcome = outcome_of([c.verdict for c in comps if c.verdict] + _undecidable(comps))
        reason = reason_for(outcome, [(c.reason, c.verdict) for c in comps], chosen)
        results.append(VariantResult(v, order.index(v) + 1, STATUS[outcome], reason, values[v],
                                     comps, outcome, ONLINE[outcome]))
    pairs = [p if order.index(p.variant) < order.index(p.opponent) else p.flipped() for p in pairs]
    return VariantRanking(dataset, len(cases), tuple(unpaired), primary, alpha, tuple(infos),
                          tuple(results), tuple(pairs), "; ".join(filter(None, [
                              f"no variant is named {missing!r}: compared with the best, "
                              f"{chosen}" if missing else "",
                              preference_note(pairs, order[0], primary)])),
                          chosen, tuple(_leaders(metrics, cells, means, against, stages,
                                                 win_names, chosen, alpha)))


def _undecidable(comps: Sequence[Comparison]) -> list[MarginVerdict]:
    """A comparison without data can show nothing: it keeps the variant undecided."""
    return [MarginVerdict(c.metric, c.kind, 0, math.nan, 0.0, math.nan, None, False, False,
                    math.nan, math.nan, math.nan, math.nan, None, "none")
            for c in comps if c.verdict is None]


def _against(pairs: Sequence[PairwiseResult], stage: str, variant: str,
             control: str) -> PairwiseResult | None:
    """``variant``'s pairwise result against the control on ``stage``, from its side."""
    for p in pairs:
        if p.stage == stage and {p.variant, p.opponent} == {variant, control}:
            return p if p.variant == variant else p.flipped()
    return None


def _tol(metric: Metric, tolerance: float, tolerances: Mapping[str, float]) -> float:
    spec = MetricSpec(metric.name, metric.kind, tolerances.get(metric.name, tolerance),
                      metric.gated, scale=metric.scale)
    return spec.tolerance_units


def _comparison(v: MarginVerdict, dataset: str, variant: str, errors: int) -> Comparison:
    """The verdict, with the non-inferiority decision at its margin in the gate's terms."""
    decision = GateDecision(
        dataset=f"{dataset} [{variant}]", metric=v.metric, n=v.n, baseline_mean=math.nan,
        current_mean=math.nan, diff=v.diff, bound=v.lower, p_value=v.p_raw,
        p_adjusted=v.p_noninferior, mde=v.margin, decision="ok" if v.noninferior else
        "regressed" if v.worse else "not comparable", reason=verdict_text(v), test=v.test,
        flips=v.flips, gated=True, level=v.level, tolerance=v.margin, mode="non-inferiority")
    return Comparison(v.metric, v.kind, True, v.noninferior, errors, verdict_text(v),
                      decision, v)


def _missing(dataset: str, variant: str, errors: int) -> Comparison:
    nan = math.nan
    decision = GateDecision(f"{dataset} [{variant}]", "-", 0, nan, nan, nan, nan, nan, nan,
                            nan, "not comparable", "no case to compare", "none", None, True,
                            nan, nan, "non-inferiority")
    left = f" ({plural(errors, 'pair')} with stage errors left out)" if errors else ""
    return Comparison("-", "binary", True, False, errors, f"no case to compare{left}", decision,
                      None)


def _leaders(
    metrics: Sequence[Metric], cells: Sequence[Mapping[str, list[_Cell]]],
    means: Sequence[tuple[int, dict[str, float]]],
    against: Mapping[tuple[str, str], PairwiseResult | None], stages: Sequence[str],
    win_names: Sequence[str], control: str, alpha: float,
) -> list[Leader]:
    found: list[tuple[str, str, str, float]] = []
    for m, column, (_, values) in zip(metrics, cells, means, strict=True):
        ranked = sorted((v for v in values if math.isfinite(values[v])),
                        key=lambda v: (-values[v], v))
        if not m.gated or len(ranked) < 2:
            continue
        top, second = ranked[0], ranked[1]
        both = [(a, b) for a, b in zip(column[top], column[second], strict=True)
                if isinstance(a, float) and isinstance(b, float)]
        level = values[top] == values[second]
        found.append((m.name, top, second, math.nan if level else pass_rate_p(
            m.kind, [a for a, _ in both], [b for _, b in both])))
    for s, w in zip(stages, win_names, strict=True):
        results = [p for (stage, _), p in against.items() if stage == s and p and p.decisive]
        if not results:
            continue
        best = max(results, key=lambda p: (p.win_rate, p.variant))
        if best.win_rate > 0.5:
            found.append((w, best.variant, control, win_rate_p(best.wins, best.losses)))
        else:
            low = min(results, key=lambda p: (p.win_rate, p.variant))
            found.append((w, control, low.variant, win_rate_p(low.losses, low.wins)))
    return leaders(found, alpha)
