"""The JSON results' entries for the gate and the settings: decisions, flips, settings.

Part of the results format of :mod:`.results_json` (which re-exports them);
apart only to keep each module to one screenful of models.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.flip import Flip, FlipValue
from pytest_llmfunnel.gate.decision import GateDecision


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decision(_Model):
    """The gate's verdict on one (dataset, metric) pair; numbers are null when not comparable."""

    dataset: str = Field(description="The eval test's node id.")
    metric: str = Field(description="Metric name.")
    n: int = Field(description="Cases paired with the baseline.")
    baseline_mean: float | None = Field(description="Baseline mean (a pass rate is a share).")
    current_mean: float | None = Field(description="Current mean.")
    diff: float | None = Field(description="current - baseline.")
    bound: float | None = Field(description="One-sided confidence bound of diff at `level`.")
    p_value: float | None = Field(description="One-sided p-value of the deciding test.")
    p_adjusted: float | None = Field(description="Holm-adjusted p-value across the session.")
    mde: float | None = Field(description="Minimum detectable effect (80% power).")
    decision: Literal["ok", "improved", "regressed", "not comparable"] = Field(
        description="The verdict."
    )
    reason: str = Field(description="Why, in words.")
    test: str = Field(description="The test that decided (tango-score, paired-t, ...).")
    flips: list[int] | None = Field(
        description="[worse, better] case counts for pass/fail metrics, else null."
    )
    gated: bool = Field(description="Whether the metric can fail the build.")
    level: float | None = Field(description="Holm level the p-value was compared with.")
    tolerance: float = Field(description="Smallest change that matters, in the metric's units.")

    @classmethod
    def from_gate(cls, d: GateDecision) -> Decision:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return cls(
            dataset=d.dataset, metric=d.metric, n=d.n, baseline_mean=num(d.baseline_mean),
            current_mean=num(d.current_mean), diff=num(d.diff), bound=num(d.bound),
            p_value=num(d.p_value), p_adjusted=num(d.p_adjusted), mde=num(d.mde),
            decision=d.decision, reason=d.reason, test=d.test,
            flips=None if d.flips is None else list(d.flips), gated=d.gated,
            level=num(d.level), tolerance=d.tolerance,
        )

    def to_gate(self) -> GateDecision:
        def num(v: float | None) -> float:
            return math.nan if v is None else v

        return GateDecision(
            self.dataset, self.metric, self.n, num(self.baseline_mean), num(self.current_mean),
            num(self.diff), num(self.bound), num(self.p_value), num(self.p_adjusted),
            num(self.mde), self.decision, self.reason, self.test,
            None if self.flips is None else (self.flips[0], self.flips[1]),
            self.gated, num(self.level), self.tolerance,
        )


class FlipEntry(_Model):
    """A case whose verdict on a metric changed against the baseline."""

    dataset: str = Field(description="The eval test's node id.")
    case: str = Field(description="Case id.")
    variant: str = Field(description="Output variant.")
    metric: str = Field(description="Metric that flipped.")
    stage: str = Field(description="Stage behind the metric.")
    before: bool | float | str | None = Field(description="Baseline value (pass/fail or score).")
    after: bool | float | str | None = Field(description="Current value.")
    reason: str | None = Field(description="The judge's or check's reason for the current value.")
    output_excerpt: str | None = Field(description="The start of the current output.")

    @classmethod
    def from_flip(cls, f: Flip) -> FlipEntry:
        def value(v: FlipValue) -> FlipValue:
            return float(v) if isinstance(v, int) and not isinstance(v, bool) else v

        return cls(
            dataset=f.dataset, case=f.case, variant=f.variant, metric=f.metric, stage=f.stage,
            before=value(f.before), after=value(f.after), reason=f.reason,
            output_excerpt=f.output_excerpt,
        )

    def to_flip(self) -> Flip:
        """The flip as the reports read it (direction and severity are not in the file)."""
        return Flip(self.dataset, self.case, self.variant, self.metric, self.stage,
                    self.before, self.after, self.reason, self.output_excerpt)


class SettingsSummary(_Model):
    """The settings needed to interpret the results. Never holds a key or an endpoint."""

    judge: str = Field(description="Judge choice: auto, openai or offline.")
    judge_label: str = Field(description="Who gave the verdicts, in words (offline, lockfile).")
    model: str | None = Field(description="Judge model name (null for the offline judge).")
    cache: str = Field(description="Verdict cache mode.")
    alpha: float = Field(description="Significance level of the gate.")
    tolerance: float = Field(description="Default tolerance of the gate.")
    gate_mode: str = Field(description="superiority or non-inferiority.")
    seed: int = Field(description="Seed of random choices.")
    price_in: float | None = Field(
        default=None, description="Price per million prompt tokens, when given.")
    price_out: float | None = Field(
        default=None, description="Price per million completion tokens, when given.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What the run's report showed as cost: as :meth:`Settings.cost` with these prices."""
        return Settings(price_in=self.price_in, price_out=self.price_out).cost(
            prompt_tokens, completion_tokens)

    @classmethod
    def from_settings(cls, settings: Settings, judge_label: str) -> SettingsSummary:
        return cls(
            judge="offline" if settings.use_offline_judge else settings.judge,
            judge_label=judge_label,
            model=None if settings.use_offline_judge else settings.model,
            cache=settings.cache, alpha=settings.alpha, tolerance=settings.tolerance,
            gate_mode=settings.gate_mode, seed=settings.seed,
            price_in=settings.price_in, price_out=settings.price_out,
        )
