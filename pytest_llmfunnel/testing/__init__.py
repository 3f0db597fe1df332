"""Test helpers: an OpenAI-compatible judge server on loopback and its scripted actions.

Standard library only and free of pytest, so benchmarks and other projects'
test suites can use it as well.
"""

from __future__ import annotations

from pytest_llmfunnel.testing.actions import (
    LLAMA_CPP_PYTHON_SCHEMA_ERROR,
    Action,
    close,
    empty_choices,
    garbage,
    hang,
    hashed_verdicts,
    litellm_cooldown,
    litellm_no_db,
    litellm_upstream,
    ok,
    random_verdicts,
    status,
    truncated,
    verdict,
)
from pytest_llmfunnel.testing.leaks import assert_secret_absent, find_secret
from pytest_llmfunnel.testing.server import (
    JudgeServer,
    RecordedRequest,
    ServerStats,
    free_port,
    refused_base_url,
)

__all__ = [
    "LLAMA_CPP_PYTHON_SCHEMA_ERROR",
    "Action",
    "JudgeServer",
    "RecordedRequest",
    "ServerStats",
    "assert_secret_absent",
    "close",
    "empty_choices",
    "find_secret",
    "free_port",
    "garbage",
    "hang",
    "hashed_verdicts",
    "litellm_cooldown",
    "litellm_no_db",
    "litellm_upstream",
    "ok",
    "random_verdicts",
    "refused_base_url",
    "status",
    "truncated",
    "verdict",
]
