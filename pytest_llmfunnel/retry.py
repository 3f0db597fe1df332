"""Retry helpers for judge calls: an adaptive concurrency limiter, backoff and Retry-After.

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
import email.utils
import random
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone


class LimiterClosed(Exception):
    """The limiter was stopped: no new request may start."""


class AdaptiveLimiter:
    """A concurrency limit that halves on rate limiting and recovers additively.

    It starts at ``limit`` and never exceeds it. A 429 halves the current limit
    (never below 1), but only once per "generation": requests that started
    before the last decrease do not halve it again, otherwise a burst of 16
    simultaneous 429s would collapse the limit from 16 to 1 for one event.
    After every ``recover_after`` successes below the limit it grows by one.

    Args:
        limit: the configured maximum number of requests in flight.
        recover_after: successes needed for each +1 step back towards ``limit``.
    """

    def __init__(self, limit: int, *, recover_after: int = 8) -> None:
        if limit < 1:
            raise ValueError(f"concurrency limit must be at least 1, got {limit}")
        if recover_after < 1:
            raise ValueError(f"recover_after must be at least 1, got {recover_after}")
        self._limit = limit
        self._current = limit
        self._recover_after = recover_after
        self._successes = 0
        self._generation = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._stopped = StopSignal()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def current(self) -> int:
        """The limit in force now (between 1 and ``limit``)."""
        return self._current

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def close(self) -> None:
        """Refuse every waiting and future ``acquire`` (thread-safe)."""
        self._stopped.set()
        for fut in list(self._waiters):
            _resolve_threadsafe(fut)

    async def acquire(self) -> int:
        """Wait for a free slot; returns a ticket to pass to :meth:`rate_limited`."""
        while self._in_flight >= self._current or self._stopped.is_set():
            if self._stopped.is_set():
                raise LimiterClosed
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

    def release(self) -> None:
        """Give a slot back (call exactly once per successful :meth:`acquire`)."""
        self._in_flight -= 1
        self._wake()

    def succeeded(self) -> None:
        """Record a success; every ``recover_after`` of them raise the limit by one."""
        if self._current >= self._limit:
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
        self._current = max(1, self._current // 2)

    def _wake(self) -> None:
        # Waking too many is harmless (each re-checks the limit); too few stalls.
        free = self._current - self._in_flight
        for fut in self._waiters:
            if free <= 0:
                break
            if not fut.done():
                fut.set_result(None)
                free -= 1


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

    async def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; returns False if the signal was set meanwhile."""
        if self._set:
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(max(seconds, 0.0), _resolve, fut)
        with self._lock:
            self._sleepers.add(fut)
        try:
            await fut
        finally:
            handle.cancel()
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


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``.

    Full jitter spreads a pool of clients that failed together, so they do not
    all come back at the same instant and fail together again.
    """
    ceiling = min(cap, base * (2 ** max(attempt, 0)))
    return (rng or random).uniform(0.0, ceiling)


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a server asked for, from ``retry-after-ms`` or ``retry-after``.

    ``retry-after`` may be a number of seconds or an HTTP date. Returns None
    when there is no usable header; never a negative number.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def http_date(seconds_from_now: float, *, now: float | None = None) -> str:
    """An HTTP date ``seconds_from_now`` in the future (for Retry-After)."""
    current = time.time() if now is None else now
    stamp = datetime.fromtimestamp(current + seconds_from_now, tz=timezone.utc)
    return email.utils.format_datetime(stamp, usegmt=True)
