"""Case records for ranking tests: a check, a 1-5 quality judge, optional pairwise stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_llmfunnel.record import CaseRecord
from tests.support.sample_records import as_record

DS = "tests/test_ab.py::test_ab"
SCORES = {"passed": 5.0, "failed": 2.0, "error": None}


def stage(name: str, kind: str, status: str, score: float | None, **extra: Any) -> dict[str, Any]:
    return {"stage": name, "kind": kind, "status": status, "gating": kind == "check",
            "must": False, "score": score, "samples": [] if score is None else [score],
            "reason": f"{name} {status}", "judge": "offline" if kind == "judge" else None,
            "requests": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0, **extra}


def rec(
    case: str, variant: str, judge: str = "passed", *, dropped: bool = False,
    error: str | None = None, pairwise: dict[str, float | None] | None = None,
    style: str | None = None, dataset: str = DS, pairs: Mapping[str, tuple[str, str]] = {},
) -> CaseRecord:
    """A record: gating check → quality judge (1–5, passes at 4) → pairwise stages.

    ``judge`` is the quality judge's status; ``dropped`` fails the check (no
    later stage runs); ``error`` is a target that failed; ``pairwise`` maps a
    pairwise stage name to this variant's score (None: the comparison errored),
    ``pairs`` the two variants each compared;
    ``style`` adds a scorer with a threshold (its status) after the judge.
    """
    stages = []
    if error is None:
        stages.append(stage("not_empty", "check", "failed" if dropped else "passed", None))
    if error is None and not dropped:
        stages.append(stage("quality", "judge", judge, SCORES[judge], scale=[1.0, 5.0]))
        if style is not None:
            stages.append(stage("style", "scorer", style, 1.0 if style == "passed" else 0.0))
    for name, score in (pairwise or {}).items():
        status = "error" if score is None else "measured"
        stages.append(stage(name, "judge", status, score, pair=pairs[name]))
    promoted = error is None and not dropped
    return as_record({
        "dataset": dataset, "path": "ab.jsonl", "case": case, "variant": variant,
        "fingerprint": f"fp-{case}", "tags": [], "output": f"{variant} answer to {case}",
        "promoted": promoted, "dropped_at": None if promoted else "target" if error else
        "not_empty", "error": error, "stages": stages,
    })


def ids(n: int) -> list[str]:
    return [f"c{i:03d}" for i in range(n)]


def variant(name: str, outcomes: Sequence[str]) -> list[CaseRecord]:
    """One record per case; ``pass``/``fail``/``error`` at the judge, ``drop`` at the check."""
    return [
        rec(case, name, {"pass": "passed", "fail": "failed"}.get(o, "error"), dropped=o == "drop")
        for case, o in zip(ids(len(outcomes)), outcomes, strict=True)
    ]


def pairwise_records(scores: Mapping[str, Sequence[float | None]], n: int) -> list[CaseRecord]:
    """Every case passes; ``scores`` maps "first/other" to the first variant's pairwise scores.

    With one other variant the stage is ``pref`` on both records; with several,
    the first variant's records name ``pref vs <other>`` and the others keep ``pref``.
    """
    first = next(iter(scores)).split("/")[0]
    others = [key.split("/")[1] for key in scores]
    several = len(others) > 1
    records = []
    for i, case in enumerate(ids(n)):
        names = {o: f"pref vs {o}" if several else "pref" for o in others}
        mine = {names[o]: scores[f"{first}/{o}"][i] for o in others}
        records.append(rec(case, first, pairwise=mine,
                           pairs={names[o]: (first, o) for o in others}))
        for o in others:
            s = scores[f"{first}/{o}"][i]
            records.append(rec(case, o, pairwise={"pref": None if s is None else -s},
                               pairs={"pref": (first, o)}))
    return records
