"""Importing what a run needs at its end on a thread, while the run waits for others.

An import holds the GIL, so a thread gains only where pytest's own thread
waits. An xdist controller waits from the moment its workers start until the
last one reports: the end of the run (the gate, the reports, the files) is
about 60 modules it would otherwise import only after that, with everything
else already done. The thread is joined before the process ends (an import cut
short by the interpreter's exit can hang or crash it).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Sequence

# What the controller imports once the tests are done (plugin.pytest_sessionfinish
# and pytest_terminal_summary).
END_OF_RUN = (
    "pytest_llmfunnel.pytest_glue.finish",
    "pytest_llmfunnel.pytest_glue.end_of_run",
    "pytest_llmfunnel.pytest_glue.run_files",
    "pytest_llmfunnel.report.junit",
    "pytest_llmfunnel.pytest_glue.summary",
)


def preload(modules: Sequence[str], *, name: str = "llmfunnel-preload") -> threading.Thread:
    """Start importing ``modules`` in this order on a daemon thread; return it (join it)."""
    thread = threading.Thread(target=_import_all, args=(tuple(modules),), name=name, daemon=True)
    thread.start()
    return thread


def _import_all(modules: tuple[str, ...]) -> None:
    for module in modules:
        # A failure here is raised again, with its message, where the module is needed.
        with contextlib.suppress(Exception):
            importlib.import_module(module)
