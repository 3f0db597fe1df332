"""Which output variant deserves an online experiment: a paired ranking of a dataset's variants.

An offline eval cannot say which variant (``output_<variant>`` columns,
candidate prompts) users will prefer, but it can rule variants out: one earns
an online experiment only when it is *shown* to be no worse than the best by
more than a tolerance on every gated metric. "Not significantly worse" is not
enough: with few cases every variant is that. Use::

    rankings = rank_variants(records, alpha=0.05, tolerance=0.02)  # per multi-variant dataset
    variant_lines(rankings, width=80)   # terminal lines; [] when no dataset has two variants
    variants_markdown(rankings)         # pull-request Markdown; "" when none

* **Metrics and values** are the regression gate's (:mod:`.regression`): the
  promotion rate and each ``<stage> pass rate`` are gated, ``<stage> mean
  score`` is shown, never deciding. A case dropped before a stage fails it (or
  scores the scale's minimum); a stage error is left out of both sides of that
  metric's pair; a failed target did not get through. Only cases that every
  variant ran are compared (the others are listed).
* **The best variant** is the highest on the primary metric: the first judge
  pass rate in funnel order, else the promotion rate. Exact ties go to the
  higher mean pairwise score (+1 win, 0 tie, -1 loss, first pairwise stage),
  then the promotion rate, then the name. The pairwise judge does not override
  the primary metric (it meets only the first variant with each other one, so
  it cannot order every pair); where it clearly prefers another variant to the
  best (win-rate interval above one half), ``note`` says so.
* **Every other variant** meets the best in :func:`.gate.decide`'s
  non-inferiority mode (best as "baseline", variant as "current"), one call
  per dataset, so Holm runs across all its gated (variant, metric) pairs. A
  *candidate* has, on every gated metric, an adjusted p-value below alpha: its
  one-sided lower bound of (variant - best) lies above -tolerance. Otherwise it
  is *discarded*, with a reason per failing metric: worse beyond the margin,
  too few cases to show non-inferiority at this tolerance (the minimum
  detectable effect exceeds it), or a bound below the margin.
* **Pairwise judges**: wins, ties and losses per pair of variants, and the win
  rate over decisive comparisons (ties left out) with a 95% Wilson interval.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tabulate import tabulate

from pytest_llmfunnel import regression, stats
from pytest_llmfunnel.gate import GateDecision, MetricSpec, PairedSample, decide
from pytest_llmfunnel.report import short_dataset
from pytest_llmfunnel.report.escape import md_cell, md_text, terminal_text
from pytest_llmfunnel.review import is_pairwise

# The gate's own metric and value rules, used as they are so the two cannot drift apart.
PROMOTION = regression.PROMOTION
Metric = regression._Metric
ERROR, MISSING = regression._ERROR, regression._MISSING

Status = Literal["best", "candidate", "discarded"]
Record = Mapping[str, Any]
CONFIDENCE = 0.95
NAME_WIDTH = 20  # a variant's column header in the terminal
MIN_LABEL = 12
LIST_LIMIT = 5
ICONS = {"best": "🏆", "candidate": "✅", "discarded": "❌"}


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
class PairwiseResult:
    """A pairwise judge's verdicts between two variants, from ``variant``'s point of view."""

    stage: str
    variant: str
    opponent: str
    wins: int
    ties: int
    losses: int
    errors: int

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> float:
        """Wins over decisive comparisons (ties left out); NaN when there were none."""
        return self.wins / self.decisive if self.decisive else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """Two-sided 95% Wilson interval of :attr:`win_rate`."""
        if not self.decisive:
            return math.nan, math.nan
        return stats.wilson_interval(self.wins, self.decisive, CONFIDENCE)

    def flipped(self) -> PairwiseResult:
        return PairwiseResult(self.stage, self.opponent, self.variant, self.losses, self.ties,
                              self.wins, self.errors)


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
    records: Iterable[Record],
    *,
    alpha: float = 0.05,
    tolerance: float = 0.02,
    tolerances: Mapping[str, float] | None = None,
    seed: int = 0,
) -> list[VariantRanking]:
    """Rank the variants of every dataset that has two or more.

    Args:
        records: per-case records (see :mod:`pytest_llmfunnel.results`); a
            rerun of the same (dataset, case, variant) replaces the earlier one.
        alpha: one-sided error rate of the non-inferiority tests (Holm-adjusted).
        tolerance: the non-inferiority margin, as for the gate (a pass-rate
            fraction; a fraction of the scale width for scores with a scale);
            ``tolerances`` overrides it by metric name.
        seed: for the paired bootstrap of small score samples.
    """
    grouped: dict[str, dict[str, dict[str, Record]]] = {}
    for record in records:
        variant = record.get("variant") or "default"
        grouped.setdefault(record["dataset"], {}).setdefault(variant, {})[record["case"]] = record
    return [
        _rank(dataset, grouped[dataset], alpha, tolerance, tolerances or {}, seed)
        for dataset in sorted(grouped)
        if len(grouped[dataset]) >= 2
    ]


def _metrics(records: Sequence[Record]) -> tuple[list[Metric], str, set[str]]:
    """The gate's metrics in funnel order, the primary metric, and the pairwise stages."""
    kinds: dict[str, str] = {}
    statuses: dict[str, set[str]] = {}
    scales: dict[str, tuple[float, float]] = {}
    scored: set[str] = set()
    pairwise: set[str] = set()
    for record in records:
        for s in record.get("stages", ()):
            name = s["stage"]
            kinds.setdefault(name, s["kind"])
            statuses.setdefault(name, set()).add(s["status"])
            if s.get("scale") is not None:
                scales[name] = (float(s["scale"][0]), float(s["scale"][1]))
            if s.get("score") is not None:
                scored.add(name)
            if is_pairwise(s):
                pairwise.add(name)
    metrics = [Metric(PROMOTION, None, "binary", True, None)]
    primary = PROMOTION
    for name, kind in kinds.items():
        if kind == "check" or name in pairwise:
            continue  # checks count through the promotion rate; pairwise has its own table
        decides = bool(statuses[name] & {"passed", "failed"})
        if decides:
            metrics.append(Metric(f"{name} pass rate", name, "binary", True, scales.get(name)))
            if kind == "judge" and primary == PROMOTION:
                primary = f"{name} pass rate"
        if name in scored and (kind == "judge" or not decides):
            metrics.append(Metric(f"{name} mean score", name, "score", False, scales.get(name)))
    return metrics, primary, pairwise


