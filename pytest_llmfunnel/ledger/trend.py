"""Each metric over commits: ``llmfunnel ledger show`` and the report's ledger section.

One table per eval test and variant, oldest run first: the commit, the date,
each gated metric as ``value ± half-interval`` and the gate's decision, then a
sparkline per metric (eight levels, scaled to that metric's own range, a gap
``·`` where a run has no value).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pytest_llmfunnel.ledger.entries import MetricEntry, RunEntry

BARS = "▁▂▃▄▅▆▇█"
GAP = "·"
COMMIT_CHARS = 8


def sparkline(values: Sequence[float | None]) -> str:
    """``[0.1, 0.5, None, 0.9]`` -> ``▁▄·█``; a flat series is drawn at mid height."""
    known = [v for v in values if v is not None]
    if not known:
        return GAP * len(values)
    lo, hi = min(known), max(known)
    out = []
    for v in values:
        if v is None:
            out.append(GAP)
        elif hi == lo:
            out.append(BARS[len(BARS) // 2 - 1])
        else:
            out.append(BARS[round((v - lo) / (hi - lo) * (len(BARS) - 1))])
    return "".join(out)


def fmt_metric(m: MetricEntry | None) -> str:
    """``82.0% ± 5.1`` for a rate (points), ``3.42 ± 0.21`` for a score; ``—`` when unknown."""
    if m is None or m.value is None:
        return "—"
    if m.kind == "binary":
        text = f"{m.value * 100:.1f}%"
        if m.low is not None and m.high is not None:
            text += f" ± {(m.high - m.low) * 50:.1f}"
        return text
    text = f"{m.value:.2f}"
    if m.low is not None and m.high is not None:
        text += f" ± {(m.high - m.low) / 2:.2f}"
    return text


def series(runs: Sequence[RunEntry]) -> dict[tuple[str, str], list[RunEntry]]:
    """The runs of each (eval test, variant), oldest first."""
    out: dict[tuple[str, str], list[RunEntry]] = {}
    for run in sorted(runs, key=lambda r: r.time):
        out.setdefault((run.test, run.variant), []).append(run)
    return out


def gated_names(runs: Sequence[RunEntry]) -> list[str]:
    """The gated metrics any of ``runs`` has, in the order they first appear."""
    names: list[str] = []
    for run in runs:
        for m in run.metrics:
            if m.gated and m.name not in names:
                names.append(m.name)
    return names


def trend_lines(runs: Sequence[RunEntry], last: int | None = None) -> Iterator[str]:
    """A table per eval test and variant, and a sparkline per gated metric (plain text)."""
    # Start-up choice: tabulate loads only when a table is drawn.
    from tabulate import tabulate

    first = True
    for (test, variant), shown in series(runs).items():
        if last is not None:
            shown = shown[-last:]
        names = gated_names(shown)
        if not first:
            yield ""
        first = False
        title = test if variant == "default" else f"{test} [{variant}]"
        yield f"{title}: {len(shown)} run{'' if len(shown) == 1 else 's'}"
        rows = [[(r.commit or "unknown")[:COMMIT_CHARS], r.time[:10],
                 *(fmt_metric(r.metric(n)) for n in names), _decision(r)] for r in shown]
        table = tabulate(rows, headers=["commit", "date", *names, "decision"],
                         tablefmt="simple", disable_numparse=True)
        yield from table.splitlines()
        width = max((len(n) for n in names), default=0)
        for name in names:
            values = [m.value if (m := r.metric(name)) is not None else None for r in shown]
            yield f"  {name:<{width}}  {sparkline(values)}"


def _decision(run: RunEntry) -> str:
    place = run.outcome or run.ranking
    return run.decision if place is None else f"{run.decision}; {place}"


def section_text(history: Sequence[RunEntry], current: Sequence[RunEntry], last: int) -> str:
    """The report section: per eval test, variant and gated metric, the last ``last`` runs.

    ``current`` are this run's entries (not in the ledger yet: it is appended
    after the report is written), shown last as "this run".
    """
    past = series(history)
    lines = []
    for entry in current:
        runs = [*past.get((entry.test, entry.variant), [])[-(last - 1):], entry] if last > 1 \
            else [entry]
        title = entry.test if entry.variant == "default" else f"{entry.test} [{entry.variant}]"
        for name in gated_names([entry]):
            values = [m.value if (m := r.metric(name)) is not None else None for r in runs]
            shown = ", ".join(
                f"{'this run' if r is entry else (r.commit or 'unknown')[:COMMIT_CHARS]} "
                f"{fmt_metric(r.metric(name))}"
                for r in runs
            )
            lines.append(f"{title}, {name}: {sparkline(values)} {shown}")
    return "\n".join(lines)
