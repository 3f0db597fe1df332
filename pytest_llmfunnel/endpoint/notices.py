"""What a user must see about the endpoint, beside each case's own error.

A judge error ends one case as ``llm-error``, and its reason travels with
that case to every report; but the short test summary cuts reasons at the
terminal's width, so the one thing that says what is wrong (the server's own
message) could reach only the JSON results. :class:`ErrorLog` keeps the first
error of each kind a backend ended a request with, already redacted, and how
many requests ended that way, for the session summary to print once.
"""

from __future__ import annotations

import threading

from pytest_llmfunnel.tallies import EndpointErrorJSON


class ErrorLog:
    """The first message of each error cause, and a count per cause (thread-safe)."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, cause: str, message: str) -> None:
        """Count one request ended by ``cause``; keep ``message`` if it is the first."""
        with self._lock:
            self._first.setdefault(cause, message)
            self._counts[cause] = self._counts.get(cause, 0) + 1

    def to_json(self) -> dict[str, EndpointErrorJSON]:
        """``{cause: {"message": first message, "count": requests}}`` in first-seen order."""
        with self._lock:
            return {
                cause: {"message": message, "count": self._counts[cause]}
                for cause, message in self._first.items()
            }
