"""Keeping the cyclic garbage collector off the run's long-lived objects.

Collection makes the objects a run keeps to its end: the items, the cases and
the eval specs, several per case. Every full collection during the run walks
all of them again, and so do pytest's ``gc.collect()`` at the end of the
session and the interpreter's at exit; in a warm eval run (every verdict
cached) those walks cost about a tenth of the whole process
(``benchmarks/warm_cache.py``).

:func:`freeze` moves everything alive when the run loop starts into the
collector's permanent generation (:func:`gc.freeze`), so no collection walks
it; objects made during the run are collected as usual. :func:`thaw` gives
them back to the collector when pytest shuts down, so that a process which
goes on after ``pytest.main()`` (a script, a run nested in another by
``pytester``) can free them, except when the session is the outermost one of
the ``pytest`` command itself, which ends right after: there, walking them
once more would only delay the exit, so what the run made since (the
``openai`` SDK's thousand modules, the verdicts) is frozen as well, and the
interpreter's last collection walks none of it.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

_COMMANDS = frozenset({"pytest", "py.test", "pytest.exe", "py.test.exe"})


def freeze() -> None:
    """Move every object alive now out of the collector's reach until :func:`thaw`."""
    gc.freeze()


def thaw(*, nested: bool, worker: bool = False) -> None:
    """At a session's shutdown: undo :func:`freeze`, or freeze the rest if the process ends.

    It ends with the session when the session is not ``nested`` in another
    (``pytester``) and pytest is the process's program, or the process is an
    xdist ``worker`` (whose controller waits for it to exit); a script's
    session gives its objects back to the collector too.
    """
    if nested or not (worker or process_is_pytest_command()):
        gc.unfreeze()
    else:
        gc.freeze()


def process_is_pytest_command() -> bool:
    """Whether pytest is this process's program (``pytest ...`` or ``python -m pytest``).

    Then the session ending ends the process. An xdist worker, a script that
    calls ``pytest.main()`` or a test run in-process by ``pytester`` is not.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return bool(spec.name in ("pytest.__main__", "py.test.__main__"))
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return program in _COMMANDS
