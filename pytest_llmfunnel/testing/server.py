"""A small OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` with a scripted verdict and can be told
to misbehave the way real endpoints do (429 with or without Retry-After, 5xx,
hangs, dropped connections, truncated or garbage answers, empty choice lists),
either from a queue of actions or at a seeded random rate. It counts what it
received, including the largest number of requests in flight at once, so a
test can check the client's concurrency limit from the server's side. The
answers themselves are built in :mod:`.actions`; :mod:`.leaks` searches for
the API keys it received where they must not be.

In-process::

    with JudgeServer(latency=0.0) as srv:
        srv.script([status(429, retry_after=0.1), ok()])
        ...  # point a client at srv.base_url

As a process (the first stdout line is the base URL; ``GET /stats`` returns
the counters as JSON; the command line is in :mod:`.__main__`)::

    python -m pytest_llmfunnel.testing --port 0 --latency 0.3

(the command line is in :mod:`.__main__`).

Standard library only, so it runs wherever the package does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.testing.actions import (
    TRANSIENT_FAULTS,
    Action,
    completion_body,
    ok,
    status,
)
from pytest_llmfunnel.testing.leaks import assert_secret_absent


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: JSONObject | None


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of the server's counters (chat-completions requests only)."""

    requests: int = 0
    in_flight: int = 0
    max_inflight: int = 0
    unique_prompts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        return dataclasses.asdict(self)


