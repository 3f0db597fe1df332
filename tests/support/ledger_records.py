"""Case records and run facts for the ledger tests: a check, a 1-5 judge, chosen failures."""

from __future__ import annotations

from typing import Any

from pytest_llmfunnel.ledger.build import RunFacts
from pytest_llmfunnel.record import CaseRecord
from tests.support.sample_records import as_record

FACTS = RunFacts("run-1", "2026-05-01T09:30:00Z", "a" * 40, "main", 12.5)
JUDGE = "gpt-4o-mini · prompt 0123abcd"


def records(variant: str = "default", fails: int = 2, n: int = 10) -> list[CaseRecord]:
    out = []
    for i in range(n):
        stages: list[dict[str, Any]] = [
            {"stage": "not_empty", "kind": "check", "status": "passed", "gating": True}]
        dropped = i == n - 1  # the last case fails the check: never judged
        if dropped:
            stages[0]["status"] = "failed"
        else:
            stages.append({
                "stage": "helpful", "kind": "judge", "judge": JUDGE, "scale": (1.0, 5.0),
                "status": "failed" if i < fails else "passed", "score": 2.0 if i < fails else 4.0,
                "requests": 1, "prompt_tokens": 100, "completion_tokens": 10,
            })
        out.append(as_record({
            "case": f"c{i}", "variant": variant, "fingerprint": f"fp{i}", "promoted": not dropped,
            "dropped_at": "not_empty" if dropped else None, "stages": stages,
        }))
    return out
