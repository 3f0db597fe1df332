"""What the end of a session did, as the terminal summary and the report files show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmfunnel.gate.compare import GateResult


@dataclass
class Conclusion:
    """What the end of the session did: the gate, notes to print, and why it fails."""

    gate: GateResult | None = None
    rankings: list[Any] = field(default_factory=list)  # variants.VariantRanking per dataset
    calibration: tuple[list[Any], list[Any]] | None = None  # (calibrations, estimates)
    judge_changes: list[Any] = field(default_factory=list)  # judge_change.JudgeChange
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # (title, text) per section a pytest_llmfunnel_report_sections hook added.
    sections: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        return "\n".join(self.failures) or None
