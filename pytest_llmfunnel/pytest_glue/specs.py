"""What collection knows of each eval test: its dataset, funnel and baseline, per item."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict

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

BaselineFrom = Literal["default", "ini", "marker", "off"]


class EvalTestInfoJSON(TypedDict):
    """:class:`EvalTestInfo` on the xdist wire (``config.workeroutput``)."""

    path: str
    baseline: str | None
    baseline_from: BaselineFrom
    ids: list[str]
    columns: dict[str, str] | None
    units: int
    selected: int | None
    control: str | None


@dataclass(frozen=True)
class EvalTestInfo:
    """What the controller needs of one eval test, whichever process collected it.

    ``path`` is the dataset file as shown (relative to the rootdir),
    ``baseline`` the baseline file (``None``: no gate), ``baseline_from`` where
    that choice came from, ``ids`` the case ids in dataset order, ``units``
    the (case, variant) pairs a complete run evaluates and ``selected`` how
    many of them this run selected (``None`` until counted); ``control`` the
    funnel's live control (``Funnel(control=...)``, else its first variant),
    which the variant ranking compares with (``None``: the best variant).
    """

    path: str
    baseline: str | None
    baseline_from: BaselineFrom
    ids: tuple[str, ...]
    columns: dict[str, str] | None
    units: int = 0
    selected: int | None = None
    control: str | None = None

    def to_json(self) -> EvalTestInfoJSON:
        return {"path": self.path, "baseline": self.baseline,
                "baseline_from": self.baseline_from, "ids": list(self.ids),
                "columns": self.columns, "units": self.units, "selected": self.selected,
                "control": self.control}

    @classmethod
    def from_json(cls, data: EvalTestInfoJSON) -> EvalTestInfo:
        return cls(path=data["path"], baseline=data["baseline"],
                   baseline_from=data["baseline_from"], ids=tuple(data["ids"]),
                   columns=data["columns"], units=data["units"], selected=data["selected"],
                   control=data.get("control"))


# A dataset the records name but no process described (taken as ungated).
UNKNOWN_TEST = EvalTestInfo(path="", baseline=None, baseline_from="off", ids=(), columns=None)


class EvalTests:
    """The eval tests this process collected, and what the controller needs of them."""

    def __init__(self) -> None:
        self._datasets: dict[tuple[Path, tuple[tuple[str, str], ...]], Dataset] = {}
        self.specs: dict[str, EvalSpec] = {}
        self.single_variant: dict[str, str] = {}  # eval test → its one variant, not a parameter
        # Eval tests as the controller needs them; xdist workers send theirs (see xdist_bridge).
        self.meta: dict[str, EvalTestInfo] = {}

    def dataset(self, path: Path, columns: dict[str, str] | None) -> Dataset:
        """The dataset at ``path`` with ``columns``, loaded once per process."""
        key = (path, tuple(sorted((columns or {}).items())))
        if key not in self._datasets:
            self._datasets[key] = load_dataset(path, columns=columns)
        return self._datasets[key]
