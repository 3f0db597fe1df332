"""The API key reaches the judge endpoint and nothing else: no file, no output, no error.

A judged eval runs through the plugin against a loopback server that echoes
the Authorization header back in its error bodies (as some proxies do), with
a 401, a 500 and a timeout among the cases. Afterwards every file the run
left behind (cache, exported lockfile, JSON and Markdown reports, JUnit XML,
log file) and everything it printed is searched for the key. Each search is
first shown to work by finding a marker that *is* written there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmfunnel import cli
from pytest_llmfunnel.testing import (
    Action,
    JudgeServer,
    RecordedRequest,
    find_secret,
    hang,
    ok,
    status,
    verdict,
)
from pytest_llmfunnel.testing.actions import last_user_message

EVAL_MODULE = """
import pytest

from pytest_llmfunnel import Funnel, judges


@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_answers(case, llm_result):
    pass
"""

CASES = {
    "ok-paris": "Paris is the capital of France.",
    "ok-rome": "Rome is the capital of Italy.",
    "ok-madrid": "Madrid is the capital of Spain.",
    "fault-401": "FAULT-401 Berlin.",
    "fault-500": "FAULT-500 Vienna.",
    "fault-timeout": "FAULT-HANG Lisbon.",
}
MARKER = "ok-madrid"  # a case id every output and file of the run mentions


class EchoingServer(JudgeServer):
    """A judge server whose error bodies repeat the credentials it received."""

    def _enter(self, request: RecordedRequest) -> Action:
        action = super()._enter(request)
        if action.kind != "status":
            return action
        auth = request.headers.get("authorization", "")
        message = f"{action.message}: you sent 'Authorization: {auth}' (key {auth[7:]})"
        return status(action.status, message=message)


def answer(body: dict[str, Any]) -> Action:
    text = last_user_message(body)
    if "FAULT-401" in text:
        return status(401, message="Incorrect API key provided")
    if "FAULT-500" in text:
        return status(500, message="Internal error")
    if "FAULT-HANG" in text:
        return hang(2.0)
    return verdict(4, "on point")


def run_eval(pytester: pytest.Pytester, base_url: str) -> pytest.RunResult:
    rows = [{"id": cid, "input": "Name a capital.", "output": out} for cid, out in CASES.items()]
    pytester.path.joinpath("cases.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    pytester.makepyfile(test_answers=EVAL_MODULE)
    return pytester.runpytest(
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={base_url}",
        "--llm-funnel-cache-dir=cache",
        "--llm-funnel-timeout=0.3",
        "--llm-funnel-max-retries=1",
        # strict: error verdicts fail their items, so their full reasons are printed
        "--llm-funnel-strict",
        "--llm-funnel-json=results.json",
        "--llm-funnel-report=report.md",
        "--junitxml=junit.xml",
        "--log-file=run.log",
        "--log-file-level=DEBUG",
        "-rA",
        "-v",
        "-p",
        "no:cacheprovider",
    )


def records(result: pytest.RunResult) -> dict[str, dict[str, Any]]:
    """Each case's record in its JSON form (the form a file or another process sees)."""
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    found = [getattr(r, "llm_funnel", None) for r in reports if r.when == "call"]
    return {rec.case: rec.to_json() for rec in found if rec}


