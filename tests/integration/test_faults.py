"""Every fault an endpoint can throw at the judge backend, over real HTTP through the SDK."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmfunnel.endpoint.backoff import http_date
from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
from pytest_llmfunnel.funnel.backend import Completion, JudgeCallError, JudgeRequest
from pytest_llmfunnel.testing import (
    Action,
    JudgeServer,
    close,
    empty_choices,
    garbage,
    hang,
    hashed_verdicts,
    ok,
    refused_base_url,
    status,
    truncated,
)
from tests.support.clock import FakeTime
from tests.support.runs import cases, write_jsonl

KEY = "sk-fault-test-ABCDEFGH12345678"
OK_CONTENT = '{"reasoning": "ok", "score": 4}'


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as srv:
        yield srv


def make_backend(base_url: str, **kwargs: Any) -> OpenAIJudgeBackend:
    # Backoff ceilings of a few milliseconds keep retries fast; seeded jitter.
    settings: dict[str, Any] = {
        "timeout": 5.0,
        "backoff_base": 0.005,
        "backoff_max": 0.05,
        "seed": 1,
    }
    settings.update(kwargs)
    return OpenAIJudgeBackend("judge-1", base_url, KEY, **settings)


def request(base_url: str, text: str = "judge this") -> JudgeRequest:
    body = {"model": "judge-1", "messages": [{"role": "user", "content": text}]}
    return JudgeRequest(body=body, base_url=base_url)


def call(backend: OpenAIJudgeBackend, base_url: str, text: str = "x") -> Completion:
    return asyncio.run(backend.complete(request(base_url, text)))


def failure(backend: OpenAIJudgeBackend, base_url: str) -> JudgeCallError:
    with pytest.raises(JudgeCallError) as err:
        call(backend, base_url)
    return err.value


def with_fake_time(base_url: str, **kwargs: Any) -> tuple[OpenAIJudgeBackend, FakeTime]:
    """A backend whose retry waits go to a fake sleep that records them and returns at once."""
    time = FakeTime()
    backend = make_backend(
        base_url, clock=time.monotonic, wall_clock=time.wall, sleep=time.sleep, **kwargs
    )
    return backend, time


# -- rate limiting -----------------------------------------------------------------
def test_429_with_retry_after_seconds_is_honoured(server: JudgeServer) -> None:
    server.script([status(429, retry_after=0.4)])
    backend, time = with_fake_time(server.base_url)
    completion = call(backend, server.base_url)
    assert completion.content == OK_CONTENT
    assert time.sleeps == [0.4]
    assert (backend.stats.requests, backend.stats.retries, backend.stats.rate_limited) == (2, 1, 1)


def test_429_with_retry_after_ms_is_honoured(server: JudgeServer) -> None:
    server.script([status(429, retry_after_ms=300)])
    backend, time = with_fake_time(server.base_url)
    call(backend, server.base_url)
    assert time.sleeps == [0.3]


def test_429_with_an_http_date_is_honoured(server: JudgeServer) -> None:
    # The server and the backend read the same fake wall clock: the wait is exact.
    backend, time = with_fake_time(server.base_url)
    server.script([status(429, retry_after=http_date(2, now=time.wall()))])
    call(backend, server.base_url)
    assert time.sleeps == [2.0]


def test_retry_after_is_capped_by_max_wait(server: JudgeServer) -> None:
    server.script([status(429, retry_after=30)])
    backend, time = with_fake_time(server.base_url, max_wait=0.2)
    call(backend, server.base_url)
    assert time.sleeps == [0.2]


def test_429_without_retry_after_backs_off_with_jitter(server: JudgeServer) -> None:
    server.script([status(429)] * 3)
    backend, time = with_fake_time(server.base_url, backoff_base=0.05, backoff_max=1.0)
    completion = call(backend, server.base_url)
    assert completion.content == OK_CONTENT
    assert backend.stats.retries == 3
    # Full jitter under a doubling ceiling, drawn from the seeded generator (seed 1).
    rng = random.Random(1)
    assert time.sleeps == [rng.uniform(0.0, ceiling) for ceiling in (0.05, 0.1, 0.2)]


def test_rate_limiting_that_never_ends_gives_up_with_rate_limited(server: JudgeServer) -> None:
    server.default = lambda body: status(429, retry_after=0)
    backend = make_backend(server.base_url, max_retries=3)
    err = failure(backend, server.base_url)
    assert err.cause == "rate_limited"
    assert "4 attempts" in str(err) and "HTTP 429" in str(err)
    assert server.stats.requests == 4 and backend.stats.failures == 1


def test_a_429_halves_the_limit_and_successes_restore_it(server: JudgeServer) -> None:
    backend = make_backend(server.base_url, concurrency=8, recover_after=2)
    server.script([status(429, retry_after=0)])
    call(backend, server.base_url)  # 429 halves, then its retry is the first success
    assert backend.limiter.current == 4
    call(backend, server.base_url)
    assert backend.limiter.current == 5
    for _ in range(6):
        call(backend, server.base_url)
    assert backend.limiter.current == 8  # back at the limit, and never past it
    call(backend, server.base_url)
    assert backend.limiter.current == 8


# -- server errors -------------------------------------------------------------------
@pytest.mark.parametrize("code", [500, 502, 503, 408, 409])
def test_transient_status_codes_are_retried(server: JudgeServer, code: int) -> None:
    server.script([status(code), status(code)])
    backend = make_backend(server.base_url)
    assert call(backend, server.base_url).content == OK_CONTENT
    assert backend.stats.retries == 2 and server.stats.statuses == {str(code): 2, "200": 1}


def test_503_with_retry_after_is_honoured(server: JudgeServer) -> None:
    server.script([status(503, retry_after=0.3)])
    backend, time = with_fake_time(server.base_url)
    call(backend, server.base_url)
    assert time.sleeps == [0.3]


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (status(500), "server_error"),
        (status(502), "server_error"),
        (status(503), "server_error"),
        (close(), "connection"),
        (empty_choices(), "empty_choices"),
    ],
)
def test_a_fault_that_never_recovers_raises_its_cause(
    server: JudgeServer, fault: Action, cause: str
) -> None:
    server.default = lambda body: fault
    backend = make_backend(server.base_url, max_retries=2)
    err = failure(backend, server.base_url)
    assert err.cause == cause
    assert "3 attempts" in str(err)
    assert server.stats.requests == 3


@pytest.mark.parametrize(("code", "cause"), [(401, "auth"), (403, "auth"), (404, "bad_request")])
def test_client_errors_are_not_retried(server: JudgeServer, code: int, cause: str) -> None:
    server.script([status(code)])
    backend = make_backend(server.base_url)
    err = failure(backend, server.base_url)
    assert err.cause == cause and "1 attempt" in str(err)
    assert server.stats.requests == 1 and backend.stats.retries == 0


# -- transport faults ----------------------------------------------------------------
def test_connection_refused_is_retried_then_reported() -> None:
    base_url = refused_base_url()
    backend = make_backend(base_url, max_retries=2)
    err = failure(backend, base_url)
    assert err.cause == "connection"
    assert backend.stats.requests == 3
    assert base_url in str(err)


def test_dropped_connection_is_retried(server: JudgeServer) -> None:
    server.script([close()])
    assert call(make_backend(server.base_url), server.base_url).content == OK_CONTENT
    assert server.stats.statuses == {"closed": 1, "200": 1}


def test_read_timeout_is_retried(server: JudgeServer) -> None:
    server.script([hang(2)])
    backend = make_backend(server.base_url, timeout=0.3)
    completion = call(backend, server.base_url)
    # The real timeout fired: one hung attempt, one retry that answered.
    assert completion.content == OK_CONTENT
    assert backend.stats.retries == 1 and server.stats.requests == 2


def test_a_server_that_always_hangs_times_out(server: JudgeServer) -> None:
    server.default = lambda body: hang(2)
    backend = make_backend(server.base_url, timeout=0.3, max_retries=1)
    err = failure(backend, server.base_url)
    # Each attempt ended at the timeout, not at the server's 2 s: both were sent.
    assert err.cause == "timeout" and "0.3 s" in str(err) and "2 attempts" in str(err)
    assert server.stats.requests == 2 and backend.stats.retries == 1


# -- answers that are not what the judge wanted: returned, parsed by the judge stage ----
def test_truncated_answer_is_returned_with_its_finish_reason(server: JudgeServer) -> None:
    server.script([truncated()])
    completion = call(make_backend(server.base_url), server.base_url)
    assert completion.finish_reason == "length"
    assert completion.content is not None and completion.content.startswith('{"reasoning"')
    assert server.stats.requests == 1


def test_garbage_content_is_returned_as_is(server: JudgeServer) -> None:
    server.script([garbage("I think it is fine")])
    completion = call(make_backend(server.base_url), server.base_url)
    assert (completion.content, completion.finish_reason) == ("I think it is fine", "stop")


def test_empty_choices_are_retried(server: JudgeServer) -> None:
    server.script([empty_choices(), ok("fine")])
    backend = make_backend(server.base_url)
    assert call(backend, server.base_url).content == "fine"
    assert backend.stats.retries == 1


# -- under load --------------------------------------------------------------------------
def test_every_answer_arrives_through_a_20_percent_fault_rate() -> None:
    with JudgeServer(fault_rate=0.2, seed=3) as srv:
        srv.default = hashed_verdicts()
        backend = make_backend(srv.base_url, concurrency=8)

        async def run_all() -> list[Completion]:
            calls = [backend.complete(request(srv.base_url, f"case {i}")) for i in range(100)]
            return await asyncio.gather(*calls)

        completions = asyncio.run(run_all())
        stats = srv.stats
    assert len(completions) == 100 and all(c.content for c in completions)
    faults = stats.requests - stats.statuses["200"]
    assert stats.statuses["200"] == 100
    assert faults >= 10  # the server really did fail a good share of the attempts
    assert backend.stats.requests == stats.requests
    assert backend.stats.retries == faults


def test_the_concurrency_limit_holds_at_the_server() -> None:
    with JudgeServer(latency=0.05) as srv:
        backend = make_backend(srv.base_url, concurrency=4)

        async def run_all() -> None:
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, str(i))) for i in range(24))
            )

        asyncio.run(run_all())
        stats = srv.stats
    assert stats.max_inflight == 4  # reached, never exceeded
    assert backend.stats.max_in_flight == 4
    assert stats.unique_prompts == 24


def test_a_429_storm_narrows_the_pool_seen_by_the_server() -> None:
    with JudgeServer(latency=0.05) as srv:
        backend = make_backend(srv.base_url, concurrency=8, recover_after=1000)
        srv.script([status(429, retry_after=0.05)] * 8)

        async def run_all() -> None:
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, str(i))) for i in range(8))
            )
            srv.reset()
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, f"b{i}")) for i in range(16))
            )

        asyncio.run(run_all())
        stats = srv.stats
    assert backend.limiter.current == 4  # one burst of eight 429s halves once
    assert stats.max_inflight == 4


# -- the key -------------------------------------------------------------------------------
def test_the_key_reaches_the_server_but_no_error(server: JudgeServer) -> None:
    echoed = f"invalid key {KEY}, header was 'Bearer {KEY}'"
    server.script([status(401, message=echoed)])
    backend = make_backend(server.base_url)
    auth_error = failure(backend, server.base_url)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.received_secrets() == {KEY}
    assert auth_error.cause == "auth" and "invalid key ***" in str(auth_error)

    server.default = lambda body: status(500, message=f"upstream saw sk-other-secret-99 {KEY}")
    server_error = failure(make_backend(server.base_url, max_retries=0), server.base_url)
    refused = failure(make_backend(refused_base_url(), max_retries=0), "")
    errors = [auth_error, server_error, refused]
    server.assert_secrets_absent(*errors, backend, backend.identity)
    for err in errors:
        assert err.__cause__ is None and err.__context__ is None  # no SDK text chained
        assert "sk-other-secret-99" not in str(err)


def test_sixty_four_slow_requests_run_side_by_side() -> None:
    # The server counts what it holds at once: all 64 means one latency, not 64 in a
    # row. The latency only has to outlast opening 64 connections on a loaded machine.
    with JudgeServer(latency=3.0) as srv:
        backend = make_backend(srv.base_url, concurrency=64, timeout=30.0)

        async def run_all() -> None:
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, str(i))) for i in range(64))
            )

        asyncio.run(run_all())
        stats = srv.stats
    assert stats.max_inflight == 64 and stats.statuses == {"200": 64}


# -- a dead endpoint: seconds, not minutes ----------------------------------------------
BATCH = 120  # many more requests than the pool holds: what is sent must not grow with it


def batch(backend: OpenAIJudgeBackend, base_url: str, n: int = BATCH) -> list[JudgeCallError]:
    """``n`` requests at once; every one must fail. A generous timeout is the safety net."""

    async def run_all() -> list[Any]:
        calls = [backend.complete(request(base_url, f"case {i}")) for i in range(n)]
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 120)

    outcomes = asyncio.run(run_all())
    assert all(isinstance(o, JudgeCallError) for o in outcomes), outcomes
    return outcomes


GIVEN_UP = ("not sent: ", "given up after earlier attempts: ")


def split_sent(errors: list[JudgeCallError]) -> tuple[list[str], list[str]]:
    """(requests that failed on their own, the reason of each one ended by the give-up).

    A request ended by the give-up is either never sent ("not sent: ") or was
    waiting to retry ("given up after earlier attempts: "); both carry the one
    reason, which is what is returned for them.
    """
    messages = [str(e) for e in errors]
    ended = [m for m in messages if m.startswith(GIVEN_UP)]
    reasons = [m.split(": ", 1)[1] for m in ended]
    return [m for m in messages if m not in ended], reasons


@pytest.mark.parametrize(
    ("fault", "cause", "fix"),
    [
        (status(401, message=f"Incorrect API key provided: {KEY}"), "auth",
         "check the API key (LLM_FUNNEL_API_KEY or OPENAI_API_KEY)"),
        (status(403, message="Your organisation is not allowed to call this API"), "auth",
         "check the API key"),
        (status(404, message="Not Found"), "bad_request", "check the base URL"),
        (status(404, message="The model `judge-1` does not exist or you do not have access."),
         "bad_request", "check the model name 'judge-1'"),
        (status(404, message='model "judge-1" not found, try pulling it first'), "bad_request",
         "check the model name 'judge-1'"),
        (status(400, message="Invalid model name passed in model=judge-1"), "bad_request",
         "check the model name 'judge-1'"),
    ],
    ids=["401", "403", "404", "404-model-openai", "404-model-ollama", "400-invalid-model"],
)
def test_a_misconfigured_endpoint_ends_the_batch_after_its_first_answers(
    server: JudgeServer, fault: Action, cause: str, fix: str
) -> None:
    server.default = lambda body: fault
    backend = make_backend(server.base_url, concurrency=8)
    errors = batch(backend, server.base_url)
    # At most the first wave reaches the server, whatever the batch size.
    assert server.stats.requests <= 8
    assert {e.cause for e in errors} == {cause}
    sent, unsent = split_sent(errors)
    assert len(sent) == server.stats.requests and len(unsent) == BATCH - len(sent)
    assert len(set(unsent)) == 1  # one clear reason for every request not sent
    for message in sent[:1] + unsent[:1]:
        # the server's own words (redacted), then the fix that fits, never a timeout hint
        assert fault.message.replace(KEY, "***") in message and fix in message
        assert KEY not in message and "raise the timeout" not in message


@pytest.mark.parametrize("where", ["closed port", "unknown host"])
def test_an_unreachable_endpoint_ends_the_batch_after_a_few_attempts(where: str) -> None:
    base_url = refused_base_url() if where == "closed port" else "http://no-such-host.invalid/v1"
    # The default retry budget and backoff: a request alone would retry for up to 31 s.
    backend = make_backend(base_url, concurrency=8, backoff_base=0.5, backoff_max=30.0)
    errors = batch(backend, base_url)
    assert {e.cause for e in errors} == {"connection"}
    sent, unsent = split_sent(errors)
    # Once given up, every request waiting to retry ends unsent: only the attempts in
    # flight at that moment end with their own failure (twice the limit at most, when
    # slow lookups outlast the stall time).
    assert len(unsent) >= BATCH - 16 and len(set(unsent)) == 1
    assert backend.stats.failures == len(sent)
    # Only the requests that never went out are counted as not sent.
    never = sum(str(e).startswith("not sent: ") for e in errors)
    assert backend.endpoint_report["not_sent"] == never < BATCH
    said = "connection refused" if where == "closed port" else "unknown host"
    fix = "and that the server is running" if where == "closed port" else "check the host name"
    for message in sent[:1] + unsent[:1]:
        assert said in message and fix in message and base_url in message
        assert "raise the timeout" not in message


def test_a_model_the_endpoint_does_not_know_ends_only_its_own_requests(
    server: JudgeServer,
) -> None:
    unknown = status(404, message="The model `judge-x` does not exist.")
    server.default = lambda body: unknown if body.get("model") == "judge-x" else ok()
    backend = make_backend(server.base_url, concurrency=4)

    async def run_all() -> list[Any]:
        calls = []
        for i in range(60):
            body = {"model": "judge-x" if i % 2 else "judge-1",
                    "messages": [{"role": "user", "content": f"case {i}"}]}
            calls.append(backend.complete(JudgeRequest(body=body, base_url=server.base_url)))
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 120)

    outcomes = asyncio.run(run_all())
    answered = [o for o in outcomes[0::2] if isinstance(o, Completion)]
    failed = [o for o in outcomes[1::2] if isinstance(o, JudgeCallError)]
    assert len(answered) == 30 and len(failed) == 30
    assert all("check the model name 'judge-x'" in str(e) for e in failed)
    assert server.stats.requests <= 30 + 4


def test_after_a_first_answer_client_errors_are_reported_one_by_one(server: JudgeServer) -> None:
    # The endpoint worked, so a later 401 is not a setting to fix before anything runs:
    # each request is still sent once, and fails once, without retries.
    server.script([ok()])
    server.default = lambda body: status(401, message="key revoked")
    backend = make_backend(server.base_url, concurrency=1)
    call(backend, server.base_url)
    errors = batch(backend, server.base_url, 20)
    assert server.stats.requests == 21 and backend.stats.retries == 0
    assert not any(str(e).startswith("not sent") for e in errors)


def test_giving_up_wakes_requests_waiting_to_retry_or_for_a_slot(server: JudgeServer) -> None:
    # The first request is told to come back in 60 s; the second learns the key is wrong.
    server.script([status(503, retry_after=60)])
    server.default = lambda body: status(401, message="bad key")
    backend = make_backend(server.base_url, concurrency=2, max_wait=60)

    async def scenario() -> list[Any]:
        waiting = asyncio.create_task(backend.complete(request(server.base_url, "a")))
        while server.stats.requests < 1:
            await asyncio.sleep(0.01)
        rest = [backend.complete(request(server.base_url, f"b{i}")) for i in range(10)]
        everything = asyncio.gather(waiting, *rest, return_exceptions=True)
        return await asyncio.wait_for(everything, 30)  # a safety net, far below the 60 s

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, JudgeCallError) and o.cause == "auth" for o in outcomes)
    # "a" went out once (503) and was waiting to retry: given up, not counted as unsent.
    assert str(outcomes[0]).startswith("given up after earlier attempts: ")
    assert "bad key" in str(outcomes[0])
    assert server.stats.requests == 3  # a, then b0 and b1 side by side; nothing after the 401
    never = [o for o in outcomes if str(o).startswith("not sent: ")]
    assert len(never) == 8 and backend.endpoint_report["not_sent"] == 8  # b2..b9


# -- hung requests and rate limits do not serialise the run ------------------------------
@pytest.mark.slow
def test_hung_requests_do_not_hold_up_the_rest(server: JudgeServer) -> None:
    # Four requests hang (far longer than the timeout) and take all four slots. The
    # other forty must be answered while those four are still on their first attempt.
    server.latency = 0.01
    server.script([hang(60)] * 4)
    backend = make_backend(server.base_url, concurrency=4, timeout=20)

    async def scenario() -> tuple[int, int, int]:
        hung = [asyncio.create_task(backend.complete(request(server.base_url, f"h{i}")))
                for i in range(4)]
        while server.stats.in_flight < 4:
            await asyncio.sleep(0.01)
        rest = [backend.complete(request(server.base_url, f"r{i}")) for i in range(40)]
        answers = await asyncio.wait_for(asyncio.gather(*rest), 60)  # safety net
        still_hanging, retries = server.stats.in_flight, backend.stats.retries
        backend.stop()
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
        return len(answers), still_hanging, retries

    answered, still_hanging, retries = asyncio.run(scenario())
    assert answered == 40
    assert still_hanging == 4 and retries == 0  # no hung request had timed out yet
    assert server.stats.statuses.get("200") == 40


def test_a_run_of_429s_stops_at_the_floor_and_the_pool_stays_wide() -> None:
    with JudgeServer(latency=0.05) as srv:
        backend = make_backend(srv.base_url, concurrency=16, recover_after=1000)
        for i in range(6):  # six 429s in turn, each after the last decrease
            srv.script([status(429, retry_after=0)])
            call(backend, srv.base_url, f"storm {i}")
        assert backend.limiter.current == 4  # 16 -> 8 -> 4, then the floor holds
        srv.reset()

        async def run_all() -> None:
            await asyncio.gather(
                *(backend.complete(request(srv.base_url, f"after {i}")) for i in range(24))
            )

        asyncio.run(run_all())
        assert srv.stats.max_inflight == 4  # four at a time, not one


# -- through the plugin: one clear reason, said once ---------------------------------------
EVAL = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    pass
"""


