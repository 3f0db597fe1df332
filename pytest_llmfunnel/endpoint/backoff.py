"""How long to wait before a judge request goes again: jittered backoff and Retry-After.

The wait is computed here and slept by the caller (through its injected
``sleep``), so tests check the exact waits without sleeping.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from datetime import datetime, timezone


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
