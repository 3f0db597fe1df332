"""The JSON results' ``completeness``: how much of its evaluation a run covered.

Part of the :mod:`.jsonschema` document (same conventions: frozen, no extra
fields); kept apart so that module stays about the gate's results.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_llmfunnel.completeness import Completeness, DatasetCount


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetExtent(_Model):
    """How many of one eval test's cases this run selected and evaluated."""

    name: str = Field(description="The eval test's node id.")
    evaluated: int = Field(description="Cases whose results were produced and reported.")
    selected: int | None = Field(
        description="Cases selected for the run (after -k, --deselect, node ids); null: unknown."
    )
    total: int | None = Field(description="Cases the eval test defines; null: unknown.")


class Extent(_Model):
    """How much of its evaluation the run covered, and why it stopped early if it did."""

    status: Literal["complete", "partial", "incomplete"] = Field(
        description="complete; partial (fewer cases than the datasets define were selected, "
        "the gate decided on those); incomplete (the run ended early: interrupted, -x, "
        "--maxfail, a crashed worker; nothing was decided)."
    )
    evaluated: int = Field(description="Cases whose results were produced and reported.")
    selected: int | None = Field(description="Cases selected for the run; null: unknown.")
    total: int | None = Field(description="Cases the datasets define; null: unknown.")
    stopped: str | None = Field(description="Why the run ended early; null when it did not.")
    datasets: list[DatasetExtent] = Field(description="The counts per eval test.")

    @classmethod
    def from_completeness(cls, c: Completeness) -> Extent:
        return cls(
            status=c.status, evaluated=c.evaluated, selected=c.selected, total=c.total,
            stopped=c.stopped,
            datasets=[
                DatasetExtent(name=d.name, evaluated=d.evaluated, selected=d.selected,
                              total=d.total)
                for d in c.datasets
            ],
        )

    def to_completeness(self) -> Completeness:
        return Completeness(
            tuple(DatasetCount(d.name, d.evaluated, d.selected, d.total) for d in self.datasets),
            self.stopped if self.status == "incomplete" else None,
        )
