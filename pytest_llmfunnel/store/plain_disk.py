"""A diskcache ``Disk`` that never unpickles: the cache folder is data, never code.

:class:`diskcache.Disk` pickles every value and key that is not a plain
``str``/``bytes``/``int``/``float`` and unpickles whatever a row says is a
pickle, so a cache folder restored from an untrusted CI cache could run code on
the next read. The verdict cache only ever stores strings (JSON text) under
string keys, so :class:`PlainDataDisk` refuses to write anything else and, on
reading, treats a row that is not plain data (a pickled value or key, a binary
or file-backed value outside the cache folder) as absent, with a
:class:`UnsafeCacheEntryWarning`. A refused value is a cache miss: the verdict
is asked for again (or, in replay-only mode, reported missing).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import warnings
from typing import Any

import diskcache
from diskcache.core import MODE_RAW, MODE_TEXT

# What a refused key reads as: never equal to a string key the stores use.
REFUSED_KEY = None


class UnsafeCacheEntryWarning(UserWarning):
    """A cache row held something other than plain data and was ignored."""


class UnsafeCacheEntryError(OSError):
    """A refused row. An ``OSError``: diskcache turns it into a miss."""


def _warn(what: str, directory: str) -> None:
    message = (
        f"llm-funnel: ignored {what} in the cache at {directory}: the verdict cache holds "
        "only plain text, so this row was not written by pytest-llmfunnel (a cache restored "
        "from an untrusted source?). It counts as a miss; clear the folder to be rid of it."
    )
    # -W error must not turn a refused row into a crash in the middle of a read.
    with contextlib.suppress(Warning):
        warnings.warn(UnsafeCacheEntryWarning(message), stacklevel=4)


class PlainDataDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache is untyped
    """Stores and reads plain data only; see the module docs."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if not isinstance(key, str | int | float) or isinstance(key, bool):
            raise TypeError(f"the verdict cache takes plain keys only, not {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:  # a pickled key
            _warn("a pickled key", self._directory)
            return REFUSED_KEY
        return bytes(key) if isinstance(key, sqlite3.Binary) else key

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if read or not isinstance(value, str | int | float) or isinstance(value, bool):
            raise TypeError(
                f"the verdict cache stores plain text only, not {type(value).__name__}"
            )
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_RAW and isinstance(value, str | int | float):
            return value
        if mode == MODE_TEXT and not read and filename is not None and self._inside(filename):
            return super().fetch(mode, filename, value, read)
        _warn("a row that is not plain text", self._directory)
        raise UnsafeCacheEntryError("not plain data")

    def _inside(self, filename: str) -> bool:
        root = os.path.realpath(str(self._directory))
        path = os.path.realpath(os.path.join(root, filename))
        return os.path.commonpath([root, path]) == root
