"""The judge pool's pace: an adaptive concurrency limiter, hang estimates and the stop signal.

We do our own retries instead of the SDK's so that a rate-limited endpoint
slows the whole pool down (not just the one request), so that ``Retry-After``
is honoured exactly and so that every attempt is counted.

The limiter and the stop signal use plain futures created on the running loop
instead of ``asyncio.Condition``/``Event``: those bind to the first loop that
uses them, and a backend may serve several ``asyncio.run`` calls in turn (an
ad-hoc ``judge(...)`` inside an ordinary test, then the funnel's own loop).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class BackendStats:
    """Counters of one backend: attempts sent, retries, 429s and peak concurrency."""

    requests: int
    retries: int
    rate_limited: int
    failures: int
    max_in_flight: int
    current_limit: int


class LimiterClosed(Exception):
    """The limiter was stopped: no new request may start."""


class AdaptiveLimiter:
    """A concurrency limit that halves on rate limiting, down to a floor, and recovers additively.

    It starts at ``limit``. With a ``ceiling`` above it, it first *probes*:
    every answer that comes back while requests wait for a slot, and no slower
    than ``flat`` times the fastest answer so far, raises the limit by one, up
    to the ceiling (so it can double in one round trip while the endpoint keeps
    up). A slow answer holds it where it is; the first 429 or 503
    (:meth:`overloaded`) ends the probing for good, and the level it reached
    becomes the limit recovery climbs back to. Without a ceiling it never
    exceeds ``limit``.

    A 429 halves the current limit, never below ``floor``, and only once per
    "generation": requests that started before the last decrease do not halve
    it again, otherwise a burst
    of 16 simultaneous 429s would collapse the limit from 16 to 1 for one event.
    After every ``recover_after`` successes below the limit it grows by one.

    The floor keeps a few 429s from serialising the run: at a limit of 1, one
    request that hangs until its timeout holds up every other. For the same
    reason a request the caller marks as stalled (:meth:`stall`: in flight far
    longer than answers take) stops counting against the limit, so a hung
    request holds only its own connection, not a slot others wait for. Stalled
    requests still count against a hard cap of twice ``limit`` (or of the
    current limit, when probing raised it higher) in flight, so
    an endpoint that hangs every request is not flooded.

    Args:
        limit: the configured number of requests in flight (the start, when probing).
        floor: the lowest the limit goes on 429s (default: a quarter of
            ``limit``, at least 1; capped at ``limit``).
        recover_after: successes needed for each +1 step back towards ``limit``.
        ceiling: the most probing may raise the limit to (default: ``limit``, no probing).
        flat: how many times the fastest answer an answer may take and still
            count as "latency stays flat" while probing.
    """

    def __init__(
        self,
        limit: int,
        *,
        floor: int | None = None,
        recover_after: int = 8,
        ceiling: int | None = None,
        flat: float = 2.0,
    ) -> None:
        if limit < 1:
            raise ValueError(f"concurrency limit must be at least 1, got {limit}")
        if recover_after < 1:
            raise ValueError(f"recover_after must be at least 1, got {recover_after}")
        if floor is not None and floor < 1:
            raise ValueError(f"the concurrency floor must be at least 1, got {floor}")
        self._limit = limit
        self._floor = min(limit, max(1, limit // 4) if floor is None else floor)
        self._current = limit
        self._recover_after = recover_after
        self._successes = 0
        self._generation = 0
        self._in_flight = 0
        self._stalled = 0
        self._max_in_flight = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._stopped = StopSignal()
        self._ceiling = max(limit, limit if ceiling is None else ceiling)
        self._probing = self._ceiling > limit
        self._top = limit  # what recovery climbs back to after a 429
        self._flat = flat
        self._fastest: float | None = None

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def ceiling(self) -> int:
        """The most probing may raise the limit to."""
        return self._ceiling

    @property
    def probing(self) -> bool:
        """True until the first rate limit: answers may still raise the limit past ``limit``."""
        return self._probing

    @property
    def floor(self) -> int:
        """The lowest :attr:`current` goes on rate limiting."""
        return self._floor

    @property
    def current(self) -> int:
        """The limit in force now (between :attr:`floor` and ``limit``)."""
        return self._current

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def stalled(self) -> int:
        """Requests in flight marked as stalled (not counted against :attr:`current`)."""
        return self._stalled

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def close(self) -> None:
        """Refuse every waiting and future ``acquire`` (thread-safe)."""
        self._stopped.set()
        for fut in list(self._waiters):
            _resolve_threadsafe(fut)

    def _hard_cap(self) -> int:
        return 2 * max(self._limit, self._current)

    def _full(self) -> bool:
        active = self._in_flight - self._stalled
        return active >= self._current or self._in_flight >= self._hard_cap()

    async def acquire(self, check: Callable[[], None] | None = None) -> int:
        """Wait for a free slot; returns a ticket to pass to :meth:`rate_limited`.

        ``check`` runs before waiting and each time the waiter is woken
        (:meth:`wake_all`); whatever it raises leaves the queue, so a caller
        can give up waiting for a reason of its own.
        """
        while True:
            if self._stopped.is_set():
                raise LimiterClosed
            if check is not None:
                check()
            if not self._full():
                break
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                self._waiters.remove(fut)
                self._wake()  # we may have been woken for a slot we will not take
                raise
            self._waiters.remove(fut)
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)
        return self._generation

    def release(self, *, stalled: bool = False) -> None:
        """Give a slot back (once per :meth:`acquire`); ``stalled`` if :meth:`stall` was called."""
        self._in_flight -= 1
        if stalled:
            self._stalled -= 1
        self._wake()

    def stall(self) -> None:
        """Mark one request in flight as stalled: its slot goes to the next waiter."""
        self._stalled += 1
        self._wake()

    def wake_all(self) -> None:
        """Wake every waiter so that each runs its ``check`` again."""
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    def succeeded(self, latency: float | None = None) -> None:
        """Record a success that took ``latency`` seconds (None: not measured).

        While probing, a success with requests waiting and a flat latency
        raises the limit by one (up to the ceiling); otherwise every
        ``recover_after`` successes below the limit to recover to raise it by one.
        """
        if latency is not None:
            self._fastest = latency if self._fastest is None else min(self._fastest, latency)
        if self._probing:
            flat = latency is None or self._fastest is None or latency <= self._flat * self._fastest
            if flat and self._waiters and self._current < self._ceiling:
                self._current += 1
                self._wake()
            return
        if self._current >= self._top:
            self._successes = 0
            return
        self._successes += 1
        if self._successes >= self._recover_after:
            self._successes = 0
            self._current += 1
            self._wake()

    def rate_limited(self, ticket: int) -> None:
        """Record a 429 for a request that acquired ``ticket``; halves the limit once."""
        if ticket != self._generation:
            return  # started before the last decrease: already accounted for
        self._generation += 1
        self._successes = 0
        if self._probing:
            # The endpoint's limit lies at or below this level: recover to it, probe no further.
            self._probing = False
            self._top = max(self._limit, self._current)
        self._current = max(self._floor, self._current // 2)

    def overloaded(self) -> None:
        """Record a 503: the endpoint is at its capacity, so the limit grows no further."""
        if self._probing:
            self._probing = False
            self._top = max(self._limit, self._current)

    def _wake(self) -> None:
        # Waking too many is harmless (each re-checks the limit); too few stalls.
        free = min(
            self._current - (self._in_flight - self._stalled),
            self._hard_cap() - self._in_flight,
        )
        for fut in self._waiters:
            if free <= 0:
                break
            if not fut.done():
                fut.set_result(None)
                free -= 1


class StallEstimate:
    """How long a request may be in flight before it is presumed hung.

    A request presumed hung is given to :meth:`AdaptiveLimiter.stall`.

    ``factor`` times the slowest of the last ``window`` answers, at least
    ``minimum`` and at most ``ceiling``; ``ceiling`` until a first answer. So
    against a fast endpoint a hang frees its slot within a second, while a
    slow model's long answers are never mistaken for hangs before ``ceiling``.

    Args:
        ceiling: the longest estimate (the backend uses half its timeout).
        minimum: the shortest estimate, in seconds.
        factor: multiple of the slowest recent answer.
        window: how many recent answers count.
    """

    def __init__(
        self, ceiling: float, *, minimum: float = 0.5, factor: float = 3.0, window: int = 32
    ) -> None:
        self._ceiling = ceiling
        self._minimum = min(minimum, ceiling)
        self._factor = factor
        self._recent: deque[float] = deque(maxlen=window)

    def observe(self, seconds: float) -> None:
        """Record how long one successful answer took."""
        self._recent.append(seconds)

    @property
    def seconds(self) -> float:
        if not self._recent:
            return self._ceiling
        return min(self._ceiling, max(self._minimum, self._factor * max(self._recent)))


class StopSignal:
    """A thread-safe, loop-independent stop flag with interruptible sleeps."""

    def __init__(self) -> None:
        self._set = False
        self._lock = threading.Lock()
        self._sleepers: set[asyncio.Future[None]] = set()

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Set the flag and wake every sleeper, from any thread."""
        with self._lock:
            self._set = True
            sleepers = list(self._sleepers)
        for fut in sleepers:
            _resolve_threadsafe(fut)

    def clear(self) -> None:
        with self._lock:
            self._set = False

    def ring(self) -> None:
        """Wake every sleeper now without setting the flag (thread-safe)."""
        with self._lock:
            sleepers = list(self._sleepers)
        for fut in sleepers:
            _resolve_threadsafe(fut)

    async def sleep(self, seconds: float, sleep: Sleep | None = None) -> bool:
        """Sleep up to ``seconds``; returns False if the signal was set meanwhile.

        :meth:`set` and :meth:`ring` cut the sleep short. ``sleep`` replaces
        the loop's timer (tests pass a fake that returns at once).
        """
        if self._set:
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        timer: asyncio.Future[None] | None = None
        handle: asyncio.TimerHandle | None = None
        if sleep is None:
            handle = loop.call_later(max(seconds, 0.0), _resolve, fut)
        else:
            timer = asyncio.ensure_future(sleep(max(seconds, 0.0)))
            timer.add_done_callback(lambda _: _resolve(fut))
        with self._lock:
            self._sleepers.add(fut)
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            if timer is not None and not timer.done():
                timer.cancel()
            with self._lock:
                self._sleepers.discard(fut)
        return not self._set


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _resolve_threadsafe(fut: asyncio.Future[None]) -> None:
    loop = fut.get_loop()
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _resolve(fut)
    else:
        loop.call_soon_threadsafe(_resolve, fut)
