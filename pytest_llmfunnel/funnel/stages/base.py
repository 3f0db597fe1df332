"""The three kinds of stage: checks (pass/fail), scorers (numbers) and judges (LLM).

Checks and scorers are plain synchronous callables over ``(case, output)``;
each wraps its own logic so that an exception or a non-finite number becomes
an ``error`` result naming the stage, never a pass or a fail.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from pytest_llmfunnel.models import Case, StageResult


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    reason: str = ""


class Check(ABC):
    """A deterministic pass/fail stage. Checks gate promotion.

    ``must=True`` makes a failure fail the test item as an ordinary failure.
    """

    kind = "check"

    def __init__(self, name: str, *, must: bool = False) -> None:
        self.name = name
        self.must = must
        self.gating = True

    @abstractmethod
    def check(self, case: Case, output: str) -> CheckOutcome:
        """Decide pass/fail for one output."""

    def run(self, case: Case, output: str) -> StageResult:
        try:
            outcome = self.check(case, output)
        except Exception as exc:  # a user check that raises is an error, not a fail
            return StageResult(
                stage=self.name,
                kind="check",
                status="error",
                gating=True,
                must=self.must,
                reason=f"check raised {type(exc).__name__}: {exc}",
            )
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

    def __init__(self, name: str, *, threshold: float | None = None, must: bool = False) -> None:
        self.name = name
        self.threshold = threshold
        self.must = must

    @property
    def gating(self) -> bool:
        return self.threshold is not None

    @abstractmethod
    def score(self, case: Case, output: str) -> float:
        """Return a finite number for one output."""

    def run(self, case: Case, output: str) -> StageResult:
        try:
            value = float(self.score(case, output))
        except Exception as exc:
            return StageResult(
                stage=self.name,
                kind="scorer",
                status="error",
                gating=self.gating,
                must=self.must,
                reason=f"scorer raised {type(exc).__name__}: {exc}",
            )
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
