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
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    found = [getattr(r, "llm_funnel", None) for r in reports if r.when == "call"]
    return {rec["case"]: rec for rec in found if rec}


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
