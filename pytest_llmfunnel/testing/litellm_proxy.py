"""A real LiteLLM proxy on loopback in front of an OpenAI-compatible server.

Standard library only at import: the proxy runs as its own ``litellm``
process (install ``litellm[proxy]``), configured with one model ``judge``
routed to the given base URL, a master key and no database. Used by the
test suite and by ``benchmarks/real_endpoints.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from types import TracebackType

from pytest_llmfunnel.testing.server import free_port

MASTER_KEY = "sk-proxy-master-0123456789abcdef"
"""The proxy's master key: the key a client passes to be let through."""
UPSTREAM_KEY = "sk-upstream-0123456789abcdef"
"""The key the proxy sends on to the server behind it."""
MODEL = "judge"
"""The model name the proxy routes to the server behind it."""
START_DEADLINE = 180.0
"""Seconds to wait for the proxy to answer: LiteLLM's start-up took 60 s and
more on a loaded 2-core machine."""
CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/test-judge
      api_base: {api_base}
      api_key: {upstream_key}
"""


class ProxyUnavailable(RuntimeError):
    """The proxy could not be started: not installed, exited, or silent past its deadline."""


def litellm_version() -> str | None:
    """The installed ``litellm`` version, or ``None`` when it is not installed."""
    try:
        return metadata.version("litellm")
    except metadata.PackageNotFoundError:
        return None


def write_config(folder: Path, api_base: str) -> Path:
    """Write the proxy's config (model ``judge`` routed to ``api_base``) into ``folder``."""
    config = folder / "litellm.yaml"
    config.write_text(CONFIG.format(model=MODEL, api_base=api_base, upstream_key=UPSTREAM_KEY),
                      encoding="utf-8")
    return config


def _executable() -> str | None:
    # Prefer the script beside this interpreter: a venv's proxy, not one on PATH.
    beside = Path(sys.executable).with_name("litellm")
    return str(beside) if beside.exists() else shutil.which("litellm")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health/liveliness", timeout=5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


class LiteLLMProxy:
    """``litellm --config`` on a free loopback port, as a context manager.

    Args:
        api_base: base URL of the OpenAI-compatible server behind the proxy.
        folder: where the config and the proxy's log go.
        deadline: seconds to wait for the proxy to answer.
        command: the program to run instead of ``litellm`` (for tests); the
            config, host and port arguments are appended.
        sleep: injected for tests; the pause between readiness probes.
        clock: injected for tests; a monotonic clock.

    ``start()`` raises :class:`ProxyUnavailable` (with the last lines of the
    proxy's log) when it cannot start; ``base_url`` is the proxy's ``/v1``.
    """

    def __init__(
        self,
        api_base: str,
        folder: Path,
        *,
        deadline: float = START_DEADLINE,
        command: Sequence[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_base = api_base
        self.folder = folder
        self.deadline = deadline
        self.command = list(command) if command is not None else None
        self._sleep = sleep
        self._clock = clock
        self.port = 0
        self.started_in: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The proxy's root URL (no ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL an OpenAI client is given."""
        return self.url + "/v1"

    @property
    def running(self) -> bool:
        """Whether the proxy's process is running."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.folder / "proxy.log"

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the proxy wrote (stdout and stderr together)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> LiteLLMProxy:
        """Start the proxy and wait until it answers; ``ProxyUnavailable`` if it does not."""
        command = self.command
        if command is None:
            if litellm_version() is None:
                raise ProxyUnavailable("litellm is not installed: pip install 'litellm[proxy]'")
            exe = _executable()
            if exe is None:
                raise ProxyUnavailable("litellm is installed but its `litellm` command "
                                       "is not found")
            command = [exe]
        config = write_config(self.folder, self.api_base)
        self.port = free_port()
        began = self._clock()
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [*command, "--config", str(config),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "LITELLM_MASTER_KEY": MASTER_KEY},
            )
        while self._clock() - began < self.deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ProxyUnavailable(f"the LiteLLM proxy exited with {code}; its last "
                                       f"lines:\n{self.log_tail()}")
            if _answers(self.url):
                self.started_in = self._clock() - began
                return self
            self._sleep(1.0)
        self.stop()
        raise ProxyUnavailable(f"the LiteLLM proxy did not answer within {self.deadline:.0f} s; "
                               f"its last lines:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the proxy (terminate, then kill after 30 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    def __enter__(self) -> LiteLLMProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
