"""The JSON results' ``shard``: what ``llmfunnel gate`` needs of one shard of a CI run.

Part of the results document (same conventions: frozen, no extra fields),
written only by a run with ``--llm-funnel-shard=I/N``. With it, the merge
knows which cases the shard was given (:func:`shard_of` of every case id of
every eval test), the files the gate compares with (each baseline's sha256),
the settings it decides with, pytest's own exit status and the run it belongs
to. An unsharded run writes no such field, and neither does the merge, so
their files can be compared byte for byte.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def shard_of(dataset: str, case: str, count: int) -> int:
    """The shard (1..count) that evaluates ``case`` of eval test ``dataset``.

    A hash, not a position: a case keeps its shard when others are added or
    removed, and every variant of a case lands in the same shard.
    """
    digest = hashlib.sha256(f"{dataset}\0{case}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def file_sha256(path: Path) -> str | None:
    """The sha256 of a file's bytes (a baseline's); None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class ShardDataset(_Model):
    """One eval test as a shard collected it (whether or not any of its cases ran here)."""

    name: str = Field(description="The eval test's node id.")
    path: str = Field(description="Dataset file, relative to the rootdir.")
    ids: list[str] = Field(description="Every case id of the dataset, in dataset order.")
    units: int = Field(description="(case, variant) pairs a complete run evaluates.")
    selected: int = Field(description="Of these, the ones this shard selected.")
    baseline: str | None = Field(
        description="Baseline file, relative to the rootdir; null: no gate for this test."
    )
    baseline_from: Literal["default", "ini", "marker", "off"] = Field(
        description="Where the baseline file's location came from."
    )
    baseline_sha256: str | None = Field(
        description="sha256 of the baseline file the shard read; null: there was none."
    )
    control: str | None = Field(
        default=None, description="The variant the ranking compares the others with: the "
        "funnel's control= (live variants); omitted: the best variant."
    )


class GateSettings(_Model):
    """The settings the gate decides with, as the shard had them."""

    alpha: float = Field(description="Significance level (Holm across the session).")
    tolerance: float = Field(description="Default tolerance.")
    gate_mode: str = Field(description="superiority or non-inferiority.")
    max_error_share: float = Field(description="Largest share of errors tolerated.")
    seed: int = Field(description="Seed of random choices.")
    price_in: float | None = Field(description="Price per million prompt tokens.")
    price_out: float | None = Field(description="Price per million completion tokens.")


class ShardEntry(_Model):
    """Which shard of which run wrote the file, and what the merge checks and needs."""

    index: int = Field(description="This shard's number, from 1.")
    count: int = Field(description="How many shards the run was split into.")
    run_id: str | None = Field(
        description="The CI run the shards belong to (--llm-funnel-run-id, GITHUB_RUN_ID, "
        "CI_PIPELINE_ID); null when none was known."
    )
    pytest_status: int = Field(
        description="pytest's own exit status before the funnel's verdict (1: tests failed)."
    )
    gate: GateSettings = Field(description="The settings the gate decides with.")
    datasets: list[ShardDataset] = Field(description="Every eval test the shard collected.")
    endpoint_notes: list[str] = Field(
        description="Why the judge endpoint was given up in this shard, if it was."
    )
