"""What the early import threads load, counted in fresh interpreters (structure, not time).

A cold run imports the ``openai`` client beside collection, and with it what
building the client and sending its first request would import; an xdist
controller imports the end of the run while it waits for its workers.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from pytest_llmfunnel.pytest_glue.preload import END_OF_RUN

OPENAI = {"enabled": True, "judge": "openai", "base_url": "http://127.0.0.1:9/v1"}


def fresh_modules(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter; the modules it had loaded at its end."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_preload_loads_what_the_first_request_needs_and_sends_nothing() -> None:
    # Building the client imports its HTTP transport, the first request its
    # chat resource and the async backend: all of it loads beside collection.
    # Port 9 (discard) has no judge: a request sent would fail the call.
    modules = fresh_modules(
        "from pathlib import Path\n"
        "from pytest_llmfunnel.config import Settings\n"
        "from pytest_llmfunnel.endpoint.factory import import_client\n"
        f"import_client(Settings(**{OPENAI!r}, cache='off'))"
    )
    assert {"openai", "pytest_llmfunnel.endpoint.client", "openai.resources.chat.completions",
            "anyio._backends._asyncio"} <= modules


def test_every_module_the_controller_preloads_exists() -> None:
    # A misspelt name would be skipped silently by the preload thread.
    modules = fresh_modules(
        "from pytest_llmfunnel.pytest_glue.preload import END_OF_RUN, preload\n"
        "preload(END_OF_RUN).join()"
    )
    assert set(END_OF_RUN) <= modules
    for name in END_OF_RUN:
        assert importlib.util.find_spec(name) is not None, name
