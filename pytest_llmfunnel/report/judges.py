"""Who gave the verdicts: each judge stage named with its model and prompt version.

A record's judge stage carries its judge's identity, ``<model> · prompt
<hash>`` (see :func:`pytest_llmfunnel.gate.baseline_side.judge_identities`), where the
hash covers the whole request the judge sends: it is the prompt's version.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_llmfunnel.record import CaseRecord

OFFLINE_JUDGE_MARK = "offline-reference"
OFFLINE_JUDGE = "offline reference judge (rule-based, not an LLM)"


def judge_name(identity: str) -> str:
    """``gpt-4o-mini · prompt 3f2a…`` -> ``gpt-4o-mini, prompt version 3f2a…``."""
    model, *rest = identity.split(" · ")
    parts = [OFFLINE_JUDGE if OFFLINE_JUDGE_MARK in model else model]
    for part in rest:
        parts.append("prompt version " + part[len("prompt "):] if part.startswith("prompt ")
                     else part)
    return ", ".join(parts)


def judge_label(
    records: Iterable[CaseRecord], *, cache_mode: str | None = None,
    lockfile: str | None = None,
) -> str:
    """Who gave the verdicts, per judge stage: ``faithfulness: gpt-4o-mini, prompt version …``.

    Stages judged by the same identity share one entry; the offline rule-based
    judge is named as such; a lockfile or replay-only cache is said last.
    """
    stages: dict[str, list[str]] = {}
    for record in records:
        for s in record.stages:
            if s.judge:
                names = stages.setdefault(s.judge, [])
                if s.stage and s.stage not in names:
                    names.append(s.stage)
    if not stages:
        label = "no judge stage ran"
    else:
        entries = sorted(
            (", ".join(sorted(names)), judge_name(identity)) for identity, names in stages.items()
        )
        label = "; ".join(f"{names}: {name}" if names else name for names, name in entries)
    if lockfile:
        label += f"; verdicts replayed from the lockfile {lockfile}"
    elif cache_mode == "replay-only":
        label += "; verdicts replayed from the cache (replay-only)"
    return label
