"""The three kinds of stage: checks (pass/fail), scorers (numbers) and judges (LLM).

Checks and scorers are callables over ``(case, output)``; each wraps its own
logic so that an exception or a non-finite number becomes an ``error`` result
naming the stage, never a pass or a fail.

What a check or scorer is given: the runner hands every stage the whole
:class:`~pytest_llmfunnel.output.Output`, and a stage reads its ``text``
unless it is ``structured`` (then it gets the Output itself). So the built-in
text checks, and a user's ``check(fn)``, keep receiving the string they
always did; ``check(fn, structured=True)`` opts in to the structure.

A stage's logic may be a coroutine function (``async def``): the runner awaits
it through :meth:`Check.arun` / :meth:`Scorer.arun`, so slow custom stages of
different cases overlap instead of running one after another.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass

from pytest_llmfunnel.models import Case, StageResult
from pytest_llmfunnel.output import Output


def stage_input(output: str | Output, structured: bool) -> str | Output:
    """What a stage is given: the whole Output when ``structured``, else its text."""
    if structured:
        return Output.of(output)
    return output if isinstance(output, str) else output.text


class AsyncInSyncError(TypeError):
    """An async stage was run synchronously (``run`` instead of ``arun``)."""


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    reason: str = ""


class Check(ABC):
    """A deterministic pass/fail stage. Checks gate promotion.

    ``must=True`` makes a failure fail the test item as an ordinary failure.
    """

    kind = "check"
    #: True: :meth:`check` is given the whole Output, not only its text.
    structured = False

    def __init__(self, name: str, *, must: bool = False) -> None:
        self.name = name
        self.must = must
        self.gating = True

    @abstractmethod
    def check(self, case: Case, output: str) -> CheckOutcome | Awaitable[CheckOutcome]:
        """Decide pass/fail for one output (its text, or the Output when ``structured``)."""

    def run(self, case: Case, output: str | Output) -> StageResult:
        """Run a synchronous check (an async one is an error result: use :meth:`arun`)."""
        try:
            outcome = self.check(case, stage_input(output, self.structured))  # type: ignore[arg-type]
            if inspect.isawaitable(outcome):
                _close(outcome)
                raise AsyncInSyncError(f"check {self.name!r} is async: run it with arun()")
        except Exception as exc:  # a user check that raises is an error, not a fail
            return self._raised(exc)
        return self._result(outcome)

    async def arun(self, case: Case, output: str | Output) -> StageResult:
        """Run the check, awaiting it when it is a coroutine."""
        try:
            outcome = self.check(case, stage_input(output, self.structured))  # type: ignore[arg-type]
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except Exception as exc:  # a user check that raises is an error, not a fail
            return self._raised(exc)
        return self._result(outcome)

    def _raised(self, exc: Exception) -> StageResult:
        return StageResult(
            stage=self.name,
            kind="check",
            status="error",
            gating=True,
            must=self.must,
            reason=f"check raised {type(exc).__name__}: {exc}",
        )

    def _result(self, outcome: CheckOutcome) -> StageResult:
        return StageResult(
            stage=self.name,
            kind="check",
            status="passed" if outcome.passed else "failed",
            gating=True,
            must=self.must,
            reason=outcome.reason,
        )


class Scorer(ABC):
    """A local numeric stage. With ``threshold`` set it gates promotion."""

    kind = "scorer"
    #: True: :meth:`score` is given the whole Output, not only its text.
    structured = False

    def __init__(self, name: str, *, threshold: float | None = None, must: bool = False) -> None:
        self.name = name
        self.threshold = threshold
        self.must = must

    @property
    def gating(self) -> bool:
        return self.threshold is not None

    @abstractmethod
    def score(self, case: Case, output: str) -> float | Awaitable[float]:
        """Return a finite number for one output (its text, or the Output when ``structured``)."""

    def run(self, case: Case, output: str | Output) -> StageResult:
        """Run a synchronous scorer (an async one is an error result: use :meth:`arun`)."""
        try:
            value = self.score(case, stage_input(output, self.structured))  # type: ignore[arg-type]
            if inspect.isawaitable(value):
                _close(value)
                raise AsyncInSyncError(f"scorer {self.name!r} is async: run it with arun()")
            number = float(value)
        except Exception as exc:
            return self._raised(exc)
        return self._result(number)

    async def arun(self, case: Case, output: str | Output) -> StageResult:
        """Run the scorer, awaiting it when it is a coroutine."""
        try:
            value = self.score(case, stage_input(output, self.structured))  # type: ignore[arg-type]
            if inspect.isawaitable(value):
                value = await value
            number = float(value)
        except Exception as exc:
            return self._raised(exc)
        return self._result(number)

    def _raised(self, exc: Exception) -> StageResult:
        return StageResult(
            stage=self.name,
            kind="scorer",
            status="error",
            gating=self.gating,
            must=self.must,
            reason=f"scorer raised {type(exc).__name__}: {exc}",
        )

    def _result(self, value: float) -> StageResult:
        if not math.isfinite(value):
            return StageResult(
                stage=self.name,
                kind="scorer",
                status="error",
                gating=self.gating,
                must=self.must,
                reason=f"scorer returned a non-finite value ({value!r})",
            )
        if self.threshold is None:
            return StageResult(
                stage=self.name, kind="scorer", status="measured", gating=False, score=value
            )
        passed = value >= self.threshold
        return StageResult(
            stage=self.name,
            kind="scorer",
            status="passed" if passed else "failed",
            gating=True,
            must=self.must,
            score=value,
            reason=f"{value:.3f} {'>=' if passed else '<'} threshold {self.threshold:g}",
        )


def _close(awaitable: object) -> None:
    """Close a coroutine that will not be awaited (no "never awaited" warning)."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
