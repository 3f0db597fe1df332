"""Which variant a ranking compares with: each dataset's own control, the command line's over it."""

from __future__ import annotations

from dataclasses import replace

from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.variants.ranking import rank_variants
from tests.support.variant_records import variant

OTHER = "tests/test_other.py::test_other"


def two_datasets() -> list[CaseRecord]:
    """The same three variants in two datasets: ``best`` passes most, ``prod`` least."""
    records = [*variant("best", ["pass"] * 9 + ["fail"]),
               *variant("mid", ["pass"] * 7 + ["fail"] * 3),
               *variant("prod", ["pass"] * 5 + ["fail"] * 5)]
    return records + [replace(r, dataset=OTHER) for r in records]


def controls(**kwargs: object) -> dict[str, str]:
    return {r.dataset: r.control for r in rank_variants(two_datasets(), **kwargs)}  # type: ignore[arg-type]


def test_each_dataset_compares_with_its_own_control_else_its_best() -> None:
    (first,) = {r.dataset for r in two_datasets()} - {OTHER}
    assert controls(controls={first: "prod"}) == {first: "prod", OTHER: "best"}
    assert controls(controls={first: "prod", OTHER: "mid"}) == {first: "prod", OTHER: "mid"}


def test_the_named_control_overrides_every_datasets_own() -> None:
    (first,) = {r.dataset for r in two_datasets()} - {OTHER}
    assert controls(control="mid", controls={first: "prod"}) == {first: "mid", OTHER: "mid"}


def test_a_datasets_control_it_does_not_have_falls_back_to_the_best_and_says_so() -> None:
    (ranking,) = [r for r in rank_variants(two_datasets(), controls={OTHER: "nobody"})
                  if r.dataset == OTHER]
    assert ranking.control == "best"
    assert "no variant is named 'nobody'" in ranking.note