# Both a key shaped like an OpenAI key and one that is not: the second can only
# be removed by knowing the configured secret, not by its shape.
@pytest.mark.parametrize("key", ["sk-test-SECRET-abc123xyz", "llmf-SECRET-9f8e7d6c5b4a"])
def test_the_key_is_never_written_by_a_judged_run_with_faults(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with EchoingServer() as srv:
        srv.default = answer
        result = run_eval(pytester, srv.base_url)
        received = srv.requests
    # The key did reach the endpoint, and the endpoint did echo it.
    assert {r.headers.get("authorization") for r in received} == {f"Bearer {key}"}
    assert srv.received_secrets() == {key}

    by_case = records(result)
    assert set(by_case) == set(CASES)
    verdicts = {cid: rec["stages"][0] for cid, rec in by_case.items()}
    for cid in ("ok-paris", "ok-rome", "ok-madrid"):
        assert verdicts[cid]["status"] == "passed"
    # Faults end as error verdicts (never pass or fail), each naming its cause.
    assert verdicts["fault-401"]["status"] == "error"
    assert "HTTP 401" in verdicts["fault-401"]["reason"]
    assert verdicts["fault-500"]["status"] == "error"
    assert "HTTP 500" in verdicts["fault-500"]["reason"]
    assert verdicts["fault-timeout"]["status"] == "error"
    assert "no answer within" in verdicts["fault-timeout"]["reason"]

    lockfile = pytester.path / "verdicts.lock.jsonl"
    capsys.readouterr()
    code = cli.main(["cache", "export", "--cache-dir", str(pytester.path / "cache"), str(lockfile)])
    exported = capsys.readouterr()
    assert code == 0

    printed = "\n".join([*result.outlines, *result.errlines, exported.out, exported.err])
    # Where to look, and a marker that is written there.
    places: dict[str, tuple[object, str]] = {
        "cache": (pytester.path / "cache", MARKER),
        "lockfile": (lockfile, MARKER),
        "junit": (pytester.path / "junit.xml", MARKER),
        "log": (pytester.path / "run.log", "/v1/chat/completions"),
        "printed": (printed, MARKER),
        "records": (by_case, MARKER),
    }
    # The report names the eval test; the results hold every case.
    places["results.json"] = (pytester.path / "results.json", MARKER)
    places["report.md"] = (pytester.path / "report.md", "answers")
    # Each search finds what is there...
    for where, (place, marker) in places.items():
        assert find_secret(marker, place), f"the marker is missing from {where}"
    # The echoed credentials did reach the reasons and the terminal, redacted.
    echo = "you sent 'Authorization: Bearer ***' (key ***)"
    assert echo in verdicts["fault-401"]["reason"] and echo in verdicts["fault-500"]["reason"]
    assert echo in printed
    # ...and the key is nowhere: not in those places, nor in any file of the run.
    for where, (place, _) in places.items():
        assert find_secret(key, place) == [], f"the key leaked into {where}"
    assert find_secret(key, pytester.path) == []


# -- every text from the endpoint is redacted before it becomes a reason ----------------

KEY = "llmf-SECRET-7a6b5c4d3e2f"
ONE_CASE = [{"id": "only", "input": "Name a capital.", "output": "Paris."}]


def run_one(
    pytester: pytest.Pytester, base_url: str, *extra: str, rows: list[dict[str, Any]] = ONE_CASE
) -> pytest.RunResult:
    pytester.path.joinpath("cases.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    if not pytester.path.joinpath("test_answers.py").exists():
        pytester.makepyfile(test_answers=EVAL_MODULE)
    return pytester.runpytest(
        "--llm-funnel",
        "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={base_url}",
        "--llm-funnel-cache-dir=cache",
        "--llm-funnel-max-retries=0",
        "--llm-funnel-json=results.json",
        "--junitxml=junit.xml",
        "-rA",
        "-p",
        "no:cacheprovider",
        *extra,
    )


@pytest.mark.parametrize(
    "content",
    [
        f"I will not grade this. Your key is {KEY}.",  # not JSON at all
        f'{{"reasoning": "key {KEY}", "score": 9}}',  # JSON, out of scale
        f'{{"reasoning": "key {KEY}"}}',  # JSON, no score
    ],
    ids=["not-json", "out-of-scale", "no-score"],
)
def test_an_unparseable_answer_holding_the_key_is_redacted_in_reasons_and_reports(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with JudgeServer() as srv:
        srv.default = lambda body: ok(content)
        result = run_one(pytester, srv.base_url, "--llm-funnel-strict")
        assert srv.received_secrets() == {KEY}
    stage = records(result)["only"]["stages"][0]
    assert stage["status"] == "error"
    assert "could not be parsed" in stage["reason"]
    printed = "\n".join([*result.outlines, *result.errlines])
    assert "could not be parsed" in printed  # strict: the reason is printed...
    assert find_secret("could not be parsed", pytester.path / "junit.xml")
    # ...and neither it, nor the results, nor any file of the run holds the key.
    assert find_secret(KEY, printed, stage, pytester.path) == []


def test_a_verdict_whose_reasoning_holds_the_key_is_cached_redacted_and_the_run_goes_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in KEY)  # JSON-escaped: no literal key
    answers = {
        "plain": verdict(4, f"the header carried {KEY}"),
        "escaped": ok('{"reasoning": "it was ' + escaped + '", "score": 4}'),
    }
    rows = [{"id": cid, "input": "Name a capital.", "output": cid} for cid in answers]
    with JudgeServer() as srv:
        srv.default = lambda body: answers["escaped" if "escaped" in str(body) else "plain"]
        base_url = srv.base_url
        result = run_one(pytester, base_url, rows=rows)
    assert "funnel batch failed" not in "\n".join(result.outlines)
    result.assert_outcomes(passed=2)
    by_case = records(result)
    for cid in answers:
        assert by_case[cid]["stages"][0]["status"] == "passed"
        assert "***" in by_case[cid]["stages"][0]["reason"]
    assert find_secret(KEY, by_case, pytester.path) == []
    # The redacted verdicts were stored: a replay needs no endpoint at all.
    again = run_one(pytester, base_url, "--llm-funnel-cache=replay-only", rows=rows)
    again.assert_outcomes(passed=2)
    assert srv.stats.requests == 2  # the server is closed; nothing more reached it
    for cid in answers:
        assert "***" in records(again)[cid]["stages"][0]["reason"]
    assert find_secret(KEY, pytester.path) == []


@pytest.mark.parametrize("key", ["x", "judge", "gpt-4o-mini"])
def test_a_short_placeholder_key_warns_once_and_breaks_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", key)
    rows = [{"id": f"c{i}", "input": "Name a judge.", "output": f"judge {i} x"} for i in range(3)]
    with JudgeServer() as srv:
        srv.default = lambda body: verdict(4, "the judge found x correct")
        result = run_one(pytester, srv.base_url, "--llm-funnel-model=gpt-4o-mini", rows=rows)
    assert result.ret == 0
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*API key*treated as a placeholder*not redacted*"])
    for rec in records(result).values():
        assert rec["stages"][0]["status"] == "passed"
        assert rec["stages"][0]["reason"].endswith("the judge found x correct")
    assert json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))


