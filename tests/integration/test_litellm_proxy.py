"""The plugin through a real LiteLLM proxy in front of the loopback judge server.

One test function on purpose: under ``pytest -n 2`` only one worker pays for
the proxy's start-up (a minute and more on a loaded machine). It skips when
``litellm`` is not installed or the proxy does not answer within its
deadline; a proxy that started and then answers wrongly fails the test.
``benchmarks/real_endpoints.py`` runs the same checks by hand, and the
format fallback through the proxy as well.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.testing import JudgeServer, assert_secret_absent
from pytest_llmfunnel.testing.actions import completion_body, ok
from pytest_llmfunnel.testing.litellm_proxy import (
    MASTER_KEY,
    MODEL,
    LiteLLMProxy,
    ProxyUnavailable,
)

CASES = 4
WRONG_KEY = "sk-not-a-proxy-key-0123456789abcdef"
TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    pass
"""
ROWS = [{"id": f"c{i}", "input": f"What is item {i}?", "output": f"Item {i} is a box."}
        for i in range(CASES)]


def run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, proxy: LiteLLMProxy, key: str,
    *extra: str,
) -> tuple[pytest.RunResult, str, dict[str, Any]]:
    """One plugin session through the proxy: the result, its output joined, its JSON results."""
    results = pytester.path / "results.json"
    results.unlink(missing_ok=True)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--llm-funnel", "--llm-funnel-judge=openai",
        f"--llm-funnel-base-url={proxy.base_url}", f"--llm-funnel-model={MODEL}",
        "--llm-funnel-cache=off", f"--llm-funnel-json={results}",
        "--llm-funnel-max-error-share=1", *extra,
    )
    data = json.loads(results.read_text()) if results.exists() else {}
    return result, " ".join(result.stdout.str().split()), data


def judge_stages(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for case in data.get("cases", []) for s in case["stages"] if s["kind"] == "judge"]


def start_or_skip(server: JudgeServer, folder: Path) -> LiteLLMProxy:
    if importlib.util.find_spec("litellm") is None:
        pytest.skip("litellm is not installed: pip install -e '.[test]' (litellm[proxy])")
    proxy = LiteLLMProxy(server.base_url, folder)
    try:
        return proxy.start()
    except ProxyUnavailable as exc:
        pytest.skip(f"the LiteLLM proxy could not start: {exc}")


@pytest.mark.slow
def test_the_plugin_through_a_real_litellm_proxy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (pytester.path / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pytester.makepyfile(test_eval=TEST_FILE)
    with JudgeServer() as server:
        proxy = start_or_skip(server, tmp_path)
        try:
            # (a) The path: every case judged, the judge's request reaches the server
            # behind the proxy intact, and the usage it reported is what we count.
            result, _, data = run(pytester, monkeypatch, proxy, MASTER_KEY)
            assert result.ret == 0, result.stdout.str()
            stages = judge_stages(data)
            assert [s["status"] for s in stages] == ["passed"] * CASES
            upstream = [r.body or {} for r in server.requests]
            assert len(upstream) == CASES
            for body in upstream:
                assert body["response_format"]["type"] == "json_schema"
                assert "schema" in body["response_format"]["json_schema"]
                assert [m["role"] for m in body["messages"]] == ["system", "user"]
            users = [str(b["messages"][-1]["content"]) for b in upstream]
            for row in ROWS:  # each case's own input and output, in exactly one request
                assert sum(row["input"] in u and row["output"] in u for u in users) == 1
            usage = [completion_body(body, ok())["usage"] for body in upstream]
            for field in ("prompt_tokens", "completion_tokens"):
                counted = sum(s[field] for s in stages)
                assert counted == sum(u[field] for u in usage) > 0

            # (b) A model name the proxy does not know: given up at once, LiteLLM quoted.
            server.reset()
            result, out, _ = run(pytester, monkeypatch, proxy, MASTER_KEY,
                                 "--llm-funnel-model=no-such-judge")
            assert "judge endpoint given up" in out, out
            assert "Invalid model name passed in model=no-such-judge" in out, out
            assert server.requests == []

            # (c) A key the proxy does not know: its own message in the terminal,
            # the key nowhere in what the run wrote.
            server.reset()
            result, out, data = run(pytester, monkeypatch, proxy, WRONG_KEY)
            assert [s["status"] for s in judge_stages(data)] == ["error"] * CASES
            assert "first message from the endpoint: HTTP 400: No connected db." in out, out
            assert_secret_absent(WRONG_KEY, result.stdout.str(), result.stderr.str(), data)
            assert server.requests == []
        finally:
            proxy.stop()
