"""What a cold run's early import thread loads, counted in fresh interpreters (structure, not time).

A cold run imports the ``openai`` client beside collection, and with it what
building the client and sending its first request would import; and nothing
of this package, whose modules pytest parses to rewrite their asserts (two
threads parsing at once can fail on CPython before 3.11.8 and 3.12.2).
"""

from __future__ import annotations

import json
import subprocess
import sys

OPENAI = {"enabled": True, "judge": "openai", "base_url": "http://127.0.0.1:9/v1"}


def fresh_modules(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter; the modules it had loaded at its end."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_preload_loads_what_the_first_request_needs_and_nothing_of_this_package() -> None:
    # Building the client imports its HTTP transport, the first request its
    # chat resource and the async backend: all of it loads beside collection.
    # Port 9 (discard) has no judge: a request sent would fail the call.
    setup = (
        "from pytest_llmfunnel.config import Settings\n"
        "from pytest_llmfunnel.endpoint.factory import import_client\n"
        f"settings = Settings(**{OPENAI!r}, cache='off')\n"
    )
    before = fresh_modules(setup)
    after = fresh_modules(setup + "import_client(settings)")
    assert {"openai", "openai.resources.chat.completions", "anyio._backends._asyncio"} <= after
    assert sorted(m for m in after - before if m.startswith("pytest_llmfunnel")) == []
