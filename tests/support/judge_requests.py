"""Judge requests and cached answers as the verdict-cache tests build them."""

from __future__ import annotations

from typing import Any

from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.models import Usage

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