FAILING_MODULE = """
import pytest

from pytest_llmfunnel import Funnel, judges


@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_answers(case, llm_result):
    reasoning = llm_result.stages[0].verdict.reasoning
    assert reasoning == "something else"


def test_adhoc(llm_judge):
    verdict = llm_judge("Is it polite?", "Hello there.")
    assert verdict.passed is None
"""


def test_locals_in_tracebacks_never_show_the_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    pytester.makepyfile(test_answers=FAILING_MODULE)

    def answer(body: dict[str, Any]) -> Action:
        if "polite" in last_user_message(body):
            return status(500, message=f"upstream rejected key {KEY}")
        return verdict(4, f"key {KEY}")

    with EchoingServer() as srv:
        srv.default = answer
        result = run_one(pytester, srv.base_url, "-l", "--tb=long")
    printed = "\n".join([*result.outlines, *result.errlines])
    assert "reasoning = " in printed  # -l did print the failing test's locals
    assert "verdict = " in printed
    assert find_secret(KEY, printed, pytester.path) == []


# -- the redactor itself ------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 5, len(KEY) - 1])
def test_an_error_body_cut_short_never_keeps_part_of_the_key(cut: int) -> None:
    # The detail of an error body is shortened to 300 characters: were it cut
    # before redaction, a key straddling the cut would leave its first part.
    import asyncio

    from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
    from pytest_llmfunnel.funnel.backend import JudgeCallError, JudgeRequest

    with JudgeServer() as srv:
        srv.default = lambda body: status(400, message="x" * (300 - cut) + KEY + " tail")
        backend = OpenAIJudgeBackend("m", srv.base_url, KEY, max_retries=0)
        req = JudgeRequest(body={"messages": [{"role": "user", "content": "hi"}]}, base_url="")
        with pytest.raises(JudgeCallError) as info:
            asyncio.run(backend.complete(req))
    message = str(info.value)
    assert "HTTP 400" in message and "xxxx" in message
    tail = message.rsplit("x" * (300 - cut), 1)[-1]  # what followed the padding
    assert tail and KEY[:cut] not in tail