class JudgeServer:
    """An OpenAI-compatible server on 127.0.0.1 running in a background thread.

    Args:
        latency: seconds each generated answer takes (faults answer at once).
        fault_rate: share of requests answered by a random transient fault.
        seed: seed of the fault-rate random generator.
        reject_json_schema: answer 400 to ``response_format: json_schema``, as
            older endpoints do.
        refuse_formats: what to answer a request whose ``response_format``
            type is a key (``json_schema``, ``json_object``), e.g.
            :data:`~.actions.LLAMA_CPP_PYTHON_SCHEMA_ERROR`.
        port: 0 picks a free port.
    """

    def __init__(
        self,
        latency: float = 0.0,
        *,
        fault_rate: float = 0.0,
        seed: int = 0,
        reject_json_schema: bool = False,
        refuse_formats: Mapping[str, Action] | None = None,
        port: int = 0,
    ) -> None:
        self.latency = latency
        self.fault_rate = fault_rate
        self.seed = seed
        self.reject_json_schema = reject_json_schema
        self.refuse_formats = dict(refuse_formats or {})
        self.default: Callable[[JSONObject], Action] = lambda body: ok()
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> JudgeServer:
        httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        httpd.judge = self
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection (hung handlers wake up too)."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_all_connections()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> JudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() or use `with`")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- scripting -------------------------------------------------------------
    def script(self, actions: Iterable[Action]) -> None:
        """Queue actions, consumed one per request in order; then back to the default."""
        with self._lock:
            self._queue.extend(actions)

    @property
    def pending(self) -> int:
        """Scripted actions not consumed yet."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget counters, the request log and the script; reseed the fault generator."""
        with self._lock:
            self._queue: deque[Action] = deque()
            self._rng = random.Random(self.seed)
            self._requests: list[RecordedRequest] = []
            self._count = 0
            self._in_flight = 0
            self._max_inflight = 0
            self._prompts: set[str] = set()
            self._statuses: dict[str, int] = {}

    # -- what was received -----------------------------------------------------
    @property
    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                requests=self._count,
                in_flight=self._in_flight,
                max_inflight=self._max_inflight,
                unique_prompts=len(self._prompts),
                statuses=dict(self._statuses),
            )

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def received_secrets(self) -> set[str]:
        """Every bearer token that arrived in an Authorization header."""
        tokens = set()
        for request in self.requests:
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer ") and auth[7:].strip():
                tokens.add(auth[7:].strip())
        return tokens

    def assert_secrets_absent(self, *places: object) -> None:
        """Fail if any received bearer token appears in ``places`` (see :func:`find_secret`)."""
        for secret in self.received_secrets():
            assert_secret_absent(secret, *places)

    # -- request handling (called from handler threads) ------------------------
    def _enter(self, request: RecordedRequest) -> Action:
        body = request.body or {}
        with self._lock:
            self._requests.append(request)
            self._count += 1
            self._in_flight += 1
            self._max_inflight = max(self._max_inflight, self._in_flight)
            self._prompts.add(json.dumps(body.get("messages"), sort_keys=True))
            if self.reject_json_schema and _wants_json_schema(body):
                return status(400, message=_JSON_SCHEMA_REJECTION)
            refusal = self.refuse_formats.get(_format_type(body))
            if refusal is not None:
                return refusal
            if self._queue:
                return self._queue.popleft()
            if self.fault_rate > 0 and self._rng.random() < self.fault_rate:
                return self._rng.choice(TRANSIENT_FAULTS)
        return self.default(body)

    def _leave(self, outcome: str) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses[outcome] = self._statuses.get(outcome, 0) + 1

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; returns False when stopping."""
        return not self._stopping.wait(seconds) if seconds > 0 else True


_JSON_SCHEMA_REJECTION = (
    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."
)


def _wants_json_schema(body: JSONObject) -> bool:
    return _format_type(body) == "json_schema"


def _format_type(body: JSONObject) -> str:
    fmt = body.get("response_format")
    return str(fmt.get("type")) if isinstance(fmt, dict) else ""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    judge: JudgeServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        # Keep-alive connections would otherwise go on being served after stop().
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is an expected event here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle's algorithm the body
    # waits for the client's delayed ACK (~40 ms on Linux), which would add to
    # every answer's latency and distort throughput measurements.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests assert on counters, not on logs

    def do_GET(self) -> None:
        judge = self.server.judge
        if self.path.rstrip("/") == "/stats":
            self._send_json(200, judge.stats.to_json(), {})
        elif self.path.rstrip("/") == "/v1/models":
            models = [{"id": "test-judge", "object": "model", "created": 0, "owned_by": "test"}]
            self._send_json(200, {"object": "list", "data": models}, {})
        else:
            self._send_json(404, _error(f"no route for GET {self.path}", "not_found"), {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") == "/reset":
            self.server.judge.reset()
            self._send_json(200, {"ok": True}, {})
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, _error(f"no route for POST {self.path}", "not_found"), {})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        judge = self.server.judge
        headers = {k.lower(): v for k, v in self.headers.items()}
        action = judge._enter(RecordedRequest("POST", self.path, headers, body))
        try:
            reply = self._reply(judge, body if isinstance(body, dict) else {}, action)
        except BaseException:
            judge._leave("error")
            raise
        # Counted as answered before the answer leaves, so a client that sends
        # its next request at once never sees two requests in flight.
        judge._leave(str(reply[0]) if reply else "closed")
        if reply is None:
            self.close_connection = True
        else:
            self._send_json(*reply)

    def _reply(
        self, judge: JudgeServer, body: JSONObject, action: Action
    ) -> tuple[int, Any, dict[str, str]] | None:
        """The (status, payload, headers) to send, or None to drop the connection."""
        if action.kind == "close":
            return None
        if action.kind == "status":
            extra: dict[str, str] = {}
            if action.retry_after is not None:
                extra["Retry-After"] = str(action.retry_after)
            if action.retry_after_ms is not None:
                extra["retry-after-ms"] = str(action.retry_after_ms)
            return action.status, _error(action.message, "simulated"), extra
        delay = action.seconds if action.kind == "hang" else judge.latency
        if not judge._wait(delay):
            return None
        return 200, completion_body(body, action), {}

    def _send_json(self, code: int, payload: Any, extra: dict[str, str]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _error(message: str, kind: str) -> JSONObject:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def free_port() -> int:
    """A loopback port nobody listens on right now (for "connection refused" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refused_base_url() -> str:
    """A base URL on loopback where every connection is refused."""
    return f"http://127.0.0.1:{free_port()}/v1"
