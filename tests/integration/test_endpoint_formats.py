"""The response-format switch and the error log, through the real ``openai`` client.

The loopback server imitates what real servers answered (see
``pytest_llmfunnel.testing.actions``): llama-cpp-python's 500 to
``json_schema``, servers that refuse JSON mode too, LiteLLM's wrapped errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_llmfunnel.endpoint.client import OpenAIJudgeBackend
from pytest_llmfunnel.endpoint.formats import ResponseFormat
from pytest_llmfunnel.funnel.backend import JudgeCallError, JudgeRequest
from pytest_llmfunnel.funnel.judge_answers import JudgeAnswer, response_format
from pytest_llmfunnel.testing import (
    LLAMA_CPP_PYTHON_SCHEMA_ERROR,
    JudgeServer,
    litellm_cooldown,
    litellm_no_db,
    litellm_upstream,
    status,
)

KEY = "sk-format-test-0123456789abcdef"
SCHEMA = response_format(JudgeAnswer, "judge_answer", json_schema=True)


def backend(srv: JudgeServer, fmt: ResponseFormat = "auto", **kwargs: Any) -> OpenAIJudgeBackend:
    options: dict[str, Any] = {"timeout": 5.0, "backoff_base": 0.001, "seed": 0,
                               "max_retries": 2, "response_format": fmt}
    options.update(kwargs)
    return OpenAIJudgeBackend("judge-1", srv.base_url, KEY, **options)


def request(srv: JudgeServer, text: str) -> JudgeRequest:
    body = {"model": "judge-1", "messages": [{"role": "user", "content": text}],
            "response_format": SCHEMA}
    return JudgeRequest(body=body, base_url=srv.base_url)


def score(completion: Any) -> float:
    """The score the answer carries, validated by the judge's own pydantic model."""
    return JudgeAnswer.model_validate_json(completion.content).score


def sent_formats(srv: JudgeServer) -> list[Any]:
    return [(r.body or {}).get("response_format", "none") for r in srv.requests]


def run_all(b: OpenAIJudgeBackend, srv: JudgeServer, texts: list[str]) -> list[Any]:
    async def scenario() -> list[Any]:
        return await asyncio.gather(*(b.complete(request(srv, t)) for t in texts),
                                    return_exceptions=True)

    return asyncio.run(scenario())


def test_auto_falls_back_from_a_500_on_json_schema_as_llama_cpp_python_sends_it() -> None:
    with JudgeServer(refuse_formats={"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}) as srv:
        b = backend(srv)
        answers = run_all(b, srv, ["a"]) + run_all(b, srv, ["b", "c"])
        assert sent_formats(srv) == [SCHEMA] + [{"type": "json_object"}] * 3
    # The same pydantic model validates the answer whatever format was sent.
    assert [score(a) for a in answers] == [4, 4, 4]
    assert b.formats.current == "json_object"
    assert b.supports_json_schema  # judges keep rendering (and keying) the schema body
    report = b.endpoint_report
    assert report["errors"] == {}
    assert len(report["notes"]) == 1 and "HTTP 500: response_format not supported" in (
        report["notes"][0])
    assert b.stats.retries == 0 and b.stats.failures == 0


def test_many_requests_refused_at_once_step_down_once() -> None:
    with JudgeServer(latency=0.05,
                     refuse_formats={"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}) as srv:
        b = backend(srv, concurrency=8)
        answers = run_all(b, srv, [f"q{i}" for i in range(8)])
        formats = sent_formats(srv)
    assert not any(isinstance(a, BaseException) for a in answers)
    assert b.formats.current == "json_object"
    assert formats.count({"type": "json_object"}) == 8 and "none" not in formats


def test_auto_ends_at_no_response_format_when_json_mode_is_refused_too() -> None:
    refusals = {"json_schema": status(400, message="response_format json_schema unsupported"),
                "json_object": status(400, message="response_format json_object unsupported")}
    with JudgeServer(refuse_formats=refusals) as srv:
        b = backend(srv)
        answers = run_all(b, srv, ["a"]) + run_all(b, srv, ["b"])
        assert sent_formats(srv) == [SCHEMA, {"type": "json_object"}, "none", "none"]
    assert [score(a) for a in answers] == [4, 4]
    assert b.formats.current == "prompt"


def test_a_bare_500_probes_a_simpler_format_only_before_the_schema_ever_worked() -> None:
    with JudgeServer() as srv:
        srv.script([status(500, message="Internal Server Error")])
        b = backend(srv)
        run_all(b, srv, ["a"])
        assert sent_formats(srv) == [SCHEMA, {"type": "json_object"}]
    with JudgeServer() as srv:
        b = backend(srv)
        run_all(b, srv, ["a"])  # the schema works here
        srv.script([status(500, message="Internal Server Error")])
        run_all(b, srv, ["b"])
        assert sent_formats(srv) == [SCHEMA, SCHEMA, SCHEMA]  # a plain retry
    assert b.supports_json_schema and b.stats.retries == 1


def test_a_fixed_format_is_never_changed_and_its_refusal_says_which_setting_to_change() -> None:
    with JudgeServer(refuse_formats={"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}) as srv:
        b = backend(srv, "json_schema")
        (error,) = run_all(b, srv, ["a"])
        assert sent_formats(srv) == [SCHEMA]  # a refusal is not retried as it is
    assert isinstance(error, JudgeCallError) and error.cause == "bad_request"
    assert "HTTP 500: response_format not supported" in str(error)
    assert "--llm-funnel-response-format=auto" in str(error)


@pytest.mark.parametrize(("fmt", "expected"), [("json_object", {"type": "json_object"}),
                                               ("prompt", "none")])
def test_json_mode_and_prompt_mode_send_what_they_say(fmt: ResponseFormat, expected: Any) -> None:
    with JudgeServer() as srv:
        b = backend(srv, fmt)
        (answer,) = run_all(b, srv, ["a"])
        assert sent_formats(srv) == [expected]
    assert score(answer) == 4 and not b.supports_json_schema  # fixed: judges render JSON mode


def test_the_first_error_of_each_kind_is_kept_with_the_server_message_redacted() -> None:
    with JudgeServer() as srv:
        b = backend(srv, max_retries=0)
        run_all(b, srv, ["a"])  # the schema works, so a 500 is an error, not a probe
        srv.script([litellm_no_db(), status(422, message=f"bad field for key {KEY}"),
                    litellm_upstream(500, "upstream fell over"), litellm_cooldown()])
        for text in ("b", "c", "d", "e"):
            run_all(b, srv, [text])
        errors = b.endpoint_report["errors"]
    assert list(errors) == ["bad_request", "server_error", "rate_limited"]
    assert errors["bad_request"] == {"message": "HTTP 400: No connected db.", "count": 2}
    assert "upstream fell over" in errors["server_error"]["message"]
    assert "No deployments available" in errors["rate_limited"]["message"]
    srv.assert_secrets_absent(errors)
