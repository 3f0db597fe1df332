"""What the verdict store and the output store share: a diskcache folder and its guards.

Opening (lazily, with a ``.gitignore`` so the folder is never committed), the
cache mode, the guard that keeps configured secrets (API keys) off the disk,
and closing. The stores themselves are in
:mod:`pytest_llmfunnel.store.verdict_cache`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import diskcache

from pytest_llmfunnel.cache_mode import CacheMode, parse_cache_mode
from pytest_llmfunnel.redact import Redactor
from pytest_llmfunnel.store.plain_disk import PlainDataDisk

_log = logging.getLogger("pytest_llmfunnel")


class SecretInValueError(ValueError):
    """A value about to be cached contains one of the configured secrets."""


class DiskStore:
    """The shared part of the verdict and output stores: opening, the mode, the secret
    guard, closing.

    The cache directory is opened lazily, so a store in mode ``off`` never
    touches the disk unless asked for statistics or an export.
    """

    def __init__(
        self, directory: str | Path, *, mode: CacheMode = "read-write", secrets: Iterable[str] = ()
    ) -> None:
        self.directory = Path(directory)
        self.mode = parse_cache_mode(mode)
        self._redact = Redactor(secrets)
        self._cache: diskcache.Cache | None = None
        self._lock = threading.Lock()
        self.withheld = 0  # values not cached because they held a secret

    @property
    def cache(self) -> diskcache.Cache:
        with self._lock:
            if self._cache is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                ignore = self.directory / ".gitignore"
                if not ignore.exists():
                    # The cache is local state; what a repo commits is the lockfile.
                    ignore.write_text("*\n", encoding="utf-8")
                # A run reads each verdict once, so SQLite's 64 MB memory map
                # and 32 MB page cache (diskcache's defaults) bought nothing
                # but resident memory: 3.7 KB per case in a warm 10,000-case
                # run (benchmarks/scale.py). Reads go through the OS cache.
                self._cache = diskcache.Cache(
                    str(self.directory),
                    disk=PlainDataDisk,
                    eviction_policy="none",
                    cull_limit=0,
                    sqlite_mmap_size=0,
                    sqlite_cache_size=1024,  # pages: 4 MB
                )
            return self._cache

    def guard_secrets(self, text: str, what: str) -> None:
        """Raise SecretInValueError if ``text`` contains a configured secret."""
        if self._redact.contains(text):
            raise SecretInValueError(
                f"refusing to cache {what}: it contains one of the configured secrets "
                "(an API key?). Check that no prompt, output or base URL embeds a key; "
                "pass credentials through the environment instead."
            )

    def _withhold(self, text: str, what: str) -> bool:
        """True, with a logged warning, when ``text`` holds a secret and must not be stored.

        A run never fails for it: the value is simply not cached, so it is
        produced afresh next time.
        """
        if not self._redact.contains(text):
            return False
        self.withheld += 1
        _log.warning(
            "llm-funnel: not caching %s: it contains the API key (check that no prompt, "
            "output or base URL embeds a key)",
            what,
        )
        return True

    def _count_keys(self, prefix: str) -> int:
        return sum(1 for key in self.cache.iterkeys() if str(key).startswith(prefix))

    def close(self) -> None:
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    def __enter__(self) -> DiskStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
