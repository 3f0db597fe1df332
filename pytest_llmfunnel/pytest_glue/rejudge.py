"""The baseline side of each eval test: its judges' identities, stage facts and re-judging.

An unchanged output reuses the baseline's verdict; a changed judge re-judges
the baseline's stored outputs (cached), so the gate compares like with like.
Each eval test's side is built once per process.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_llmfunnel.funnel.backend import JudgeBackend
from pytest_llmfunnel.funnel.runner import Unit
from pytest_llmfunnel.gate.baseline_side import BaselineSide, judge_identities, stage_facts
from pytest_llmfunnel.models import CaseResult
from pytest_llmfunnel.pytest_glue.specs import EvalSpec
from pytest_llmfunnel.record import StageFacts
from pytest_llmfunnel.tallies import Tallies


class BaselineRejudging:
    """Per eval test: judge identities, score scales, and the baseline as the funnel uses it."""

    def __init__(self, backend: Callable[[], JudgeBackend], tallies: Tallies) -> None:
        self._backend = backend  # made on first use (see BackendLifetime)
        self._tallies = tallies
        self._identities: dict[str, dict[str, str]] = {}
        self._facts: dict[str, dict[str, StageFacts]] = {}
        self._sides: dict[str, BaselineSide | None] = {}

    def identities(self, spec: EvalSpec) -> dict[str, str]:
        """Judge identity per judge stage of ``spec`` (computed once per process)."""
        if spec.key not in self._identities:
            self._identities[spec.key] = (
                judge_identities(spec.funnel, self._backend()) if spec.funnel.stages else {}
            )
        return self._identities[spec.key]

    def stage_facts(self, spec: EvalSpec) -> dict[str, StageFacts]:
        """The scale and threshold of each stage of ``spec`` (computed once per process)."""
        if spec.key not in self._facts:
            self._facts[spec.key] = stage_facts(spec.funnel)
        return self._facts[spec.key]

    def side(self, spec: EvalSpec) -> BaselineSide | None:
        """``spec``'s stored baseline as the funnel uses it (None without one)."""
        if spec.key not in self._sides:
            side = None
            if spec.baseline is not None:
                counts = self._tallies.cache.setdefault(spec.key, {})
                side = BaselineSide(spec.funnel, spec.baseline, self.identities(spec), counts)
            self._sides[spec.key] = side
        return self._sides[spec.key]

    def rebased(self, spec: EvalSpec, unit: Unit) -> CaseResult | None:
        """The baseline's re-evaluated result for ``unit`` (handed out once)."""
        side = self._sides.get(spec.key)
        return None if side is None else side.rebased.pop((unit.case.id, unit.variant), None)