_Cell = float | str  # a number, or ERROR / MISSING


def _cells(
    metric: Metric, sides: Mapping[str, Sequence[regression._Side]]
) -> dict[str, list[_Cell]]:
    """Each variant's value per compared case; a dropped case scores the floor (survivorship)."""
    raw = {v: [regression._value(side, metric) for side in column] for v, column in sides.items()}
    numbers = [x for column in raw.values() for x in column if isinstance(x, float)]
    floor = metric.scale[0] if metric.scale else min(numbers, default=0.0)
    return {
        v: [x if isinstance(x, float) or x in (ERROR, MISSING) else floor for x in column]
        for v, column in raw.items()
    }


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def _rank(
    dataset: str, by_variant: Mapping[str, Mapping[str, Record]], alpha: float,
    tolerance: float, tolerances: Mapping[str, float], seed: int,
) -> VariantRanking:
    names = sorted(by_variant)
    every = set.intersection(*(set(cases) for cases in by_variant.values()))
    cases = sorted(every)
    unpaired = sorted(set().union(*by_variant.values()) - every)
    records = [by_variant[v][c] for v in names for c in cases]
    metrics, primary, pairwise_names = _metrics(records)
    sides = {v: [regression._side_of_record(by_variant[v][c]) for c in cases] for v in names}
    cells = [_cells(m, sides) for m in metrics]
    infos, table = [], []
    for metric, column in zip(metrics, cells, strict=True):
        usable = [i for i in range(len(cases))
                  if all(isinstance(column[v][i], float) for v in names)]
        table.append({v: _mean([float(column[v][i]) for i in usable]) for v in names})
        spec = _spec(metric, tolerance, tolerances)
        infos.append(MetricInfo(metric.name, metric.kind, metric.gated, len(usable),
                                spec.tolerance_units))
    pairs = _pairwise(by_variant, names, cases, pairwise_names)
    lead = pairs[0].stage if pairs else None
    pair_score = {v: _pair_score([p for p in pairs if p.stage == lead], v) for v in names}
    p_index = [m.name for m in metrics].index(primary)

    def key(v: str) -> tuple[float, float, float, str]:
        first, promo = table[p_index][v], table[0][v]
        return (-_finite_or(first, -math.inf), -pair_score[v], -_finite_or(promo, -math.inf), v)

    order = sorted(names, key=key)
    best = order[0]
    comparisons = _compare(dataset, metrics, cells, order, alpha, tolerance, tolerances, seed)
    pairs = [p if order.index(p.variant) < order.index(p.opponent) else p.flipped() for p in pairs]
    results = [
        VariantResult(best, 1, "best", _best_reason(order, key, primary, table[p_index], lead),
                      tuple(t[best] for t in table), ())
    ]
    for rank, v in enumerate(order[1:], start=2):
        mine = tuple(comparisons[v])
        status, reason = _verdict(mine, best)
        results.append(VariantResult(v, rank, status, reason, tuple(t[v] for t in table), mine))
    return VariantRanking(
        dataset, len(cases), tuple(unpaired), primary, alpha, tuple(infos), tuple(results),
        tuple(pairs), _note(pairs, best, primary),
    )


