"""Judge requests and cached answers as the verdict-cache tests build them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.models import Usage
from pytest_llmfunnel.store.verdict_cache import VerdictStore

BASE = "https://judge.example/v1"


def body(text: str = "Is the answer polite?", **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "model": "judge-model",
        "messages": [
            {"role": "system", "content": "You grade answers.\nReply in JSON."},
            {
                "role": "user",
                "content": f"<criterion>\n{text}\n</criterion>\n<output>\nHi\n</output>",
            },
        ],
        "temperature": 0.0,
        "seed": 7,
    }
    value.update(overrides)
    return value


def request(
    text: str = "Is the answer polite?", *, repeat: int = 0, **overrides: Any
) -> JudgeRequest:
    return JudgeRequest(body=body(text, **overrides), base_url=BASE, repeat=repeat)


def answer(score: float = 4.0, reasoning: str = "polite enough") -> CachedAnswer:
    return CachedAnswer(
        score=score,
        reasoning=reasoning,
        usage=Usage(prompt_tokens=120, completion_tokens=30),
        model="judge-model-2024",
        judge="openai:judge-model",
    )


def cli_request(text: str) -> JudgeRequest:
    """A minimal judge request, as the ``llmfunnel cache`` tests store them."""
    body = {"model": "judge", "messages": [{"role": "user", "content": text}], "seed": 1}
    return JudgeRequest(body=body, base_url="http://judge.local/v1")


def fill_cache(directory: Path, count: int) -> list[JudgeRequest]:
    """A verdict cache at ``directory`` holding ``count`` verdicts (cases ``case-0`` …)."""
    requests = [cli_request(f"case {i}") for i in range(count)]
    with VerdictStore(directory) as store:
        for i, req in enumerate(requests):
            answer = CachedAnswer(
                score=float(1 + i % 5), reasoning="r", usage=Usage(prompt_tokens=5),
                model="judge-1", judge="openai:judge",
            )
            store.put(req, answer, case_id=f"case-{i}", stage="relevance")
    return requests
