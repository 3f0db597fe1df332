"""A fake clock and sleep for code that waits: tests assert the exact waits, never elapsed time."""

from __future__ import annotations


class FakeTime:
    """Monotonic and wall-clock time that move only when the code under test sleeps.

    Pass :attr:`monotonic` as a ``clock``, :attr:`wall` as a ``wall_clock`` and
    :meth:`sleep` as a ``sleep``: each sleep returns at once, is recorded in
    :attr:`sleeps` and advances both clocks by what was asked.
    """

    def __init__(self, *, wall: float = 1_700_000_000.0, monotonic: float = 100.0) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move both clocks on by ``seconds``."""
        self._monotonic += seconds
        self._wall += seconds