def _finite_or(value: float, default: float) -> float:
    return value if math.isfinite(value) else default


def _spec(metric: Metric, tolerance: float, tolerances: Mapping[str, float]) -> MetricSpec:
    tol = tolerances.get(metric.name, tolerance)
    return MetricSpec(metric.name, metric.kind, tol, metric.gated, scale=metric.scale)


def _compare(
    dataset: str, metrics: Sequence[Metric], cells: Sequence[Mapping[str, list[_Cell]]],
    order: Sequence[str], alpha: float, tolerance: float, tolerances: Mapping[str, float],
    seed: int,
) -> dict[str, list[Comparison]]:
    """Every other variant against the best, all in one :func:`decide` call (one Holm family)."""
    best = order[0]
    samples, owners, errors = [], [], []
    for v in order[1:]:
        for metric, column in zip(metrics, cells, strict=True):
            b_col, c_col = column[best], column[v]
            both = [(b, c) for b, c in zip(b_col, c_col, strict=True)
                    if isinstance(b, float) and isinstance(c, float)]
            errors.append(sum(ERROR in (b, c) for b, c in zip(b_col, c_col, strict=True)))
            samples.append(PairedSample(
                _spec(metric, tolerance, tolerances), f"{dataset} [{v}]",
                tuple(b for b, _ in both), tuple(c for _, c in both),
            ))
            owners.append(v)
    decisions = decide(samples, alpha=alpha, mode="non-inferiority", seed=seed)
    out: dict[str, list[Comparison]] = {v: [] for v in order[1:]}
    for v, d, sample, n_err in zip(owners, decisions, samples, errors, strict=True):
        shown = (math.isfinite(d.p_adjusted) and d.p_adjusted < alpha
                 and math.isfinite(d.bound) and d.bound > -d.tolerance)
        kind = sample.metric.kind
        out[v].append(Comparison(d.metric, kind, d.gated, shown, n_err,
                                 "" if shown else _why(d, kind, n_err), d))
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
        left = f" ({errors} pairs with stage errors left out)" if errors else ""
        return f"{d.metric}: nothing to compare{left}: {d.reason}"
    bound = f"lower bound {_fmt(d.bound, kind)}"
    if d.diff < -tol:
        return (f"{d.metric}: worse by {_fmt(-d.diff, kind, False)} ({bound}, "
                f"margin {margin})")
    if d.mde > tol:
        need = (f"about {math.ceil(d.n * (d.mde / tol) ** 2)} needed" if tol > 0
                else "no number suffices at tolerance 0")
        return (f"{d.metric}: too few cases to show non-inferiority at this tolerance "
                f"({d.n} cases resolve about {_fmt(d.mde, kind, False)}, tolerance "
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
    order: Sequence[str], key: Callable[[str], tuple[float, float, float, str]], primary: str,
    values: Mapping[str, float], lead: str | None,
) -> str:
    best = order[0]
    text = f"highest {primary} ({values[best] * 100:.1f}%)"
    if len(order) < 2:
        return text
    mine, theirs = key(best), key(order[1])
    if mine[0] != theirs[0]:
        return text
    tie = f"tied with {order[1]} on {primary}; "
    if mine[1] != theirs[1]:
        return tie + f"ahead on the mean {lead} score ({-mine[1]:+.2f} vs {-theirs[1]:+.2f})"
    if mine[2] != theirs[2]:
        return tie + "ahead on the promotion rate"
    return tie + "first by name"


