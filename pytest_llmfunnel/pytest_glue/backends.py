"""The judge backend and the stores of one process: made once, closed at the end.

The backend comes from the ``pytest_llmfunnel_make_backend`` hook (a
conftest may answer it; the built-in factory is the default), wrapped for a
dry run or a budget. The verdict store and the output store follow the
settings. Everything is closed on the background loop it ran on.
"""

from __future__ import annotations

import contextlib
import traceback
from typing import Any

import pytest

from pytest_llmfunnel.config import Settings
from pytest_llmfunnel.endpoint.factory import (
    BudgetBackend,
    DryRunBackend,
    endpoint_report,
    make_output_store,
    make_store,
    preload_client,
)
from pytest_llmfunnel.funnel.backend import AnswerStore, JudgeBackend
from pytest_llmfunnel.funnel.loop_thread import LoopThread
from pytest_llmfunnel.funnel.runner import OutputRecorder
from pytest_llmfunnel.tallies import Tallies

MAKE_BACKEND = "pytest_llmfunnel_make_backend"
BACKEND_ATTRIBUTES = ("identity", "base_url", "model", "supports_json_schema", "complete")


def hook_failure(hook: str, exc: BaseException) -> str:
    """A sentence naming the hook, the error, and where the implementation raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"the {hook} hook raised {type(exc).__name__}: {exc}{where}"


class BackendLifetime:
    """The background event loop, the judge backend and the stores, made on first use."""

    def __init__(self, config: pytest.Config, settings: Settings, worker_count: int) -> None:
        self.config = config
        self.settings = settings
        self.worker_count = worker_count
        self._loop: LoopThread | None = None
        self._backend: JudgeBackend | None = None
        self._store: AnswerStore | None = None
        self._outputs: OutputRecorder | None = None
        self._outputs_made = False
        # The xdist controller sends nothing: its workers do.
        controller = not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"
        self._preload = (
            preload_client(settings)
            if settings.enabled and not config.option.collectonly and not controller
            else None
        )

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    @property
    def concurrency(self) -> int:
        """This process's share of ``--llm-funnel-concurrency``."""
        return max(1, self.settings.concurrency // max(1, self.worker_count))

    @property
    def peak_concurrency(self) -> int:
        """The most this process's judge limit may grow to (see AdaptiveLimiter's probing)."""
        return max(self.concurrency, self.settings.max_concurrency // max(1, self.worker_count))

    @property
    def backend(self) -> JudgeBackend:
        """The judge, wrapped for a dry run or a budget (each worker gets its share)."""
        if self._backend is None:
            backend = self._from_hook()
            if self.settings.dry_run:
                backend = DryRunBackend(backend)
            elif self.settings.budget is not None:
                share = self.settings.budget / max(1, self.worker_count)
                backend = BudgetBackend(backend, share, self.settings.cost, self.concurrency)
            self._backend = backend
        return self._backend

    def make(self) -> None:
        """Make the backend now (in the calling thread), unless it was made already."""
        self._backend = self.backend

    def _from_hook(self) -> JudgeBackend:
        """The first backend a ``pytest_llmfunnel_make_backend`` implementation returns."""
        try:
            made = self.config.hook.pytest_llmfunnel_make_backend(
                config=self.config, settings=self.settings
            )
        except Exception as exc:
            raise pytest.UsageError(f"llm-funnel: {hook_failure(MAKE_BACKEND, exc)}") from exc
        missing = [name for name in BACKEND_ATTRIBUTES if not hasattr(made, name)]
        if made is None or missing:
            raise pytest.UsageError(
                f"llm-funnel: the {MAKE_BACKEND} hook returned {type(made).__name__}, not a "
                f"judge backend (missing {', '.join(missing)}); return an object with "
                f"{', '.join(BACKEND_ATTRIBUTES)} (see pytest_llmfunnel.funnel.backend."
                "JudgeBackend), or None to leave the choice to the built-in factory"
            )
        backend: JudgeBackend = made
        return backend

    @property
    def store(self) -> AnswerStore:
        if self._store is None:
            self._store = make_store(self.settings)
        return self._store

    @property
    def outputs(self) -> OutputRecorder | None:
        if not self._outputs_made:
            self._outputs = make_output_store(self.settings)
            self._outputs_made = True
        return self._outputs

    def stop(self) -> None:
        """Start no new requests (``-x``, ``--maxfail``, Ctrl-C)."""
        stop = getattr(self._backend, "stop", None)
        if callable(stop):
            stop()

    def close(self) -> None:
        """Stop, close the HTTP pool on its own loop, then the loop and the stores."""
        self.stop()
        if self._preload is not None:
            # An import cut short by the interpreter's exit can hang or crash it.
            self._preload.join()
            self._preload = None
        aclose = getattr(self._backend, "aclose", None)
        if self._loop is not None:
            if callable(aclose):
                with contextlib.suppress(Exception):
                    self.loop.submit(aclose()).result(timeout=5)
            self._loop.close()
        for store in (self._store, self._outputs):
            close = getattr(store, "close", None)
            if callable(close):
                close()

    def collect_tallies(self, tallies: Tallies) -> None:
        """Copy the wrappers' counters into ``tallies`` (once, at the end)."""
        backend: Any = self._backend
        if isinstance(backend, DryRunBackend):
            tallies.dry_run.update(
                requests=backend.requests,
                prompt_tokens=backend.prompt_tokens,
                completion_tokens=backend.completion_tokens,
            )
        if isinstance(backend, BudgetBackend):
            tallies.budget_spent = backend.spent
            tallies.budget_refused = backend.refused
        if self.settings.export_lockfile is not None:
            tallies.verdict_keys.update(getattr(self._store, "keys_seen", ()))
        down = endpoint_report(backend)  # why the judge endpoint was given up, if it was
        if down is not None:
            tallies.merge({"endpoint_down": down["reasons"], "not_sent": down["not_sent"],
                           "endpoint_errors": down["errors"],
                           "endpoint_notices": down["notes"]})
