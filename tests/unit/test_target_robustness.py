"""Fault injection on the target: raises, hangs, transient faults, garbage, limits, repeats.

No test sleeps for real or reads the clock: waits between tries go through an
injected ``sleep`` that records them, and a hang is a coroutine that waits
for an event nobody sets (it times out whatever the machine's load).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pytest_llmfunnel import Funnel, TransientTargetError, checks, judges, scorers
from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge
from pytest_llmfunnel.funnel.repeats import fold
from pytest_llmfunnel.funnel.runner import FunnelRunner, Unit
from pytest_llmfunnel.funnel.target import TargetPolicy, is_transient
from pytest_llmfunnel.models import Case, CaseResult, StageResult
from pytest_llmfunnel.record import DatasetRun, build_record

CASES = [Case(id=f"c{i}", input=f"question {i}", expected=f"answer {i}") for i in range(6)]


class Waits:
    """An injected sleep: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run(
    funnel: Funnel, cases: list[Case] = CASES[:1], *, policy: TargetPolicy | None = None
) -> list[CaseResult]:
    runner = FunnelRunner(backend=OfflineReferenceJudge(), target_policy=policy)
    return asyncio.run(runner.run(funnel, [Unit(c, "default") for c in cases]))


def policy(**kw: Any) -> tuple[TargetPolicy, Waits]:
    waits = Waits()
    kw.setdefault("delay", lambda attempt: 0.5 * 2**attempt)
    return TargetPolicy(sleep=waits, **kw), waits


def test_a_target_that_raises_is_a_target_error_not_retried() -> None:
    calls: list[str] = []

    def target(case: Case) -> str:
        calls.append(case.id)
        raise KeyError("no such product")

    pol, waits = policy(retries=3)
    [result] = run(Funnel(checks.not_empty(), target=target), policy=pol)
    assert result.error == "target raised KeyError: 'no such product'"
    assert result.target_errors == 1 and result.dropped_at == "target"
    assert calls == ["c0"] and waits.waits == []  # a bug is not retried


def test_a_target_that_hangs_past_the_timeout_is_retried_then_an_error() -> None:
    async def target(case: Case) -> str:
        await asyncio.Event().wait()  # nobody sets it
        return "unreachable"

    pol, waits = policy(timeout=0.05, retries=2)
    [result] = run(Funnel(checks.not_empty(), target=target), policy=pol)
    assert result.error == "target timed out after 0.05 s (3 attempts)"
    assert waits.waits == [0.5, 1.0]  # the backoff between the three tries


def test_a_sync_target_that_hangs_times_out_too() -> None:
    release = threading.Event()

    def target(case: Case) -> str:
        release.wait()
        return "late"

    pol, _ = policy(timeout=0.05, retries=0)
    runner = FunnelRunner(backend=OfflineReferenceJudge(), target_policy=pol)
    funnel = Funnel(checks.not_empty(), target=target)
    # Its own loop, closed without waiting for the abandoned thread (asyncio.run would).
    loop = asyncio.new_event_loop()
    try:
        [result] = loop.run_until_complete(runner.run(funnel, [Unit(CASES[0], "default")]))
    finally:
        release.set()  # let the abandoned thread end
        loop.close()
    assert result.error == "target timed out after 0.05 s"


def test_transient_errors_then_success_are_retried_with_backoff() -> None:
    faults: dict[str, list[BaseException]] = {
        "c0": [ConnectionError("reset"), TransientTargetError("busy")],
        "c1": [_Status(503)],
        "c2": [],
    }

    def target(case: Case) -> str:
        if faults[case.id]:
            raise faults[case.id].pop(0)
        return f"answer for {case.id}"

    pol, waits = policy(retries=2)
    results = run(Funnel(checks.not_empty(), target=target), CASES[:3], policy=pol)
    assert [r.error for r in results] == [None, None, None]
    assert [r.output for r in results] == ["answer for c0", "answer for c1", "answer for c2"]
    assert sorted(waits.waits) == [0.5, 0.5, 1.0]
    assert [r.target_errors for r in results] == [0, 0, 0]


def test_retries_stop_at_the_limit_and_say_how_many_attempts() -> None:
    def target(case: Case) -> str:
        raise _Status(429)

    pol, waits = policy(retries=1)
    [result] = run(Funnel(checks.not_empty(), target=target), policy=pol)
    assert result.error == "target raised _Status: HTTP 429 (2 attempts)"
    assert waits.waits == [0.5]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (None, "returned NoneType for case 'c0'"),
        (42, "returned int for case 'c0'"),
        ({"txt": "typo"}, "field 'txt': unknown field"),
        ({"text": "x", "tool_calls": [{"arguments": {}}]}, "field 'tool_calls.0.name'"),
        ({"text": "x", "latency_s": -1}, "field 'latency_s'"),
    ],
)
def test_garbage_from_the_target_is_an_error_naming_case_and_field(
    value: object, named: str
) -> None:
    pol, waits = policy(retries=3)
    [result] = run(Funnel(checks.not_empty(), target=lambda case: value), policy=pol)
    assert result.error is not None and named in result.error
    assert waits.waits == []  # garbage is not transient


class InFlight:
    """Counts target calls in flight; each waits until ``meet`` of them are in at once."""

    def __init__(self, meet: int) -> None:
        self.meet, self.now, self.peak = meet, 0, 0
        self.met = asyncio.Event()

    async def __call__(self, case: Case) -> str:
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= self.meet:
            self.met.set()
        await self.met.wait()  # without a limit, only opens once all cases are in flight
        await asyncio.sleep(0)
        self.now -= 1
        return "ok"


