"""The terminal summary: plain lines built from the session's per-case records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from pytest_llmfunnel.results import DatasetRun, describe_problems, status_of

if TYPE_CHECKING:
    from pytest_llmfunnel.session import FunnelSession

MAX_LISTED = 10
WIDTH = 80


def summary_lines(fs: FunnelSession, *, verbosity: int = 0) -> Iterator[str]:
    """The funnel per dataset, then the failed and errored cases (capped)."""
    run = fs.run_result()
    if not run.datasets:
        return
    yield _rule("llm-funnel")
    for dataset in run.datasets.values():
        yield ""
        yield from funnel_table(dataset, fs.settings.cost)
    if verbosity >= 0:
        yield from problem_cases(fs.records, limit=None if verbosity > 0 else MAX_LISTED)
    message = getattr(fs, "failure_message", None)
    if message:
        yield ""
        yield message


def funnel_table(dataset: DatasetRun, cost: Any) -> Iterator[str]:
    """Per stage: cases in, passed, failed, errors, judge requests, cache hits, tokens, cost."""
    yield (
        f"{dataset.name}: {dataset.cases} cases, {dataset.promoted} promoted "
        f"({_pct(dataset.promoted, dataset.cases)}), {dataset.errors} errors"
    )
    rows = []
    for name, c in dataset.stages.items():
        price = cost(c.usage.prompt_tokens, c.usage.completion_tokens)
        rows.append(
            [
                _clip(name, 22),
                c.cases_in,
                c.passed,
                c.failed,
                c.errors,
                c.requests,
                c.cache_hits,
                c.usage.total_tokens,
                "-" if price is None else f"{price:.4f}",
            ]
        )
    headers = ["stage", "in", "pass", "fail", "err", "requests", "cached", "tokens", "cost"]
    yield from tabulate(rows, headers=headers, tablefmt="simple").splitlines()


def problem_cases(records: list[dict[str, Any]], *, limit: int | None) -> Iterator[str]:
    """The llm-failed and llm-error cases with the stage and the reason, capped."""
    bad = [r for r in records if status_of(r) != "ok"]
    if not bad:
        return
    yield ""
    yield f"cases that failed or errored in the funnel ({len(bad)}):"
    shown = bad if limit is None else bad[:limit]
    for record in shown:
        label = record["case"] if record["variant"] == "default" else (
            f"{record['case']}:{record['variant']}"
        )
        for problem in describe_problems(record):
            yield _clip(f"  {label}  {problem}", WIDTH)
    if len(bad) > len(shown):
        yield f"  ... and {len(bad) - len(shown)} more (use -v to list all)"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def _clip(text: str, width: int) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _rule(title: str) -> str:
    pad = max(0, WIDTH - len(title) - 2)
    left = pad // 2
    return "=" * left + f" {title} " + "=" * (pad - left)
