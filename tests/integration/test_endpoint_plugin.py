"""Real endpoints through the plugin: the format fallback, errors in the terminal, local defaults.

Each scenario runs three ways (no xdist, ``-n 0``, ``-n 2``) against the
loopback server imitating a real server's answers.
"""

from __future__ import annotations

import json

import pytest

from pytest_llmfunnel.testing import (
    LLAMA_CPP_PYTHON_SCHEMA_ERROR,
    JudgeServer,
    litellm_no_db,
    status,
)

KEY = "sk-plugin-endpoint-0123456789abcdef"
TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    pass
"""


def write_cases(pytester: pytest.Pytester, n: int = 4) -> None:
    rows = [{"id": f"c{i}", "input": f"What is item {i}?", "output": f"Item {i} is a box."}
            for i in range(n)]
    (pytester.path / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pytester.makepyfile(TEST_FILE)


def run(pytester: pytest.Pytester, server: JudgeServer, *extra: str) -> pytest.RunResult:
    return pytester.runpytest(
        "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={server.base_url}",
        "--llm-funnel-max-retries=0", "-p", "no:cacheprovider", *extra,
    )


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def test_auto_format_works_with_a_server_that_answers_500_to_json_schema(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    write_cases(pytester)
    with JudgeServer(refuse_formats={"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}) as srv:
        result = run(pytester, srv, *plugin_args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*4 passed*"])
    out = result.stdout.str()
    # Said once, whatever the number of workers that learned it.
    assert out.count("judge endpoint: the endpoint refused response_format json_schema") == 1
    assert "--llm-funnel-response-format=json_object" in out


def test_a_fixed_json_schema_format_fails_with_the_servers_message_and_the_setting(
    pytester: pytest.Pytester,
) -> None:
    write_cases(pytester)
    with JudgeServer(refuse_formats={"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}) as srv:
        result = run(pytester, srv, "--llm-funnel-response-format=json_schema",
                     "--llm-funnel-max-error-share=1")
        base_url = srv.base_url
    assert result.ret == 0
    joined = " ".join(result.stdout.str().split())  # notes are wrapped at the terminal's width
    # A refused fixed format means the settings are wrong: the endpoint is given up at once.
    assert ("judge endpoint given up: the judge endpoint " + base_url + " gave no usable "
            "answer (HTTP 500: response_format not supported); the endpoint refused "
            "response_format json_schema: set --llm-funnel-response-format=auto") in joined
    result.stdout.fnmatch_lines(["*4 llm-error*"])


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (litellm_no_db(), "HTTP 400: No connected db."),
        (status(422, message="field 'foo' is not allowed"), "HTTP 422: field 'foo' is not allowed"),
        (status(500, message="the GPU ran out of memory"), "HTTP 500: the GPU ran out of memory"),
    ],
    ids=["litellm-unknown-key", "422", "500"],
)
def test_the_first_endpoint_error_of_each_kind_reaches_the_terminal(
    pytester: pytest.Pytester, plugin_args: list[str], action: object, expected: str
) -> None:
    write_cases(pytester)
    with JudgeServer() as srv:
        srv.default = lambda body: action  # type: ignore[assignment,return-value]
        result = run(pytester, srv, "--llm-funnel-response-format=json_object", "-q",
                     *plugin_args)
    out = result.stdout.str()
    assert result.ret == 1  # every case in error: above the error share
    joined = " ".join(out.split())  # the note is wrapped at the terminal's width
    assert "first message from the endpoint: " + expected in joined
    assert joined.count("first message from the endpoint") == 1
    assert "(4 judge requests)" in joined


def test_an_endpoint_error_quoting_the_key_is_shown_redacted(pytester: pytest.Pytester) -> None:
    write_cases(pytester, 2)
    with JudgeServer() as srv:
        srv.default = lambda body: status(400, message=f"key {KEY} may not use this route")
        result = run(pytester, srv, "--llm-funnel-max-error-share=1")
        srv.assert_secrets_absent(result.stdout.str(), result.stderr.str())
    joined = " ".join(result.stdout.str().split())
    assert "first message from the endpoint: HTTP 400: key *** may not use this route" in joined


def test_a_loopback_endpoint_starts_at_low_concurrency_with_a_longer_timeout(
    pytester: pytest.Pytester,
) -> None:
    write_cases(pytester, 8)
    with JudgeServer(latency=0.05) as srv:
        result = run(pytester, srv, "-p", "no:xdist")
        low = srv.stats.max_inflight
        srv.reset()
        chosen = run(pytester, srv, "-p", "no:xdist", "--llm-funnel-concurrency=8",
                     "--llm-funnel-cache=off")
    assert result.ret == chosen.ret == 0
    result.stdout.fnmatch_lines(["*concurrency 2, timeout 600 s (local endpoint)*"])
    chosen.stdout.fnmatch_lines(["*concurrency 8, timeout 600 s (local endpoint)*"])
    assert low <= 2


def test_a_rerun_after_the_format_fallback_is_answered_from_the_cache(
    pytester: pytest.Pytester,
) -> None:
    write_cases(pytester, 6)
    with JudgeServer(refuse_formats={"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}) as srv:
        first = run(pytester, srv, "-p", "no:xdist")
        srv.reset()
        again = run(pytester, srv, "-p", "no:xdist")
        resent = srv.stats.requests
    assert first.ret == again.ret == 0
    again.stdout.fnmatch_lines(["*6 passed*"])
    assert resent == 0  # every verdict is keyed by the body the judge rendered
