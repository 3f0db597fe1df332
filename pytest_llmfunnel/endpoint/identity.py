"""What names an OpenAI-compatible backend: its model and base URL, and the identity they make.

The built backend and the lazy one that stands in for it until the first
request share this, so every verdict carries the same identity whichever
answered it (the identity is part of what a baseline compares).
"""

from __future__ import annotations


class EndpointIdentity:
    """``identity``, ``base_url`` and ``model`` from ``_model`` and ``_base_url``."""

    _model: str
    _base_url: str

    @property
    def identity(self) -> str:
        return f"openai-compatible {self._model} @ {self._base_url}"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def model(self) -> str:
        return self._model