def run_bounded(funnel: Funnel) -> tuple[FunnelRunner, list[CaseResult]]:
    runner = FunnelRunner(backend=OfflineReferenceJudge())

    async def main() -> list[CaseResult]:
        units = [Unit(c, "default") for c in CASES]
        return await asyncio.wait_for(runner.run(funnel, units), 60)  # fails, never hangs

    return runner, asyncio.run(main())


def test_the_target_concurrency_limit_holds() -> None:
    target = InFlight(meet=2)
    runner, results = run_bounded(Funnel(checks.not_empty(), target=target, target_concurrency=2))
    assert all(r.error is None for r in results)
    assert target.peak == 2
    assert next(iter(runner.target_callers.values())).peak_in_flight == 2


def test_without_a_limit_every_case_in_flight_calls_at_once() -> None:
    target = InFlight(meet=len(CASES))
    _, results = run_bounded(Funnel(checks.not_empty(), target=target))
    assert all(r.error is None for r in results) and target.peak == len(CASES)


def test_funnel_settings_override_the_session_policy() -> None:
    session = TargetPolicy(timeout=9.0, retries=5, concurrency=7)
    funnel = Funnel(target=lambda c: "x", target_timeout=1.0, target_retries=0)
    mine = funnel.target_policy(session)
    assert (mine.timeout, mine.retries, mine.concurrency) == (1.0, 0, 7)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"target_repeats": 0}, "target_repeats must be"),
        ({"target_retries": -1}, "retries must be 0 or more"),
        ({"target_concurrency": 0}, "concurrency must be at least 1"),
        ({"target_timeout": 0}, "timeout must be a positive"),
    ],
)
def test_bad_target_settings_are_refused(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Funnel(target=lambda c: "x", **kw)


def test_target_settings_need_a_target() -> None:
    with pytest.raises(ValueError, match="target_repeats only make sense with a target"):
        Funnel(checks.not_empty(), target_repeats=3)


def test_transient_is_what_clients_report_as_retryable() -> None:
    assert is_transient(ConnectionError()) and is_transient(TimeoutError())
    assert is_transient(_Status(429)) and is_transient(_Status(502))
    assert not is_transient(_Status(400)) and not is_transient(ValueError())

    class Response:
        status_code = 503

    class HTTPError(Exception):
        response = Response()

    assert is_transient(HTTPError())


# --- target repeats ---


def _sequence(*outputs: str | BaseException) -> Callable[[Case], str]:
    lock = threading.Lock()
    pending = list(outputs)

    def target(case: Case) -> str:
        with lock:
            item = pending.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return target


def test_repeats_are_folded_by_majority_and_mean() -> None:
    target = _sequence("answer 0", "answer 0", "answer x")
    funnel = Funnel(
        scorers.token_f1(),
        checks.contains("0"),
        target=target,
        target_repeats=3,
        target_retries=0,
    )
    [result] = run(funnel)
    f1, check = result.stages
    assert f1.status == "measured" and f1.score == pytest.approx((1 + 1 + 0.5) / 3)
    assert check.status == "passed" and check.reason.startswith("2 of 3 target repeats passed")
    assert result.promoted and result.target_errors == 0


def test_a_majority_of_failing_repeats_drops_the_case() -> None:
    funnel = Funnel(
        checks.contains("answer"),
        judges.correctness(),
        target=_sequence("answer 0", "wrong", "wrong"),
        target_repeats=3,
    )
    [result] = run(funnel)
    assert [s.stage for s in result.stages] == ["contains(any: 'answer')"]
    assert result.stages[0].status == "failed" and not result.promoted
    assert result.dropped_at == "contains(any: 'answer')"


def test_failed_repeats_are_counted_and_left_out_of_the_fold() -> None:
    funnel = Funnel(
        checks.contains("answer"),
        target=_sequence("answer 0", KeyError("boom"), "answer 0"),
        target_repeats=3,
        target_retries=0,
    )
    [result] = run(funnel)
    assert result.error is None and result.promoted and result.target_errors == 1
    assert result.stages[0].reason.startswith("2 of 2 target repeats passed (of 3)")


def test_when_every_repeat_fails_the_case_is_a_target_error() -> None:
    funnel = Funnel(
        checks.not_empty(),
        target=_sequence(KeyError("a"), KeyError("b")),
        target_repeats=2,
        target_retries=0,
    )
    [result] = run(funnel)
    assert result.error is not None and result.error.startswith("target raised KeyError")
    assert result.target_errors == 2


def test_a_judge_fold_keeps_every_sample_and_adds_up_requests() -> None:
    funnel = Funnel(
        judges.correctness(), target=_sequence("answer 0", "answer 0", "nope"), target_repeats=3
    )
    [result] = run(funnel)
    [judge] = result.stages
    assert judge.verdict is not None
    assert len(judge.verdict.samples) == 3 and judge.verdict.requests == 3
    assert judge.score == pytest.approx(sum(judge.verdict.samples) / 3)


def test_a_tie_of_repeats_fails() -> None:
    one = CaseResult("c", "default", "a", (_passed("s", True),), promoted=True)
    other = CaseResult("c", "default", "b", (_passed("s", False),), promoted=False, dropped_at="s")
    folded = fold([one, other])
    assert folded.stages[0].status == "failed" and not folded.promoted


def test_target_errors_are_counted_apart_in_the_run() -> None:
    results = run(
        Funnel(checks.contains("answer"), target=_sequence("answer", KeyError("x"), "nope"),
               target_retries=0),
        CASES[:3],
    )
    dataset = DatasetRun("d")
    for r in results:
        dataset.add(build_record(r, "d"))
    assert dataset.target_errors == 1
    assert dataset.stages["contains(any: 'answer')"].failed == 1


class _Status(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


def _passed(name: str, passed: bool) -> StageResult:
    return StageResult(name, "check", "passed" if passed else "failed", gating=True)
