"""What the end of a run added to its report, kept in the JSON results so it can be drawn again.

The live pull-request report has, beside the gate, the variant ranking, the
judge changes, the judge's calibration against human labels and the sections
a conftest hook added (:class:`.conclusion.Conclusion`); the terminal shows the
same. :class:`EndOfRun` keeps them in the results file in the shapes the run
computed (the ranking's, the calibration's and the judge change's own
dataclasses, validated on the way back), so ``llmfunnel report`` draws them
from the data, the same way the live run did, whatever outcomes a ranking
names. Non-finite numbers (an unbounded interval) are written as the strings
``"Infinity"``, ``"-Infinity"`` and ``"NaN"``, which read back as the floats.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pytest_llmfunnel.gate.judge_change import JudgeChange
from pytest_llmfunnel.report.conclusion import Conclusion
from pytest_llmfunnel.review.calibrated_rate import Estimate
from pytest_llmfunnel.review.calibration import CriterionCalibration
from pytest_llmfunnel.variants.ranking import VariantRanking


class EndOfRun(BaseModel):
    """What the end of the run added to the report: rankings, judge changes, calibration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: list[VariantRanking] = Field(
        default_factory=list, description="The variant ranking of each eval test with several "
        "variants: which variants deserve an online experiment, and why."
    )
    judge_changes: list[JudgeChange] = Field(
        default_factory=list, description="Judge stages whose judge differs from the "
        "baseline's, with the baseline's figures under the old and the new judge."
    )
    calibration: list[CriterionCalibration] | None = Field(
        default=None, description="Agreement of each judge with the human labels given "
        "(--llm-funnel-labels); null when no labels were given."
    )
    estimates: list[Estimate] = Field(
        default_factory=list, description="Pass rates estimated from the judge and the "
        "human labels together."
    )
    require_calibration: bool = Field(
        default=False, description="Whether judges people disagree with were not gated "
        "(--llm-funnel-require-calibration)."
    )
    sections: list[tuple[str, str]] = Field(
        default_factory=list, description="(title, Markdown) of each section a "
        "pytest_llmfunnel_report_sections hook added."
    )

    @classmethod
    def from_conclusion(cls, out: Conclusion, *, require_calibration: bool) -> EndOfRun | None:
        """What ``out`` adds to a report, or None when it adds nothing."""
        cals, ests = out.calibration if out.calibration is not None else (None, [])
        if not (out.rankings or out.judge_changes or out.sections or cals is not None):
            return None
        return cls(
            variants=list(out.rankings), judge_changes=list(out.judge_changes),
            calibration=None if cals is None else list(cals), estimates=list(ests),
            require_calibration=require_calibration, sections=list(out.sections),
        )

    def to_conclusion(self) -> Conclusion:
        """A conclusion holding what the report draws (no gate: the file holds its decisions)."""
        return Conclusion(
            rankings=list(self.variants), judge_changes=list(self.judge_changes),
            calibration=None if self.calibration is None else (
                list(self.calibration), list(self.estimates)),
            sections=list(self.sections),
        )


def finite_json(value: Any) -> Any:
    """``value`` (dumped JSON data) with every non-finite float as its string name."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    return value
