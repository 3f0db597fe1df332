"""The underpowered notes: where a gated metric's cases cannot resolve its tolerance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pytest_llmfunnel.escape import truncate
from pytest_llmfunnel.report.labels import NO_NAMES, Names, dataset_label
from pytest_llmfunnel.report.summary import _finite, fmt_plain
from pytest_llmfunnel.wording import plural

if TYPE_CHECKING:
    from pytest_llmfunnel.gate.decision import GateDecision

NAME_LIMIT = 120


def mde_note(d: GateDecision, unit: str = "pt", names: Names = NO_NAMES) -> str | None:
    """Why a gated metric cannot resolve its tolerance (see ``GateDecision.underpowered``)."""
    if not d.underpowered:
        return None
    name = f"{dataset_label(d.dataset, names)}/{d.metric}"
    tol = fmt_plain(d, d.tolerance, unit)
    size = fmt_plain(d, d.mde, unit) if _finite(d.mde) else "no size at all"
    if d.mode == "non-inferiority":
        return (
            f"{name}: underpowered: with {plural(d.n, 'case')} an unchanged metric is shown "
            f"non-inferior 80% of the time only at a margin of {size} "
            f"(tolerance {tol}); add cases"
        )
    return (
        f"{name}: underpowered: with {plural(d.n, 'case')} a drop is caught 80% of the time only "
        f"from about {size} (tolerance {tol}); add cases to catch "
        "smaller ones"
    )


def mde_notes(
    decisions: Iterable[GateDecision], unit: str = "pt", names: Names = NO_NAMES
) -> list[str]:
    """The underpowered notes, said once: one metric's whole sentence, or one line naming all.

    A line per metric repeats the same advice; the MDE of each is in the table.
    """
    weak = [d for d in decisions if d.underpowered]
    if len(weak) <= 1:
        return [n for d in weak if (n := mde_note(d, unit=unit, names=names))]
    listed = ", ".join(
        f"{_name(d, names)} (tolerance {fmt_plain(d, d.tolerance, unit)})"
        if _finite(d.mde)
        else f"{_name(d, names)} (no MDE)"
        for d in weak
    )
    return [
        f"{len(weak)} gated metrics are underpowered: their cases catch a change 80% of the "
        f"time only from the MDE in the table, above their tolerance: {listed}; add cases"
    ]


def _name(d: GateDecision, names: Names) -> str:
    # Bounded like the table's metric cell: the note names many metrics at once.
    return truncate(f"{dataset_label(d.dataset, names)}/{d.metric}", NAME_LIMIT)
