"""What a test needs to set up a funnel run: dataset files, simple cases, judge flags."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_llmfunnel.testing import JudgeServer


def judge_args(server: JudgeServer, *extra: str) -> list[str]:
    """Flags that point the judge at ``server``."""
    return [
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={server.base_url}",
        "--llm-funnel-max-retries=0",
        "-p",
        "no:cacheprovider",
        *extra,
    ]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write ``rows`` to ``path`` as JSON lines; returns ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cases(n: int, *, tags: tuple[str, ...] = (), **extra: Any) -> list[dict[str, Any]]:
    """``n`` simple cases ``c00``..: a question, its context and a plain answer."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "id": f"c{i:02d}",
            "input": f"What is item {i}?",
            "context": f"Item {i} is a blue box.",
            "output": f"Item {i} is a blue box.",
        }
        if tags:
            row["tags"] = [tags[i % len(tags)]]
        row.update(extra)
        rows.append(row)
    return rows
