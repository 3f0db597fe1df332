"""Appending to a ledger file and reading several back.

**Append**: a run's lines go in one ``write`` on a file opened with
``O_APPEND``, under an exclusive ``flock`` where the platform has it, so two
processes appending at once (two CI jobs on one runner, two sessions on one
machine) never interleave their lines. If the file does not end with a newline
(a writer was killed mid-line), the append starts on a fresh line, so the
torn line stays one bad line instead of swallowing the first new entry.

**Read**: every line is validated; one that is not a ledger entry (torn,
hand-edited, from a newer version) is reported with its file and line and
skipped, never silently. Reading several files merges them: an entry seen
twice (the same file committed and kept as a CI artifact) counts once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_llmfunnel.ledger.entries import LedgerError, OnlineEntry, RunEntry, from_line, to_line

try:  # POSIX; elsewhere O_APPEND alone keeps one write together
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def append_entries(path: Path, entries: Sequence[RunEntry | OnlineEntry]) -> None:
    """Append ``entries`` to the ledger at ``path`` (made, with its folder, if missing)."""
    if not entries:
        return
    data = "".join(to_line(e) for e in entries).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = 0
        while written < len(data):  # one write in practice; a short write is finished
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


@dataclass
class Ledger:
    """The entries of one or more ledger files, oldest first, and the lines that were skipped."""

    runs: list[RunEntry] = field(default_factory=list)
    online: list[OnlineEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line: what is wrong; skipped"
    duplicates: int = 0


def read_ledgers(paths: Iterable[Path]) -> Ledger:
    """Read and merge the ledger files at ``paths``; a missing file raises :class:`LedgerError`."""
    out = Ledger()
    seen: set[tuple[str, ...]] = set()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise LedgerError(
                f"{path}: no such ledger file; a run writes one with --llm-funnel-ledger"
            ) from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = from_line(line)
            except LedgerError as exc:
                out.problems.append(f"{path}:{number}: {exc}; line skipped")
                continue
            key = _key(entry)
            if key in seen:
                out.duplicates += 1
                continue
            seen.add(key)
            if isinstance(entry, RunEntry):
                out.runs.append(entry)
            else:
                out.online.append(entry)
    out.runs.sort(key=lambda e: e.time)
    out.online.sort(key=lambda e: e.time)
    return out


def _key(entry: RunEntry | OnlineEntry) -> tuple[str, ...]:
    if isinstance(entry, RunEntry):
        return ("run", entry.run_id, entry.test, entry.variant)
    return ("online", entry.run_id)