def run_eval(pytester: pytest.Pytester, base_url: str, n: int, *extra: str) -> pytest.RunResult:
    write_jsonl(pytester.path / "cases.jsonl", cases(n))
    pytester.makepyfile(test_eval=EVAL)
    # The default retries and backoff, as a user would have them.
    args = ["--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
            "-p", "no:cacheprovider", *extra]
    return pytester.runpytest(*args)


def test_a_closed_port_ends_the_run_with_one_reason_said_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    base_url = refused_base_url()
    result = run_eval(pytester, base_url, 40, "--llm-funnel-report=report.md",
                      "--llm-funnel-json=results.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*40 llm-error*"])
    text = " ".join(result.stdout.str().split())
    reason = (
        f"the judge endpoint {base_url} gave no usable answer (connection refused); check the "
        f"base URL {base_url} (--llm-funnel-base-url) and that the server is running"
    )
    assert text.count(reason) == 1  # in the summary, once, not once per case
    assert f"judge endpoint given up: {reason}" in text
    assert "were not sent; their cases are llm-error" in text
    assert "raise the timeout" not in text and KEY not in text
    # The report files say it too, once, where a CI reader looks first.
    document = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    assert document["warnings"][0] == f"judge endpoint given up: {reason}"
    assert "were not sent" in document["warnings"][1]
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    head = report[: report.index("Judged by:")]
    assert head.count("> ⚠️ warning: judge endpoint given up: the judge endpoint") == 1
    assert KEY not in report and KEY not in json.dumps(document)


def test_a_wrong_key_is_sent_once_per_worker_wave_and_reported_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, plugin_args: list[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with JudgeServer() as srv:
        srv.default = lambda body: status(401, message=f"Incorrect API key provided: {KEY}")
        result = run_eval(pytester, srv.base_url, 60, "--llm-funnel-concurrency=4", *plugin_args)
        requests = srv.stats.requests
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*60 llm-error*"])
    assert requests <= 4  # the first wave of each worker (concurrency 4 in total)
    text = " ".join(result.stdout.str().split())
    reason = "gave no usable answer (HTTP 401: Incorrect API key provided: ***); check the API key"
    assert text.count(reason) == 1
    assert f"{60 - requests} judge requests were not sent" in text
    assert KEY not in text