def _opponent(
    name: str, variant: str, names: Sequence[str], by_variant: Mapping[str, Mapping[str, Record]],
    case: str,
) -> tuple[str, str] | None:
    """(criterion, other variant) of a pairwise stage seen on ``variant``'s record of ``case``.

    The first variant of a case meets several others under ``<judge> vs <other>``;
    each other variant's mirror is named ``<judge>``.
    """
    for other in names:
        if other != variant and name.endswith(f" vs {other}"):
            return name[: -len(f" vs {other}")], other
    if len(names) == 2:
        return name, names[1] if names[0] == variant else names[0]
    return None  # a mirror among several variants: counted on the first variant's record


def _pairwise(
    by_variant: Mapping[str, Mapping[str, Record]], names: Sequence[str], cases: Sequence[str],
    stage_names: set[str],
) -> list[PairwiseResult]:
    """Win/tie/loss counts per pairwise criterion and pair of variants, each case counted once."""
    seen: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for v in names:
        for case in cases:
            for s in by_variant[v][case].get("stages", ()):
                found = s["stage"] in stage_names and _opponent(
                    s["stage"], v, names, by_variant, case)
                if not found:
                    continue
                criterion, other = found
                a, b = sorted((v, other))
                score = s.get("score")
                if s["status"] == "error" or score is None:
                    oriented = None
                else:
                    oriented = float(score) if v == a else -float(score)
                seen.setdefault((criterion, a, b), {}).setdefault(case, oriented)
    out = []
    for (criterion, a, b), scores in seen.items():
        values = list(scores.values())
        out.append(PairwiseResult(
            criterion, a, b, sum(1 for x in values if x is not None and x > 0),
            values.count(0.0), sum(1 for x in values if x is not None and x < 0),
            values.count(None),
        ))
    return out


def _pair_score(pairs: Sequence[PairwiseResult], variant: str) -> float:
    """Mean pairwise score (+1 win, 0 tie, -1 loss) of ``variant``; 0 when it met nobody."""
    mine = [p if p.variant == variant else p.flipped() for p in pairs
            if variant in (p.variant, p.opponent)]
    n = sum(p.wins + p.ties + p.losses for p in mine)
    return sum(p.wins - p.losses for p in mine) / n if n else 0.0


def _note(pairs: Sequence[PairwiseResult], best: str, primary: str) -> str:
    """Where a pairwise judge clearly prefers another variant to the best."""
    notes = []
    for p in pairs:
        if p.variant == best and p.decisive and p.interval[1] < 0.5:
            other = p.flipped()
            lo, hi = other.interval
            notes.append(
                f"{p.stage} prefers {p.opponent} to {best} ({p.opponent} wins {other.wins} of "
                f"{p.decisive} decisive comparisons, 95% CI {lo:.0%}-{hi:.0%}); the ranking "
                f"follows {primary}"
            )
    return "; ".join(notes)


# --- rendering ------------------------------------------------------------------


def _value_text(value: float, info: MetricInfo) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value * 100:.1f}%" if info.kind == "binary" else f"{value:.3g}"


def _pairwise_text(p: PairwiseResult) -> str:
    lo, hi = p.interval
    rate = (f"; {p.variant}'s win rate {p.win_rate:.0%} (95% CI {lo:.0%}-{hi:.0%}, ties left out)"
            if p.decisive else "")
    errors = f", {p.errors} errors" if p.errors else ""
    return (f"{p.stage}: {p.variant} wins {p.wins}, {p.opponent} wins {p.losses}, "
            f"ties {p.ties}{errors}{rate}")


def _head(r: VariantRanking) -> str:
    return (f"{len(r.variants)} variants over the {r.cases} cases every variant ran, ranked by "
            f"{r.primary}; a candidate's lower bound of (variant - best) clears -tolerance on "
            f"every gated metric (one-sided, Holm, alpha {r.alpha:g})")


def _wrap(text: str, width: int, first: str = "", indent: str = "  ") -> list[str]:
    return textwrap.wrap(terminal_text(text, None), width, initial_indent=first,
                         subsequent_indent=indent, break_on_hyphens=False) or [""]


