"""Calling the system under test: its own limit, timeout and retries, and what it returns.

A target is the user's callable (sync or async) that produces a case's
output. It fails in ways a judge does not: it raises, hangs, returns ``None``
or a dict that is not an output, or hits a rate limit of its own. So it gets
its own policy, separate from the judge's (:class:`TargetPolicy`):

* ``concurrency``: how many target calls run at once (``None``: as many as
  the cases in flight, the runner's own bound);
* ``timeout``: seconds one call may take (a sync target runs in a thread,
  which is left behind when it overruns: we stop waiting for it);
* ``retries``: how many more times a call that failed *transiently* is made,
  after a jittered exponential backoff (the judge client's policy, injected as
  ``delay`` so that this layer stays below the endpoint's).

Transient: a timeout, a :class:`TransientTargetError` the target raises to say
so, ``ConnectionError``/``TimeoutError``, and an exception carrying an HTTP
status (``status_code``, or ``response.status_code``) of 408, 409, 429 or 5xx,
which is how the ``openai`` and ``httpx`` clients report rate limits and
server faults. Anything else (a bug in the target, an invalid return value)
fails at once: retrying would only repeat it.

A call that still fails raises :class:`TargetError`, whose message is what the
case's record shows (``target timed out after 5 s (3 attempts)``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_llmfunnel.funnel.live_variants import Variant
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output, OutputError
from pytest_llmfunnel.wording import plural

# Called with the case, and with a funnel's variants also the Variant: target(case, variant).
Target = Callable[..., Any]
Sleep = Callable[[float], Awaitable[None]]

_TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class TransientTargetError(Exception):
    """Raise this from a target for a fault worth retrying (a flaky dependency)."""


class TargetError(Exception):
    """A target call that produced no output; the message says why, for the record."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def is_transient(exc: BaseException) -> bool:
    """Whether a target's exception is worth retrying (see the module docstring)."""
    if isinstance(exc, (TransientTargetError, ConnectionError, TimeoutError)):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(status, int) and (status in _TRANSIENT_STATUS or 500 <= status < 600)


def _no_delay(attempt: int) -> float:
    return 0.0


@dataclass(frozen=True)
class TargetPolicy:
    """How a target is called: limit, timeout and retries, and the waits between tries.

    ``delay(attempt)`` is the wait before retry number ``attempt`` (0-based);
    ``sleep`` waits it (injected, so tests do not sleep).
    """

    timeout: float = 120.0
    retries: int = 2
    concurrency: int | None = None
    delay: Callable[[int], float] = _no_delay
    sleep: Sleep = field(default=asyncio.sleep)

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"the target timeout must be a positive number, got {self.timeout!r}")
        if isinstance(self.retries, bool) or self.retries < 0:
            raise ValueError(f"target retries must be 0 or more, got {self.retries!r}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"the target concurrency must be at least 1, got {self.concurrency!r}")


    def overridden(
        self, concurrency: int | None, timeout: float | None, retries: int | None
    ) -> TargetPolicy:
        """This policy with the settings given (not ``None``) over it: a funnel's own."""
        return replace(
            self,
            concurrency=self.concurrency if concurrency is None else concurrency,
            timeout=self.timeout if timeout is None else timeout,
            retries=self.retries if retries is None else retries,
        )


class TargetCaller:
    """Calls one target under a :class:`TargetPolicy`; made on the loop that runs it.

    ``in_flight`` and ``peak_in_flight`` count calls under way (for tests and
    the reports' peak figures).
    """

    def __init__(self, target: Target, policy: TargetPolicy) -> None:
        self.target = target
        self.policy = policy
        self._limit = asyncio.Semaphore(policy.concurrency) if policy.concurrency else None
        self.loop = asyncio.get_running_loop()  # the limit serves this loop only
        self.in_flight = 0
        self.peak_in_flight = 0

    async def call(self, case: Case, variant: Variant | None = None) -> Output:
        """The target's output for ``case`` (and ``variant``), retried on transient faults.

        Raises TargetError.
        """
        attempt = 0
        while True:
            try:
                return await self._once(case, variant)
            except TargetError as exc:
                if not exc.transient or attempt >= self.policy.retries:
                    if attempt:
                        message = f"{exc} ({plural(attempt + 1, 'attempt')})"
                        raise TargetError(message, transient=False) from exc
                    raise
            await self.policy.sleep(self.policy.delay(attempt))
            attempt += 1

    async def _once(self, case: Case, variant: Variant | None) -> Output:
        args = (case,) if variant is None else (case, variant)
        if self._limit is None:
            value = await self._timed(args)
        else:
            async with self._limit:
                value = await self._timed(args)
        try:
            return Output.parse(value)
        except OutputError as exc:
            raise TargetError(
                f"the target returned {type(value).__name__} for case {case.id!r}, which is "
                f"not an output: {exc}. Return a str, an Output or a dict of Output's fields",
                transient=False,
            ) from None

    async def _timed(self, args: tuple[Case] | tuple[Case, Variant]) -> object:
        timeout = self.policy.timeout
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if inspect.iscoroutinefunction(self.target):
                value = await asyncio.wait_for(self.target(*args), timeout)
            else:
                # A sync target runs in a thread; on timeout we stop waiting for it.
                value = await asyncio.wait_for(asyncio.to_thread(self.target, *args), timeout)
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, timeout)
        except asyncio.TimeoutError:
            raise TargetError(f"target timed out after {timeout:g} s", transient=True) from None
        except Exception as exc:
            raise TargetError(
                f"target raised {type(exc).__name__}: {exc}", transient=is_transient(exc)
            ) from exc
        finally:
            self.in_flight -= 1
        return value


def check_target_options(
    target: object, concurrency: int | None, timeout: float | None,
    retries: int | None, repeats: int,
) -> None:
    given = [n for n, v in (("target_concurrency", concurrency), ("target_timeout", timeout),
                            ("target_retries", retries)) if v is not None]
    if repeats != 1:
        given.append("target_repeats")
    if given and target is None:
        raise ValueError(f"{', '.join(given)} only make sense with a target=... callable")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"target_repeats must be a whole number of at least 1, got {repeats!r}")
    TargetPolicy(
        timeout=1.0 if timeout is None else timeout,
        retries=0 if retries is None else retries,
        concurrency=concurrency,
    )
