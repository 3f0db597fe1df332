"""The LiteLLM proxy starter's ways of failing to start, with a stand-in program.

A small Python program stands in for ``litellm`` so these run in a second
without the real proxy; the clock is injected, so the deadline is reached
without waiting for it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from pytest_llmfunnel.testing import litellm_proxy
from pytest_llmfunnel.testing.litellm_proxy import LiteLLMProxy, ProxyUnavailable, write_config


def stand_in(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for_log(log: Path, text: str) -> None:
    """Until the stand-in has written ``text`` (so the log tail is there to quote)."""
    for _ in range(1200):
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"the stand-in never wrote {text!r}")


def test_the_config_routes_the_judge_model_to_the_server(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1").read_text()
    assert "model_name: judge" in config
    assert "api_base: http://127.0.0.1:9/v1" in config
    assert "model: openai/test-judge" in config


def test_without_litellm_the_reason_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(litellm_proxy, "litellm_version", lambda: None)
    with pytest.raises(ProxyUnavailable, match=r"pip install 'litellm\[proxy\]'"):
        LiteLLMProxy("http://127.0.0.1:9/v1", tmp_path).start()


def test_a_proxy_that_exits_is_reported_with_its_code_and_last_lines(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('error: bad config key\\n'); sys.exit(3)"
    proxy = LiteLLMProxy("http://127.0.0.1:9/v1", tmp_path, command=stand_in(code),
                         sleep=lambda _: time.sleep(0.05))
    with pytest.raises(ProxyUnavailable) as info:
        proxy.start()
    assert "exited with 3" in str(info.value)
    assert "error: bad config key" in str(info.value)


def test_a_silent_proxy_is_given_up_at_its_deadline_and_stopped(tmp_path: Path) -> None:
    code = ("import sys, time; sys.stderr.write('still importing\\n'); sys.stderr.flush(); "
            "time.sleep(600)")
    now = [0.0]

    def sleep(seconds: float) -> None:  # a minute passes once the stand-in has spoken
        wait_for_log(tmp_path / "proxy.log", "still importing")
        now[0] += 60 * seconds

    proxy = LiteLLMProxy("http://127.0.0.1:9/v1", tmp_path, deadline=180,
                         command=stand_in(code), sleep=sleep, clock=lambda: now[0])
    with pytest.raises(ProxyUnavailable) as info:
        proxy.start()
    assert "did not answer within 180 s" in str(info.value)
    assert "still importing" in str(info.value)
    assert not proxy.running  # stopped, not left behind
