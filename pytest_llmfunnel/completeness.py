"""How much of its evaluation a session ran: complete, partial or incomplete.

The funnel runs as a batch before the items, but a case counts as
*evaluated* only once its test item reported its result: that is what the
reports show and what the gate compares. Two ways a session covers less than
its datasets:

- **partial**: fewer cases were selected than the eval tests define (``-k``,
  ``--deselect``, node ids, skipped or erroring items), and the run went to
  its end. The gate decides on the cases that ran, and every report says
  ``partial: 14 of 400 cases``.
- **incomplete**: the run ended before every selected case ran (Ctrl-C,
  ``-x``, ``--maxfail``, ``pytest.exit``, a crashed xdist worker). Every
  report says so with the counts, and nothing is decided: no gate, no baseline
  written, and the exit status is never 0.

Plain Python: the pytest glue gathers the counts and the way the session
ended, :func:`assess` turns them into a :class:`Completeness`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pytest_llmfunnel.wording import plural

Status = Literal["complete", "partial", "incomplete"]
INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED (this module does not import pytest)
FINISHED = (0, 1)  # pytest.ExitCode.OK, TESTS_FAILED: the test loop ran to its end


@dataclass(frozen=True)
class DatasetCount:
    """One eval test's cases: defined, selected for this run, begun, and evaluated."""

    name: str
    evaluated: int  # results produced and reported by their items
    selected: int | None = None  # items selected (after -k, --deselect, node ids); None: unknown
    total: int | None = None  # cases (times variants) the eval test defines; None: unknown
    started: int | None = None  # selected items pytest began to run; None: unknown


@dataclass(frozen=True)
class Completeness:
    """What part of the selected evaluation ran, and why it stopped early if it did."""

    datasets: tuple[DatasetCount, ...] = ()
    stopped: str | None = None  # why the run ended early; None: it ran to its end

    @property
    def evaluated(self) -> int:
        return sum(d.evaluated for d in self.datasets)

    @property
    def selected(self) -> int | None:
        return _sum(d.selected for d in self.datasets)

    @property
    def total(self) -> int | None:
        return _sum(d.total for d in self.datasets)

    @property
    def status(self) -> Status:
        if not self.datasets:
            return "complete"  # no eval test ran: nothing to qualify
        if self.stopped is not None:
            return "incomplete"
        total = self.total
        if total is not None and self.evaluated < total:
            return "partial"
        return "complete"

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def counts(self) -> str:
        """``partial: 14 of 400 cases``, ``partial: 3 of 12 cases evaluated (8 selected)``."""
        total, selected = self.total, self.selected
        if self.status != "incomplete":
            of = "? cases" if total is None else plural(total, "case")
            return f"partial: {self.evaluated} of {of}"
        if total is None:
            return f"{plural(self.evaluated, 'case')} evaluated (how many were selected is unknown)"
        text = f"partial: {self.evaluated} of {plural(total, 'case')} evaluated"
        if selected is not None and selected != total:
            text += f" ({selected} selected)"
        return text

    def phrase(self) -> str:
        """The run's extent in words ('' for a complete run)."""
        if self.status == "incomplete":
            return f"incomplete run, {self.counts()}; no gate decision ({self.stopped})"
        if self.status == "partial":
            return self.counts()
        return ""


def assess(
    datasets: Iterable[DatasetCount],
    *,
    exit_code: int,
    stop_reason: str | None = None,
    workers_lost: int = 0,
) -> Completeness:
    """Whether the session ran to its end, from how it ended and what it began.

    Args:
        datasets: per eval test, its counts; those with nothing selected nor
            evaluated are left out.
        exit_code: pytest's exit status so far (2: interrupted).
        stop_reason: ``session.shouldstop`` / ``shouldfail`` when set (``-x``,
            ``--maxfail``), else None.
        workers_lost: xdist workers that went down without handing over.
    """
    kept = tuple(d for d in datasets if d.evaluated or d.selected)
    stopped: str | None = None
    if exit_code == INTERRUPTED:
        stopped = f"stopped early: {stop_reason}" if stop_reason else "the run was interrupted"
    elif exit_code not in FINISHED:
        stopped = f"the run did not finish (exit status {exit_code})"
    elif workers_lost:
        stopped = (
            f"{workers_lost} xdist worker{'' if workers_lost == 1 else 's'} went down "
            "before handing over"
        )
    else:
        never = sum(
            d.selected - d.started
            for d in kept
            if d.selected is not None and d.started is not None and d.started < d.selected
        )
        if never:
            why = f"stopped early: {stop_reason}" if stop_reason else "the run ended early"
            stopped = f"{why}; {never} selected case{'' if never == 1 else 's'} never ran"
    return Completeness(kept, stopped)


def _sum(values: Iterable[int | None]) -> int | None:
    listed = list(values)
    if any(v is None for v in listed):
        return None
    return sum(v for v in listed if v is not None)


