"""Per-case records for tests that need only a few of their fields.

:func:`as_record` fills what a test leaves out with neutral values and reads
the result through :meth:`CaseRecord.from_json`, so every record a test uses
has passed the same validation as one from a worker or a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmfunnel.record import CaseRecord

DATASET = "tests/test_x.py::test_x"

_CASE_DEFAULTS: dict[str, Any] = {
    "dataset": DATASET, "path": "", "case": "c", "variant": "default", "fingerprint": "",
    "tags": (), "output": None, "promoted": True, "dropped_at": None, "error": None,
    "stages": (),
}
_STAGE_DEFAULTS: dict[str, Any] = {
    "stage": "", "kind": "judge", "status": "passed", "gating": False, "must": False,
    "score": None, "samples": (), "reason": "", "judge": None, "requests": 0, "cache_hits": 0,
    "prompt_tokens": 0, "completion_tokens": 0,
}


def stage_fields(stage: Mapping[str, Any]) -> dict[str, Any]:
    """A stage's JSON form with the fields a test left out filled in."""
    return {**_STAGE_DEFAULTS, **stage}


def record_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A record's JSON form with the fields a test left out filled in (its baseline's too)."""
    out = {**_CASE_DEFAULTS, **data}
    out["stages"] = [stage_fields(s) for s in out["stages"]]
    baseline = out.get("baseline")
    if baseline is not None:
        inner = {k: v for k, v in record_fields(baseline).items()
                 if k not in ("dataset", "path", "tags", "input")}
        out["baseline"] = inner
    return out


def as_record(data: Mapping[str, Any] | CaseRecord) -> CaseRecord:
    """The record of ``data``, a partial JSON form (a record is returned as it is)."""
    if isinstance(data, CaseRecord):
        return data
    return CaseRecord.from_json(record_fields(data))
