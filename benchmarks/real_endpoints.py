"""The plugin through a real LiteLLM proxy in front of the loopback judge server.

The test suite runs the first three checks in
``tests/integration/test_litellm_proxy.py`` (``litellm[proxy]`` is in the
``test`` extra); this script runs all four by hand and prints what it saw::

    pip install 'litellm[proxy]'
    python benchmarks/real_endpoints.py [--out what-it-saw.json]

It starts the loopback judge server (:mod:`pytest_llmfunnel.testing`) in this
process and ``litellm --config ...`` on loopback in front of it
(:mod:`pytest_llmfunnel.testing.litellm_proxy`: a model ``judge`` routed to
the server, a master key, no database), then runs real
``pytest --llm-funnel`` sessions through the proxy and checks:

* ``path``: every case judged; the requests reaching the server behind the
  proxy carry the judge's messages and its ``json_schema`` response format;
  the token counts in the JSON results equal the usage the server reported;
* ``wrong_model``: a model name the proxy does not know gives the endpoint up
  at once, and the terminal quotes LiteLLM's message;
* ``wrong_key``: a key the proxy does not know (without a database LiteLLM
  answers ``400 No connected db.``) reaches the terminal with that message;
* ``format_fallback``: the server behind the proxy answers ``json_schema``
  with llama-cpp-python's 500; through the proxy the plugin steps down to JSON
  mode, says so once, and every case is judged.

Each check prints what the proxy answered; ``--out`` writes it as JSON. The
last line reads ``real_endpoints litellm=<version> checks=<passed>/<run>``.
The loopback server's LiteLLM imitations (``litellm_upstream``,
``litellm_cooldown``, ``litellm_no_db`` in :mod:`pytest_llmfunnel.testing`)
were recorded from these answers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_llmfunnel.testing import LLAMA_CPP_PYTHON_SCHEMA_ERROR, JudgeServer
from pytest_llmfunnel.testing.actions import completion_body, ok
from pytest_llmfunnel.testing.litellm_proxy import (
    MASTER_KEY,
    LiteLLMProxy,
    ProxyUnavailable,
    litellm_version,
)

CASES = 6
TEST_FILE = '''
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
def test_eval(case):
    pass
'''
def run_pytest(project: Path, base_url: str, key: str, *extra: str) -> tuple[int, str, Any]:
    """One plugin run through the proxy: exit code, output (whitespace joined), JSON results."""
    results = project / "results.json"
    results.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_FUNNEL", "OPENAI_"))}
    env["OPENAI_API_KEY"] = key
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--llm-funnel", "--llm-funnel-judge=openai", f"--llm-funnel-base-url={base_url}",
         "--llm-funnel-model=judge", "--llm-funnel-cache=off", f"--llm-funnel-json={results}",
         "--llm-funnel-max-error-share=1", *extra],
        cwd=project, capture_output=True, text=True, env=env,
    )
    data = json.loads(results.read_text()) if results.exists() else None
    return done.returncode, " ".join(done.stdout.split()), data


def judged(data: Any) -> list[dict[str, Any]]:
    return [s for case in (data or {}).get("cases", []) for s in case["stages"]
            if s["kind"] == "judge"]


def check_path(server: JudgeServer, project: Path, url: str) -> tuple[bool, dict[str, Any]]:
    code, _, data = run_pytest(project, url, MASTER_KEY)
    stages = judged(data)
    upstream = [r.body or {} for r in server.requests]
    usage = [completion_body(body, ok())["usage"] for body in upstream]
    seen = {
        "exit": code,
        "passed": sum(s["status"] == "passed" for s in stages),
        "upstream_requests": len(upstream),
        "upstream_formats": sorted({(b.get("response_format") or {}).get("type", "none")
                                    for b in upstream}),
        "prompt_tokens": [sum(s["prompt_tokens"] for s in stages), sum(u["prompt_tokens"]
                                                                    for u in usage)],
        "completion_tokens": [sum(s["completion_tokens"] for s in stages),
                              sum(u["completion_tokens"] for u in usage)],
    }
    good = (code == 0 and seen["passed"] == CASES and len(upstream) == CASES
            and seen["upstream_formats"] == ["json_schema"]
            and all(m.get("role") for b in upstream for m in b.get("messages", []))
            and seen["prompt_tokens"][0] == seen["prompt_tokens"][1] > 0
            and seen["completion_tokens"][0] == seen["completion_tokens"][1] > 0)
    return good, seen


def check_wrong_model(server: JudgeServer, project: Path, url: str) -> tuple[bool, dict[str, Any]]:
    code, out, _ = run_pytest(project, url, MASTER_KEY, "--llm-funnel-model=no-such-judge")
    message = "Invalid model name passed in model=no-such-judge"
    seen: dict[str, Any] = {"exit": code, "given_up": "judge endpoint given up" in out,
            "quotes_litellm": message in out, "upstream_requests": len(server.requests)}
    return bool(seen["given_up"] and seen["quotes_litellm"] and not server.requests), seen


def check_wrong_key(server: JudgeServer, project: Path, url: str) -> tuple[bool, dict[str, Any]]:
    code, out, data = run_pytest(project, url, "sk-not-a-proxy-key-0123456789")
    seen = {"exit": code, "errors": sum(s["status"] == "error" for s in judged(data)),
            "summary_quotes_server": "first message from the endpoint: HTTP 400: No connected db."
            in out, "key_in_output": "sk-not-a-proxy-key-0123456789" in out}
    return (seen["errors"] == CASES and seen["summary_quotes_server"]
            and not seen["key_in_output"]), seen


def check_format_fallback(
    server: JudgeServer, project: Path, url: str
) -> tuple[bool, dict[str, Any]]:
    server.refuse_formats = {"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR}
    code, out, data = run_pytest(project, url, MASTER_KEY)
    statuses = server.stats.statuses
    seen = {"exit": code, "passed": sum(s["status"] == "passed" for s in judged(data)),
            "note_once": out.count("judge endpoint: the endpoint refused response_format "
                                   "json_schema") == 1,
            "proxy_message_quoted": "litellm.InternalServerError" in out,
            "upstream_statuses": statuses}
    return (code == 0 and seen["passed"] == CASES and seen["note_once"]), seen


CHECKS: dict[str, Callable[[JudgeServer, Path, str], tuple[bool, dict[str, Any]]]] = {
    "path": check_path,
    "wrong_model": check_wrong_model,
    "wrong_key": check_wrong_key,
    "format_fallback": check_format_fallback,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write what each check saw here (JSON)")
    args = parser.parse_args(argv)
    version = litellm_version()
    if version is None:
        raise SystemExit("litellm is not installed: pip install 'litellm[proxy]'")
    passed, saw = 0, {}
    with tempfile.TemporaryDirectory() as tmp, JudgeServer() as server:
        folder = Path(tmp)
        project = folder / "project"
        project.mkdir()
        rows = [{"id": f"c{i}", "input": f"What is item {i}?", "output": f"Item {i} is a box."}
                for i in range(CASES)]
        (project / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (project / "test_eval.py").write_text(TEST_FILE)
        (project / "pytest.ini").write_text("[pytest]\n")
        proxy = LiteLLMProxy(server.base_url, folder, deadline=240)
        try:
            proxy.start()
        except ProxyUnavailable as exc:
            raise SystemExit(str(exc)) from None
        url = proxy.base_url
        print(f"LiteLLM {version} proxy up in {proxy.started_in or 0:.0f} s", flush=True)
        try:
            for name, check in CHECKS.items():
                server.reset()
                server.refuse_formats = {}
                good, seen = check(server, project, url)
                passed += good
                saw[name] = {"ok": good, **seen}
                print(f"check {name}: {'ok' if good else 'FAILED'} {json.dumps(seen)}", flush=True)
        finally:
            proxy.stop()
    if args.out is not None:
        args.out.write_text(json.dumps({"litellm": version, "checks": saw}, indent=2) + "\n")
    print(f"real_endpoints litellm={version} checks={passed}/{len(CHECKS)}")
    return 0 if passed == len(CHECKS) else 1


if __name__ == "__main__":
    sys.exit(main())
