"""The response-format choice, local-endpoint defaults and the endpoint notes, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmfunnel.config import ConfigError, is_local_endpoint, resolve_settings
from pytest_llmfunnel.endpoint.formats import FormatChoice, names_the_format, sent_format
from pytest_llmfunnel.endpoint.health import classify_status
from pytest_llmfunnel.endpoint.notices import ErrorLog
from pytest_llmfunnel.tallies import Tallies

SCHEMA = {"type": "json_schema", "json_schema": {"name": "v", "schema": {"type": "object"}}}


def current(choice: FormatChoice) -> str:
    """The choice's current format, without the narrowing an earlier assert left on it."""
    return choice.current


def body(fmt: dict[str, Any] | None = SCHEMA) -> dict[str, Any]:
    out: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if fmt is not None:
        out["response_format"] = fmt
    return out


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (500, "response_format not supported", True),
        (400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported", True),
        (422, "JSON schema conversion failed: unsupported keyword", True),
        (400, "failed to parse grammar", True),
        (500, "internal error", False),
        (503, "response_format not supported", False),  # overloaded, not refusing the format
        (400, "messages must not be empty", False),
    ],
)
def test_which_errors_say_the_format_is_unsupported(
    code: int, message: str, expected: bool
) -> None:
    assert names_the_format(code, message) is expected


def test_a_500_naming_the_format_is_a_refusal_not_a_retryable_server_error() -> None:
    fault = classify_status(500, "response_format not supported", base_url="http://h/v1",
                            model="m", wait=None, format_sent=True)
    assert fault.format_rejected and not fault.retryable
    plain = classify_status(500, "response_format not supported", base_url="http://h/v1",
                            model="m", wait=None, format_sent=False)
    assert plain.cause == "server_error" and plain.retryable and not plain.format_rejected


def test_auto_steps_down_schema_then_json_mode_then_prompt_and_says_so() -> None:
    choice = FormatChoice("auto")
    assert choice.adapt(body()) == body()
    assert choice.rejected(body(), 500, "HTTP 500: response_format not supported")
    assert choice.current == "json_object" and choice.json_schema  # still rendered, rewritten
    assert choice.note is not None and "response_format json_schema" in choice.note
    assert "--llm-funnel-response-format=json_object" in choice.note
    assert choice.adapt(body())["response_format"] == {"type": "json_object"}
    assert choice.rejected(body({"type": "json_object"}), 400, "json_object is not supported")
    assert current(choice) == "prompt"  # read afresh: rejected() changed it
    assert "response_format" not in choice.adapt(body())
    assert not choice.rejected(body(None), 500, "response_format")  # nothing simpler left


def test_a_refusal_of_a_format_already_stepped_past_resends_without_stepping_again() -> None:
    choice = FormatChoice("auto")
    assert choice.rejected(body(), 500, "response_format not supported")
    # A request sent with the schema before the step is refused too: resend, same step.
    assert choice.rejected(body(), 500, "response_format not supported")
    assert choice.current == "json_object"


def test_a_bare_500_steps_down_only_before_the_format_ever_worked() -> None:
    fresh = FormatChoice("auto")
    assert fresh.rejected(body(), 500, "HTTP 500: Internal Server Error")
    proven = FormatChoice("auto")
    proven.accepted(body())
    assert not proven.rejected(body(), 500, "HTTP 500: Internal Server Error")
    assert proven.current == "json_schema"
    assert not FormatChoice("auto").rejected(body(), 502, "Bad Gateway")


@pytest.mark.parametrize("setting", ["json_schema", "json_object", "prompt"])
def test_a_fixed_format_never_steps_down_and_its_refusal_names_the_setting(setting: Any) -> None:
    choice = FormatChoice(setting)
    sent = choice.adapt(body())
    assert sent_format(sent) == setting
    assert not choice.rejected(sent, 500, "response_format not supported")
    assert choice.current == setting and choice.note is None
    if setting != "prompt":  # a prompt-mode body carries no format to refuse
        fix = choice.fix(sent, 500, "response_format not supported")
        assert fix is not None and "--llm-funnel-response-format=auto" in fix


