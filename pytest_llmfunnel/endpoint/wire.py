"""How a judge body travels through the ``openai`` SDK, and how its answer comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from pytest_llmfunnel.funnel.backend import Completion
from pytest_llmfunnel.models import Usage

if TYPE_CHECKING:
    import openai

NO_KEY = "no-key"  # the SDK insists on a key; local servers ignore it


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


class ClientPerLoop:
    """The SDK client of the running event loop, built on first use and closed with the loop.

    The SDK's connection pool belongs to one event loop, so each loop gets
    its own client. It is held open by an async generator: ``asyncio.run()``
    (and any loop owner calling ``shutdown_asyncgens``) closes open async
    generators at the end, which closes the pool on its own loop, so an
    ad-hoc ``asyncio.run(backend.complete(...))`` leaves no socket behind.
    """

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper: AsyncGenerator[None, None] | None = None

    async def get(self) -> openai.AsyncOpenAI:
        """The client of the running loop (SDK retries off: the backend retries)."""
        import openai

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            client = openai.AsyncOpenAI(
                base_url=self._base_url,
                api_key=self._api_key or NO_KEY,
                max_retries=0,
                timeout=self._timeout,
            )
            keeper = _hold_open(client)
            await keeper.__anext__()
            self._client, self._loop, self._keeper = client, loop, keeper
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool of the current loop's client, if any."""
        keeper, self._keeper = self._keeper, None
        self._client = None
        self._loop = None
        if keeper is not None:
            await keeper.aclose()


async def _hold_open(client: openai.AsyncOpenAI) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.close()
