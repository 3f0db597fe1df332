"""Async custom checks and scorers: awaited, and run concurrently across the batch.

Concurrency is shown without a clock: every call waits at a rendezvous that
opens only when all 20 calls are in flight at once. Run one after another,
the first call would wait forever, so the run is bounded by a generous
``wait_for`` that fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio

import pytest

from pytest_llmfunnel import Funnel, checks, scorers
from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge
from pytest_llmfunnel.funnel.runner import FunnelRunner, Unit
from pytest_llmfunnel.funnel.stages.base import CheckOutcome
from pytest_llmfunnel.models import Case, CaseResult
from pytest_llmfunnel.output import Output

N = 20
CASES = [Case(id=f"c{i:02d}", input=f"q{i}", outputs={"default": f"answer {i}"}) for i in range(N)]


class Rendezvous:
    """Opens when ``n`` callers are waiting at once; counts the most ever in flight."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.in_flight = 0
        self.peak = 0
        self.all_in = asyncio.Event()

    async def arrive(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight == self.n:
            self.all_in.set()
        await self.all_in.wait()
        self.in_flight -= 1


def run_all(funnel: Funnel, cases: list[Case] = CASES) -> list[CaseResult]:
    async def main() -> list[CaseResult]:
        runner = FunnelRunner(backend=OfflineReferenceJudge(), concurrency=16)
        # Generous bound: only reached if the calls ran one after another.
        return await asyncio.wait_for(runner.run(funnel, [Unit(c, "default") for c in cases]), 60)

    return asyncio.run(main())


def test_twenty_async_scorers_are_all_in_flight_at_once() -> None:
    meeting: list[Rendezvous] = []

    async def slow_score(case: Case, output: str) -> float:
        if not meeting:
            meeting.append(Rendezvous(N))
        await meeting[0].arrive()
        return float(len(output))

    results = run_all(Funnel(scorers.scorer(slow_score)))
    assert meeting[0].peak == N
    assert [r.stages[0].score for r in results] == [float(len(f"answer {i}")) for i in range(N)]


def test_twenty_async_checks_are_all_in_flight_at_once() -> None:
    meeting: list[Rendezvous] = []

    async def slow_check(case: Case, output: str) -> tuple[bool, str]:
        if not meeting:
            meeting.append(Rendezvous(N))
        await meeting[0].arrive()
        return output.startswith("answer"), "looked"

    results = run_all(Funnel(checks.check(slow_check), scorers.token_f1(name="f1")))
    assert meeting[0].peak == N
    assert all(r.stages[0].status == "passed" for r in results)


def test_async_stages_keep_the_sync_contract() -> None:
    async def returns_none(case: Case, output: str) -> None:
        return None

    async def raises(case: Case, output: str) -> float:
        raise RuntimeError("backend down")

    async def nan(case: Case, output: str) -> float:
        return float("nan")

    async def structured(case: Case, output: Output) -> CheckOutcome:
        return CheckOutcome(output.text.startswith("answer"), "structured")

    funnel = Funnel(
        checks.check(returns_none, name="none"),
        checks.check(structured, structured=True),
        scorers.scorer(raises),
        scorers.scorer(nan),
    )
    [result] = run_all(funnel, CASES[:1])
    none = result.stage("none")
    assert none is not None and none.status == "error" and "returned NoneType" in none.reason
    # the gating error stops the case: the rest are not run
    assert [s.stage for s in result.stages] == ["none"]
    [second] = run_all(Funnel(*funnel.stages[1:]), CASES[:1])
    assert [s.status for s in second.stages] == ["passed", "error", "error"]
    assert "RuntimeError: backend down" in second.stages[1].reason
    assert "non-finite" in second.stages[2].reason


def test_an_async_check_run_synchronously_is_an_error_not_a_pass() -> None:
    async def fine(case: Case, output: str) -> bool:
        return True

    result = checks.check(fine).run(CASES[0], "answer")
    assert result.status == "error" and "arun()" in result.reason


@pytest.mark.parametrize("factory", [checks.check, scorers.scorer])
def test_async_callables_are_accepted(factory: object) -> None:
    async def fn(case: Case, output: str) -> bool:
        return True

    assert callable(factory)
    stage = factory(fn)
    assert stage.name == "fn"
