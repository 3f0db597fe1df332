"""What the gate found for a session: decisions, flipped cases, tag breakdowns, pairing."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.decision import GateDecision

__all__ = ["UPDATE", "DatasetComparison", "Flip", "GateResult", "TagStat"]

UPDATE = "--llm-funnel-update-baseline"


# The next step of a failing gate's message; a summary that does not list the
# flipped cases (pytest -q) says where to see them instead.
INSPECT = "Inspect the flipped cases (pass → fail, worst first) of each failing metric"

@dataclass(frozen=True)
class TagStat:
    """Descriptive (not gated) means of one gated metric over the pairs with one tag."""

    tag: str
    metric: str
    n: int
    baseline_mean: float
    current_mean: float


@dataclass(frozen=True)
class DatasetComparison:
    """What pairing found for one eval test; ids read ``case`` or ``case[variant]``."""

    dataset: str
    paired: int
    changed: tuple[str, ...]
    new: tuple[str, ...]
    removed: tuple[str, ...]  # in the baseline, not run in this session
    flips: tuple[Flip, ...]
    tags: tuple[TagStat, ...]


@dataclass(frozen=True)
class GateResult:
    """Every decision of a session, what pairing found, and eval tests without a baseline."""

    decisions: tuple[GateDecision, ...]
    datasets: tuple[DatasetComparison, ...]
    missing_baselines: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def fails(self) -> bool:
        return bool(self.missing_baselines) or any(d.fails for d in self.decisions)

    def message(self) -> str:
        """What happened and what to do next, one line per problem."""
        lines = [
            f"{name}: no baseline file yet; create it with {UPDATE} and commit it."
            for name in self.missing_baselines
        ]
        lines += [d.message() for d in self.decisions if d.fails]
        if self.fails:
            if any(d.fails for d in self.decisions):
                # Point at the flipped cases only when the report lists some.
                worse = any(f.direction == "worse" for d in self.datasets for f in d.flips)
                lines.append(
                    (INSPECT + "; if" if worse else "If")
                    + f" the change is intended, accept it with {UPDATE} and "
                    "commit the baseline files."
                )
            return "\n".join(lines)
        gated = [d for d in self.decisions if d.gated]
        metrics = f"{len(gated)} gated metric{'s' * (len(gated) != 1)}"
        tests = f"{len(self.datasets)} eval test{'s' * (len(self.datasets) != 1)}"
        lines.append(f"Regression gate passed: {metrics} over {tests}, none regressed.")
        lines += [d.message() for d in gated if d.decision == "improved"]
        return "\n".join(lines)
