"""One type per job: no two classes of the package share a name, one flip type end to end.

A pydantic model that documents a file format is named for the file's entry
(``CaseEntry``, ``StageEntry``), never like the in-memory type it carries, so
a reader (and an import) cannot take one for the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pytest_llmfunnel.flip import Flip
from pytest_llmfunnel.gate.result import Flip as GateFlip
from pytest_llmfunnel.report.results_json import SettingsSummary, build_document

ROOT = Path(__file__).resolve().parents[2] / "pytest_llmfunnel"
# Known shared names, each to be renamed where it lives and then removed here.
KNOWN_SHARED = {
    # a review-slice pairwise comparison and a variant-ranking test result
    "Comparison": ["pytest_llmfunnel.review.slice", "pytest_llmfunnel.variants.ranking"],
}


def class_names() -> dict[str, list[str]]:
    """Every module-level class name of the package, with the modules defining it."""
    found: dict[str, list[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                found.setdefault(node.name, []).append(module)
    return found


def test_no_two_classes_share_a_name() -> None:
    twice = {name: mods for name, mods in class_names().items() if len(mods) > 1}
    assert twice == KNOWN_SHARED, f"rename one of each (a file's model is an *Entry): {twice}"


def test_stage_and_flip_types_are_the_few_with_distinct_jobs() -> None:
    names = class_names()
    stage = sorted(n for n in names if n.startswith("Stage"))
    flip = sorted(n for n in names if "Flip" in n)
    # The funnel's outcome, the record's and its JSON form's static type, the
    # counts, a stage's fixed facts, and the results file's documented entries
    # for a stage's outcome and counts.
    assert stage == ["StageCounts", "StageCountsEntry", "StageEntry", "StageFacts",
                     "StageJSON", "StageRecord", "StageResult"]
    assert flip == ["Flip", "FlipEntry"]


def test_the_gates_flip_is_the_one_the_reports_read_back() -> None:
    assert GateFlip is Flip
    flip = Flip("tests/test_a.py::test_a", "c1", "default", "m", "m", 1.0, 0.0,
                "worse now", "out", direction="worse", severity=1.0)
    settings = SettingsSummary(judge="offline", judge_label="offline", model=None,
                               cache="off", alpha=0.05, tolerance=0.0,
                               gate_mode="superiority", seed=0)
    document = build_document([], [], [flip], settings=settings, tool_version="0")
    (back,) = document.report_data().flips
    assert type(back) is Flip
    # The file keeps what it always kept; direction and severity are the live gate's.
    assert (back.dataset, back.case, back.before, back.after, back.reason) == (
        flip.dataset, flip.case, 1.0, 0.0, "worse now")
    assert back.direction is None and back.severity is None
