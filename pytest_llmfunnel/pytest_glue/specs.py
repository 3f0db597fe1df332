"""What collection knows of each eval test: its dataset, funnel and baseline, per item."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.dataset.load import Dataset, load_dataset
from pytest_llmfunnel.funnel.runner import Funnel, Unit
from pytest_llmfunnel.gate.baseline_file import Baseline

ENABLE_HINT = "LLM eval: run pytest with --llm-funnel to evaluate this case"
DRY_RUN_HINT = "llm-funnel dry run: nothing was judged; the summary counts what would be sent"


@dataclass(frozen=True)
class EvalSpec:
    """One eval test function: its dataset and its funnel."""

    key: str  # the test function's node id without parameters
    dataset: Dataset
    funnel: Funnel
    positions: dict[str, int] = field(default_factory=dict, compare=False)  # case id → index
    baseline_file: Path | None = None  # None: no gate for this eval test
    baseline: Baseline | None = field(default=None, compare=False)  # loaded, when it exists


@dataclass(frozen=True)
class ItemInfo:
    """An eval item's eval test, its case and variant, and its chunk (xdist group)."""

    spec: EvalSpec
    unit: Unit
    chunk: int


UNIT_KEY = pytest.StashKey[ItemInfo]()


class EvalTests:
    """The eval tests this process collected, and what the controller needs of them."""

    def __init__(self) -> None:
        self._datasets: dict[tuple[Path, tuple[tuple[str, str], ...]], Dataset] = {}
        self.specs: dict[str, EvalSpec] = {}
        self.single_variant: dict[str, str] = {}  # eval test → its one variant, not a parameter
        # Eval tests as the controller needs them: key → {"path", "baseline", "ids", ...};
        # xdist workers send theirs (see xdist_bridge).
        self.meta: dict[str, dict[str, Any]] = {}

    def dataset(self, path: Path, columns: dict[str, str] | None) -> Dataset:
        """The dataset at ``path`` with ``columns``, loaded once per process."""
        key = (path, tuple(sorted((columns or {}).items())))
        if key not in self._datasets:
            self._datasets[key] = load_dataset(path, columns=columns)
        return self._datasets[key]