def test_a_body_without_a_response_format_is_sent_unchanged() -> None:
    choice = FormatChoice("auto")
    choice.rejected(body(), 500, "response_format not supported")
    assert choice.adapt(body(None)) == body(None)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://192.168.1.20:8000/v1", True),
        ("http://10.0.0.5/v1", True),
        ("http://gpu-box.local:8000/v1", True),
        ("http://host.docker.internal:4000/v1", True),
        ("https://api.openai.com/v1", False),
        ("https://example.com/v1", False),
        ("http://8.8.8.8/v1", False),
    ],
)
def test_which_base_urls_are_local(url: str, local: bool) -> None:
    assert is_local_endpoint(url) is local


def test_a_local_endpoint_starts_low_and_waits_longer_unless_set() -> None:
    local = resolve_settings({"llm_funnel_base_url": "http://127.0.0.1:8080/v1"},
                             enabled=True, env={})
    assert (local.concurrency, local.timeout) == (2, 600.0)
    # A local endpoint stays where it starts; a hosted one may grow to 64.
    assert local.max_concurrency == 2
    cloud = resolve_settings({"llm_funnel_base_url": "https://api.example.com/v1"},
                             enabled=True, env={})
    assert (cloud.concurrency, cloud.timeout, cloud.max_concurrency) == (16, 60.0, 64)
    chosen = resolve_settings(
        {"llm_funnel_base_url": "http://127.0.0.1:8080/v1", "llm_funnel_concurrency": 6},
        enabled=True, env={"LLM_FUNNEL_TIMEOUT": "30"},
    )
    assert (chosen.concurrency, chosen.timeout, chosen.max_concurrency) == (6, 30.0, 6)
    from_env = resolve_settings({}, enabled=True, env={"OPENAI_BASE_URL": "http://localhost:1/v1"})
    assert from_env.concurrency == 2


def test_the_response_format_comes_from_the_flag_the_environment_or_the_ini_file() -> None:
    ini = {"llm_funnel_response_format": "prompt"}.get
    assert resolve_settings({}, enabled=True, env={}).response_format == "auto"
    assert resolve_settings({}, enabled=True, env={}, ini=ini).response_format == "prompt"
    env = {"LLM_FUNNEL_RESPONSE_FORMAT": "json_object"}
    assert resolve_settings({}, enabled=True, env=env, ini=ini).response_format == "json_object"
    cli = {"llm_funnel_response_format": "json_schema"}
    assert resolve_settings(cli, enabled=True, env=env, ini=ini).response_format == "json_schema"
    with pytest.raises(ConfigError, match="is not one of: auto, json_schema, json_object, prompt"):
        resolve_settings({"llm_funnel_response_format": "grammar"}, enabled=True, env={})


def test_the_error_log_keeps_the_first_message_of_each_cause_and_counts_them() -> None:
    log = ErrorLog()
    log.record("server_error", "HTTP 500: first")
    log.record("rate_limited", "HTTP 429: slow down")
    log.record("server_error", "HTTP 500: second")
    assert log.to_json() == {
        "server_error": {"message": "HTTP 500: first", "count": 2},
        "rate_limited": {"message": "HTTP 429: slow down", "count": 1},
    }


def test_tallies_merge_endpoint_errors_across_workers_and_say_each_cause_once() -> None:
    tallies = Tallies()
    tallies.merge({"endpoint_errors": {"bad_request": {"message": "HTTP 400: A", "count": 2}},
                   "endpoint_notices": ["refused json_schema"]})
    tallies.merge({"endpoint_errors": {"bad_request": {"message": "HTTP 400: B", "count": 1}},
                   "endpoint_notices": ["refused json_schema"]})
    again = Tallies()
    again.merge(tallies.to_json())
    assert again.endpoint_errors == {"bad_request": {"message": "HTTP 400: A", "count": 3}}
    assert again.endpoint_error_notes() == [
        "judge endpoint: refused json_schema",
        "judge error bad_request (3 judge requests), first message from the endpoint: "
        "HTTP 400: A",
    ]
    again.endpoint_down.append("the endpoint gave no usable answer (HTTP 400: A)")
    assert again.endpoint_error_notes() == ["judge endpoint: refused json_schema"]
