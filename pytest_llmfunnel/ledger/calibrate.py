"""How well the offline funnel predicted the online experiments: ``llmfunnel ledger calibrate``.

Each online outcome is matched to the offline run of its variant: the latest
run entry of that variant (and eval test, when given) written at or before
the outcome, else the latest one. Its offline difference on a metric is the
variant minus the experiment's control from that same run when the outcome
names a control the run also measured, else the difference the gate or the
ranking decided on (against the baseline, or the best variant).

Three answers, over every matched experiment:

* **promotion**: of the variants the funnel promoted (the gate passed, or the
  ranking said they deserve an online experiment: the control and the
  variants non-inferior within the stated margin), the share that won online;
  of the ones the ranking left undecided at that size; and of the ones it did
  not promote (clearly worse, or the gate failed). Ledger lines of schema 1
  (a place: best, candidate or discarded) count by their ``promoted`` field;
* **rank agreement**: per offline metric and online metric, Spearman's ρ
  between the offline differences and the online effects, with a 95%
  interval (:mod:`.rank_correlation`);
* **direction**: per offline metric, a 2×2 of offline direction (up: the
  difference is above 0) against the online decision (win, or not), and the
  share of experiments where the two agree.

A metric *predicts* online wins when its ρ interval lies above 0; with fewer
than :data:`MIN_EXPERIMENTS` experiments nothing is said either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pytest_llmfunnel.ledger.entries import OnlineEntry, RunEntry
from pytest_llmfunnel.ledger.files import Ledger
from pytest_llmfunnel.ledger.rank_correlation import RankCorrelation, spearman
from pytest_llmfunnel.wording import plural

MIN_EXPERIMENTS = 5


@dataclass(frozen=True)
class Matched:
    """One online outcome and the offline run entry it was matched to (None: none found)."""

    online: OnlineEntry
    offline: RunEntry | None
    diffs: dict[str, float]  # offline metric -> offline difference


@dataclass(frozen=True)
class MetricCalibration:
    """One offline metric against one online metric, over the experiments that have both."""

    metric: str
    online_metric: str
    correlation: RankCorrelation
    up_win: int
    up_other: int
    down_win: int
    down_other: int

    @property
    def n(self) -> int:
        return self.up_win + self.up_other + self.down_win + self.down_other

    @property
    def agreement(self) -> float:
        return (self.up_win + self.down_other) / self.n if self.n else float("nan")

    @property
    def says(self) -> str:
        if self.n < MIN_EXPERIMENTS:
            return f"too few experiments to say (fewer than {MIN_EXPERIMENTS})"
        c = self.correlation
        if c.rho is None:
            return "no spread to rank on"
        if c.low is None or c.high is None:
            return "perfect rank order; no interval (collect more experiments)"
        if c.low > 0:
            return "predicts online wins"
        if c.high < 0:
            return "predicts the opposite of the online result"
        return "no evidence it predicts online wins"


@dataclass(frozen=True)
class Calibration:
    matched: tuple[Matched, ...]
    metrics: tuple[MetricCalibration, ...]

    @property
    def promoted(self) -> list[Matched]:
        return [m for m in self.matched if m.offline is not None and m.offline.promoted]

    @property
    def undecided(self) -> list[Matched]:
        """Matched to a run whose ranking could not decide at its size (only if cheap)."""
        return [m for m in self.matched if m.offline is not None
                and m.offline.outcome == "undecided"]

    @property
    def not_promoted(self) -> list[Matched]:
        return [m for m in self.matched if m.offline is not None and m.offline.promoted is False
                and m.offline.outcome != "undecided"]

    @property
    def unmatched(self) -> list[Matched]:
        return [m for m in self.matched if m.offline is None]


def calibrate(ledger: Ledger) -> Calibration:
    """Match every online outcome to its offline run and measure the agreement."""
    matched = tuple(match(o, ledger.runs) for o in ledger.online)
    keys: list[tuple[str, str]] = []
    for m in matched:
        for name in m.diffs:
            if (name, m.online.metric) not in keys:
                keys.append((name, m.online.metric))
    metrics = tuple(_metric(name, online, matched) for name, online in keys)
    return Calibration(matched, metrics)


def match(online: OnlineEntry, runs: Sequence[RunEntry]) -> Matched:
    """The offline run entry an online outcome speaks for, and its offline differences."""
    mine = [r for r in runs if r.variant == online.variant
            and (online.test is None or r.test == online.test)]
    before = [r for r in mine if r.time <= online.time]
    chosen = max(before or mine, key=lambda r: r.time, default=None)
    if chosen is None:
        return Matched(online, None, {})
    control = None
    if online.control is not None:
        control = next((r for r in runs if r.run_id == chosen.run_id and r.test == chosen.test
                        and r.variant == online.control), None)
    diffs: dict[str, float] = {}
    for metric in chosen.metrics:
        if control is not None:
            other = control.metric(metric.name)
            if metric.value is not None and other is not None and other.value is not None:
                diffs[metric.name] = round(metric.value - other.value, 6)
        elif metric.diff is not None:
            diffs[metric.name] = metric.diff
    return Matched(online, chosen, diffs)


def _metric(name: str, online_metric: str, matched: Sequence[Matched]) -> MetricCalibration:
    pairs = [(m.diffs[name], m.online) for m in matched
             if name in m.diffs and m.online.metric == online_metric]
    cells = [0, 0, 0, 0]
    for diff, o in pairs:
        cells[(0 if diff > 0 else 2) + (0 if o.decision == "win" else 1)] += 1
    rho = spearman([d for d, _ in pairs], [o.effect for _, o in pairs])
    return MetricCalibration(name, online_metric, rho, *cells)


def _share(k: int, n: int) -> str:
    return f"{k} of {n} ({k / n:.0%})" if n else "none"


def _num(value: float | None, fmt: str = "+.2f") -> str:
    return "—" if value is None else format(value, fmt)


def offline_text(run: RunEntry) -> str:
    """What the offline funnel said of a run: ``non-inferior within 9.4pt``, ``promoted``..."""
    margin = run.margin
    if run.outcome == "non-inferior" and margin is not None:
        return f"non-inferior within {margin * 100:.1f}pt"
    if run.outcome == "undecided" and run.cases_needed is not None:
        return f"undecided (tolerance needs ~{plural(run.cases_needed, 'case')})"
    return run.offline


def calibration_lines(result: Calibration) -> Iterator[str]:
    """The calibration report as plain lines (text is escaped by the caller)."""
    # Start-up choice: tabulate loads only when a table is drawn.
    from tabulate import tabulate

    n = len(result.matched)
    matched = n - len(result.unmatched)
    yield (f"calibration against online outcomes: {plural(n, 'experiment')}, "
           f"{matched} matched to an offline run")
    if not n:
        yield ("no online outcome recorded yet: add one with `llmfunnel ledger record-online "
               "VARIANT --experiment ID --metric NAME --effect X --decision win|loss|flat`")
        return
    promoted, other = result.promoted, result.not_promoted
    won = sum(m.online.decision == "win" for m in promoted)
    yield ""
    yield f"promoted offline, won online:     {_share(won, len(promoted))}"
    if result.undecided:
        won_undecided = sum(m.online.decision == "win" for m in result.undecided)
        yield f"undecided offline, won online:    {_share(won_undecided, len(result.undecided))}"
    won_other = sum(m.online.decision == "win" for m in other)
    yield f"not promoted offline, won online: {_share(won_other, len(other))}"
    if n < MIN_EXPERIMENTS:
        yield (f"(with {plural(n, 'experiment')} these shares say little; "
               f"{MIN_EXPERIMENTS} or more are needed to judge a metric)")
    yield ""
    yield "experiments:"
    rows = []
    for m in result.matched:
        o = m.online
        ci = f"[{_num(o.low, '+.3g')}, {_num(o.high, '+.3g')}]" if o.low is not None else ""
        offline = "no offline run" if m.offline is None else offline_text(m.offline)
        rows.append([o.experiment, o.variant, o.metric, f"{o.effect:+.3g} {ci}".strip(),
                     o.decision, offline])
    table = tabulate(rows, headers=["experiment", "variant", "online metric", "effect",
                                    "online", "offline"], tablefmt="simple")
    yield from table.splitlines()
    if not result.metrics:
        return
    yield ""
    yield ("offline difference vs online effect, per metric (up: offline difference above 0; "
           "Spearman ρ with a 95% interval):")
    rows = []
    for c in result.metrics:
        rho = c.correlation
        ci = f"[{_num(rho.low)}, {_num(rho.high)}]" if rho.low is not None else "—"
        rows.append([c.metric, c.online_metric, str(c.n), _num(rho.rho), ci,
                     f"{c.up_win}/{c.up_other}", f"{c.down_win}/{c.down_other}",
                     f"{c.agreement:.0%}" if c.n else "—", c.says])
    table = tabulate(rows, headers=["offline metric", "online metric", "n", "ρ", "95% interval",
                                    "up: win/not", "not up: win/not", "agree", "says"],
                     tablefmt="simple", disable_numparse=True)
    yield from table.splitlines()
    for m in result.unmatched:
        yield (f"note: {m.online.experiment} ({m.online.variant}): no offline run of this "
               "variant in the ledger; left out")
