"""A warm run builds and imports only what it uses: checked in a real process.

A test of structure, not of time. Building a pydantic model's validator is
most of what importing it costs, and a warm run (every verdict cached, no
baseline file yet, no RAG judge) imports the baseline file's models, the RAG
judges' answers, the whole cached record and the other answer shapes without
validating one. Those are built on first use (``defer_build``); the modules a
run imports are imported in a fresh interpreter, so no earlier test hides the
work, and each model must still validate once used. Likewise the calibration
report and the review statistics behind it load only in a run with human
labels (``tests/integration/test_plugin_calibration.py`` shows them there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

DEFERRED = (
    "pytest_llmfunnel.gate.baseline_file:Baseline",
    "pytest_llmfunnel.gate.baseline_file:BaselineCase",
    "pytest_llmfunnel.gate.baseline_file:BaselineHeader",
    "pytest_llmfunnel.gate.baseline_file:BaselineOutcome",
    "pytest_llmfunnel.gate.baseline_file:BaselineStage",
    "pytest_llmfunnel.funnel.rag_answers:FaithfulnessAnswer",
    "pytest_llmfunnel.funnel.rag_answers:ContextRecallAnswer",
    "pytest_llmfunnel.funnel.judge_answers:PassFailAnswer",
    "pytest_llmfunnel.funnel.judge_answers:PairwiseAnswer",
    "pytest_llmfunnel.store.verdict_record:VerdictRecord",
    "pytest_llmfunnel.store.verdict_cache:CacheStats",
)

SHOW_BUILT = """
import importlib, json, sys
# What a run with the funnel on imports before its first item (see plugin.py).
import pytest_llmfunnel.pytest_glue.session
import pytest_llmfunnel.pytest_glue.summary
import pytest_llmfunnel.pytest_glue.end_of_run
built = {}
for name in sys.argv[1:]:
    module, cls = name.split(":")
    built[name] = getattr(importlib.import_module(module), cls).__pydantic_complete__
print(json.dumps(built))
"""

USE_THEM = """
import json
from pytest_llmfunnel.funnel.judge_answers import PassFailAnswer
from pytest_llmfunnel.gate.baseline_file import BaselineStage
from pytest_llmfunnel.store.verdict_record import VerdictRecord
stage = BaselineStage.model_validate({"kind": "judge", "gating": True, "scale": [0, 1]})
try:
    BaselineStage.model_validate({"kind": "oracle", "gating": True})
    refused = False
except ValueError:
    refused = True
print(json.dumps({
    "stage": stage.model_dump(mode="json"),
    "refused": refused,
    "built": [PassFailAnswer.__pydantic_complete__, BaselineStage.__pydantic_complete__],
    "record_fields": sorted(VerdictRecord.model_fields),
    "record_built_by_schema": bool(VerdictRecord.model_json_schema()["properties"]),
}))
"""


def _run(code: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_run_imports_these_models_without_building_their_validators() -> None:
    built = _run(SHOW_BUILT, *DEFERRED)
    assert built == dict.fromkeys(DEFERRED, False)


def test_a_deferred_model_validates_and_refuses_as_before_once_used() -> None:
    used = _run(USE_THEM)
    assert used["stage"] == {"kind": "judge", "gating": True, "scale": [0.0, 1.0]}
    assert used["refused"] is True
    assert used["built"] == [False, True]  # built by its first use, not by a neighbour's
    assert "answer" in used["record_fields"]
    assert used["record_built_by_schema"] is True


SHOW_MODULES = """
import json, sys
import pytest_llmfunnel.pytest_glue.session
import pytest_llmfunnel.pytest_glue.summary
import pytest_llmfunnel.pytest_glue.end_of_run
from pytest_llmfunnel.report import terminal
loaded = sorted(m for m in sys.modules if m.startswith("pytest_llmfunnel."))
print(json.dumps(loaded))
"""

LABELS_ONLY = (
    "pytest_llmfunnel.report.calibration",
    "pytest_llmfunnel.review.agreement",
    "pytest_llmfunnel.review.calibrated_rate",
    "pytest_llmfunnel.review.calibration",
    "pytest_llmfunnel.stats",
)


def test_a_run_without_labels_loads_no_calibration_module() -> None:
    loaded = _run(SHOW_MODULES)
    assert isinstance(loaded, list)
    assert "pytest_llmfunnel.report.terminal" in loaded  # the listing is real
    assert [m for m in LABELS_ONLY if m in loaded] == []
