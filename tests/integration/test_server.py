"""The loopback test server's own behaviour, checked over plain HTTP (no SDK)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.testing import (
    JudgeServer,
    close,
    empty_choices,
    free_port,
    garbage,
    hang,
    hashed_verdicts,
    ok,
    status,
    truncated,
    verdict,
)


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with JudgeServer() as srv:
        yield srv


def chat_body(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "judge-1", "messages": [{"role": "user", "content": text}], **extra}


def post(
    srv: JudgeServer, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        f"{srv.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), json.loads(err.read())


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_default_answer_is_a_complete_chat_completion(server: JudgeServer) -> None:
    code, headers, payload = post(server, chat_body("one two three"))
    assert code == 200
    assert headers["Content-Type"] == "application/json"
    assert payload["object"] == "chat.completion"
    assert payload["id"].startswith("chatcmpl-")
    assert isinstance(payload["created"], int)
    assert payload["model"] == "judge-1"
    (choice,) = payload["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert json.loads(choice["message"]["content"]) == {"reasoning": "ok", "score": 4}
    usage = payload["usage"]
    assert usage["prompt_tokens"] == 3
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_models_stats_and_unknown_routes(server: JudgeServer) -> None:
    assert get(f"{server.base_url}/models")["data"][0]["id"] == "test-judge"
    post(server, chat_body())
    stats = get(f"{server.url}/stats")
    assert stats["requests"] == 1 and stats["statuses"] == {"200": 1}
    with pytest.raises(urllib.error.HTTPError) as err:
        get(f"{server.url}/nowhere")
    with err.value:
        assert err.value.code == 404


def test_script_is_consumed_in_order_then_default_resumes(server: JudgeServer) -> None:
    server.script([verdict(2, "meh"), status(503), garbage("plain words")])
    assert server.pending == 3
    answers = [post(server, chat_body()) for _ in range(4)]
    assert json.loads(answers[0][2]["choices"][0]["message"]["content"])["score"] == 2
    assert answers[1][0] == 503
    assert answers[1][2]["error"]["message"] == "simulated HTTP 503"
    assert answers[2][2]["choices"][0]["message"]["content"] == "plain words"
    assert json.loads(answers[3][2]["choices"][0]["message"]["content"])["score"] == 4
    assert server.pending == 0
    assert server.stats.statuses == {"200": 3, "503": 1}


def test_status_sends_retry_after_headers(server: JudgeServer) -> None:
    server.script([status(429, retry_after=2), status(429, retry_after_ms=150), status(429)])
    code, headers, _ = post(server, chat_body())
    assert (code, headers["Retry-After"]) == (429, "2")
    _, headers, _ = post(server, chat_body())
    assert headers["retry-after-ms"] == "150" and "Retry-After" not in headers
    _, headers, _ = post(server, chat_body())
    assert "Retry-After" not in headers and "retry-after-ms" not in headers


def test_truncated_and_empty_choices(server: JudgeServer) -> None:
    server.script([truncated(), empty_choices(), ok(None)])
    choice = post(server, chat_body())[2]["choices"][0]
    assert choice["finish_reason"] == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choice["message"]["content"])
    assert post(server, chat_body())[2]["choices"] == []
    assert post(server, chat_body())[2]["choices"][0]["message"]["content"] is None


def test_close_drops_the_connection_without_an_answer(server: JudgeServer) -> None:
    server.script([close()])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()))
        with pytest.raises(http.client.RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    assert server.stats.statuses == {"closed": 1}


def test_hang_delays_the_answer_and_stop_cuts_it_short() -> None:
    srv = JudgeServer().start()
    srv.script([hang(0.3), hang(30)])
    started = time.monotonic()
    assert post(srv, chat_body())[0] == 200
    assert time.monotonic() - started >= 0.25  # a floor only: load can add, never take away
    errors: list[BaseException] = []

    def hung_request() -> None:
        try:
            post(srv, chat_body())
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=hung_request)
    worker.start()
    while srv.stats.in_flight == 0:
        time.sleep(0.01)
    srv.stop()
    worker.join(timeout=60)  # a safety net: the hang itself lasts 30 s
    assert not worker.is_alive()
    # The client saw the connection go: not an answer, and not its own 5 s timeout.
    assert len(errors) == 1 and not isinstance(errors[0], TimeoutError)
    assert not isinstance(getattr(errors[0], "reason", None), TimeoutError)


def test_reject_json_schema_answers_400_only_to_json_schema() -> None:
    with JudgeServer(reject_json_schema=True) as srv:
        schema = {"type": "json_schema", "json_schema": {"name": "v", "schema": {}}}
        code, _, payload = post(srv, chat_body(response_format=schema))
        assert code == 400
        assert "response_format" in payload["error"]["message"]
        code, _, _ = post(srv, chat_body(response_format={"type": "json_object"}))
        assert code == 200


def test_max_inflight_counts_truly_concurrent_requests() -> None:
    with JudgeServer(latency=0.3) as srv:
        threads = [threading.Thread(target=post, args=(srv, chat_body(str(i)))) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = srv.stats
    assert stats.max_inflight == 12
    assert stats.in_flight == 0
    assert stats.requests == 12 and stats.unique_prompts == 12


def test_sequential_requests_never_overlap_and_prompts_are_deduplicated(
    server: JudgeServer,
) -> None:
    for text in ["a", "b", "a", "a"]:
        post(server, chat_body(text))
    assert server.stats.max_inflight == 1
    assert server.stats.unique_prompts == 2
    server.reset()
    assert server.stats.requests == 0 and server.requests == []


def test_fault_rate_is_seeded_and_close_to_the_rate() -> None:
    def run(seed: int) -> list[int]:
        with JudgeServer(fault_rate=0.2, seed=seed) as srv:
            return [post(srv, chat_body(str(i)))[0] for i in range(200)]

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other
    faults = sum(code != 200 for code in first)
    assert 20 <= faults <= 60  # 200 draws at p=0.2: mean 40, sd 5.7
    assert set(first) <= {200, 429, 500, 502, 503}


def test_hashed_verdicts_are_deterministic_and_spread(server: JudgeServer) -> None:
    server.default = hashed_verdicts(1, 5)
    scores = []
    for text in [f"case {i}" for i in range(40)] + ["case 0"]:
        content = post(server, chat_body(text))[2]["choices"][0]["message"]["content"]
        scores.append(json.loads(content)["score"])
    assert scores[0] == scores[-1]
    assert set(scores) == {1, 2, 3, 4, 5}


def test_request_log_keeps_headers_and_bodies(server: JudgeServer, tmp_path: Path) -> None:
    post(server, chat_body("x", top_k=3), headers={"Authorization": "Bearer sk-test-abcdef"})
    (recorded,) = server.requests
    assert recorded.body is not None and recorded.body["top_k"] == 3
    assert recorded.headers["authorization"] == "Bearer sk-test-abcdef"
    assert server.received_secrets() == {"sk-test-abcdef"}
    (tmp_path / "report.md").write_text("Authorization: Bearer ***")
    server.assert_secrets_absent("nothing to see", tmp_path)
    with pytest.raises(AssertionError, match="leaked"):
        server.assert_secrets_absent("oops sk-test-abcdef")


def test_free_port_refuses_connections() -> None:
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", free_port(), timeout=2).connect()


def test_runs_as_a_process_and_reports_its_own_counters() -> None:
    command = [sys.executable, "-m", "pytest_llmfunnel.testing", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            check_process_server(proc)
        finally:
            proc.terminate()


def check_process_server(proc: subprocess.Popen[str]) -> None:
    """The first stdout line is the base URL; /stats reports the server's counters."""
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
    request = urllib.request.Request(
        f"{base_url}/chat/completions", data=json.dumps(chat_body()).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    stats = get(base_url.removesuffix("/v1") + "/stats")
    assert stats["requests"] == 1 and stats["max_inflight"] == 1
