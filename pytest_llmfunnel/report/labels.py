"""What a report calls an eval test: its funnel's ``name=`` when given, else the test's name.

Every renderer labels a dataset through :func:`dataset_label` with the names
of :func:`funnel_names`, so the terminal, the pull-request report, the text
report of a results file and the JSON agree on it. Two eval tests whose
funnels share a name (one ``Funnel`` object used by two tests) are told apart
by their test's name in brackets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

Names = Mapping[str, str]  # eval test (its node id) -> the label its reports use
NO_NAMES: Names = MappingProxyType({})  # read-only: a shared default


class Named(Protocol):
    @property
    def dataset(self) -> str: ...

    @property
    def funnel(self) -> str: ...


def short_dataset(name: str) -> str:
    """``tests/test_support.py::test_support[x]`` -> ``support``."""
    tail = name.rsplit("::", 1)[-1].split("[", 1)[0]
    if "::" not in name:
        tail = tail.rsplit("/", 1)[-1].rsplit(".", 1)[0] if "." in tail else tail
    return tail.removeprefix("test_") or tail or name


def funnel_names(records: Iterable[Named]) -> dict[str, str]:
    """Each eval test's label, for the eval tests whose funnel has a ``name=``."""
    named: dict[str, str] = {}
    for r in records:
        if r.funnel and r.dataset not in named:
            named[r.dataset] = r.funnel
    shared = {n for n in named.values() if list(named.values()).count(n) > 1}
    return {
        dataset: f"{name} ({short_dataset(dataset)})" if name in shared else name
        for dataset, name in named.items()
    }


def dataset_label(dataset: str, names: Names = NO_NAMES) -> str:
    """The eval test's label: its funnel's name from ``names``, else its short test name."""
    return names.get(dataset) or short_dataset(dataset)
