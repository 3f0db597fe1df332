"""How a judge body travels through the ``openai`` SDK, and how its answer comes back."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from pytest_llmfunnel.funnel.backend import Completion
from pytest_llmfunnel.models import Usage


@functools.lru_cache(maxsize=1)
def _known_params() -> frozenset[str]:
    """The keyword parameters of the SDK's ``chat.completions.create``."""
    from openai.resources.chat.completions import AsyncCompletions

    names = set(inspect.signature(AsyncCompletions.create).parameters)
    return frozenset(names - {"self", "extra_headers", "extra_query", "extra_body", "timeout"})


def split_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a body into the SDK's named parameters and everything else (sent as extra_body).

    The SDK's ``create`` rejects unknown keyword arguments, but endpoints accept
    vendor keys (``top_k``, ``chat_template_kwargs``...): those travel verbatim
    in ``extra_body``, so the body on the wire is exactly the body given.
    """
    known_names = _known_params()
    known = {k: v for k, v in body.items() if k in known_names}
    extra = {k: v for k, v in body.items() if k not in known_names}
    return known, extra


def completion_from(response: Any, model: str) -> Completion | None:
    """The :class:`Completion` of an SDK response; None when it has no choice.

    ``model`` names the answer when the response does not.
    """
    choices = getattr(response, "choices", None)
    if not choices:
        return None
    choice = choices[0]
    message = getattr(choice, "message", None)
    usage = getattr(response, "usage", None)
    return Completion(
        content=getattr(message, "content", None),
        finish_reason=getattr(choice, "finish_reason", None),
        usage=Usage(
            prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage else 0,
        ),
        model=getattr(response, "model", None) or model,
    )