def _grid(r: VariantRanking, width: int) -> list[str]:
    """Metrics down, variants across; variant columns go to further tables when too wide."""
    heads = [terminal_text(v.variant, NAME_WIDTH) for v in r.variants]
    columns = [[_value_text(x, m) for x, m in zip(v.values, r.metrics, strict=True)] + [v.status]
               for v in r.variants]
    widths = [max(len(h), *(len(c) for c in col)) for h, col in zip(heads, columns, strict=True)]
    labels = ["metric", *(terminal_text(m.name, None) + ("" if m.gated else "*")
                          for m in r.metrics), "status"]
    label_w = min(max(map(len, labels)), max(MIN_LABEL, width - 2 - max(widths)))
    labels = [terminal_text(x, label_w) for x in labels]
    chunks: list[list[int]] = [[]]
    used = label_w
    for j, w in enumerate(widths):
        if chunks[-1] and used + 2 + w > width:
            chunks.append([])
            used = label_w
        chunks[-1].append(j)
        used += 2 + w
    lines: list[str] = []
    for chunk in chunks:
        rows = [[labels[0], *(heads[j] for j in chunk)]]
        rows += [[labels[i + 1], *(columns[j][i] for j in chunk)] for i in range(len(labels) - 1)]
        text = tabulate(rows, tablefmt="plain", colalign=("left", *["right"] * len(chunk)),
                        disable_numparse=True).splitlines()
        rule = "  ".join("-" * w for w in [label_w, *(widths[j] for j in chunk)])
        lines += [text[0].rstrip(), rule, *(line.rstrip() for line in text[1:])]
    return lines


def variant_lines(rankings: Sequence[VariantRanking], width: int = 80) -> list[str]:
    """The terminal section: per dataset a table of the variants and one line per verdict.

    Every line fits ``width`` columns; untrusted names are made inert.
    """
    lines: list[str] = []
    for r in rankings:
        lines += [""] if lines else []
        lines += _wrap(f"variants of {short_dataset(r.dataset)}: {_head(r)}:", width)
        lines += _grid(r, width)
        lines += _wrap("pass rates in %, bounds in points; * shown only, not deciding", width)
        for text in _verdict_texts(r):
            lines += _wrap(text, width, "  ", "    ")
    return lines


def _verdict_texts(r: VariantRanking) -> list[str]:
    """One plain sentence per variant, pairwise result, note and left-out list."""
    texts = [f"{terminal_text(v.variant, 40)}: {v.status}: {v.reason}" for v in r.variants]
    texts += [_pairwise_text(p) for p in r.pairwise]
    texts += [f"note: {r.note}"] if r.note else []
    if r.unpaired:
        listed = ", ".join(r.unpaired[:LIST_LIMIT]) + (", ..." * (len(r.unpaired) > LIST_LIMIT))
        texts.append(f"{len(r.unpaired)} cases left out (not run for every variant): {listed}")
    return texts


def variants_markdown(rankings: Sequence[VariantRanking]) -> str:
    """The pull-request section: per dataset a table of the variants and who goes online."""
    blocks = []
    for r in rankings:
        headers = ["rank", "variant", "status",
                   *(md_cell(m.name, 80) + ("" if m.gated else "\\*") for m in r.metrics)]
        rows = [[str(v.rank), md_cell(v.variant, 80), f"{ICONS[v.status]} {v.status}",
                 *(_value_text(x, m) for x, m in zip(v.values, r.metrics, strict=True))]
                for v in r.variants]
        align = ["---:", "---", "---", *["---:"] * len(r.metrics)]
        chosen = ", ".join(f"**{md_text(v.variant, 80)}**" + " (best)" * (v.status == "best")
                           for v in r.variants if v.status != "discarded")
        texts = _verdict_texts(r)
        blocks.append("\n".join([
            f"**{md_text(short_dataset(r.dataset), 80)}**: {md_text(_head(r), None)}.", "",
            *("| " + " | ".join(row) + " |" for row in [headers, align, *rows]), "",
            f"Candidates for an online experiment: {chosen}.", "",
            *(f"- {ICONS[v.status]} **{md_text(v.variant, 80)}** ({v.status}): "
              f"{md_text(v.reason, None)}" for v in r.variants),
            *(f"- {md_text(t, None)}" for t in texts[len(r.variants):]), "",
            "Pass rates in %, bounds in percentage points; \\* shown only, not deciding.",
        ]))
    return "\n\n".join(blocks)
