"""Shortening for display: the one truncation helper and the one path shortener.

Every message, reason and report that shortens text or a path uses these, so
a cut always looks the same (an ellipsis as the last character, never past
the limit) and a path is shown the same way everywhere (relative to the
project, with forward slashes, when it lies inside it).

Neither makes text safe to show: untrusted text goes through
:mod:`pytest_llmfunnel.escape` as well, which cuts with :func:`truncate`.
"""

from __future__ import annotations

import os
from pathlib import Path

ELLIPSIS = "…"
# A cut at a word boundary may give up at most this share of the limit.
_WORD_SLACK = 0.2


def truncate(
    text: str, limit: int | None, *, one_line: bool = False, at_word: bool = False
) -> str:
    """``text`` cut to at most ``limit`` characters, the last one an ellipsis.

    Args:
        text: what to shorten.
        limit: the most characters the result may have; None keeps every one.
        one_line: collapse every run of whitespace (newlines too) to one space first.
        at_word: end the cut at a space when that keeps at least 80% of ``limit``.
    """
    if one_line:
        text = " ".join(text.split())
    if limit is None or len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    if at_word:
        space = cut.rfind(" ")
        if space > limit * (1.0 - _WORD_SLACK):
            cut = cut[:space]
        cut = cut.rstrip()
    return cut + ELLIPSIS


def shown_path(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """``path`` as messages and reports show it: relative to ``root`` when inside it.

    Args:
        path: the path to show.
        root: the folder paths are shown relative to (the rootdir); by
            default the working directory, so editors can jump to the file.

    Inside ``root`` (as written, or once symlinks are resolved) the result is
    relative with forward slashes; elsewhere it is the path as given, with
    forward slashes.
    """
    given = Path(path)
    try:
        base = Path.cwd() if root is None else Path(root)
        candidates = ((given.absolute(), base.absolute()), (given.resolve(), base.resolve()))
        for inside, folder in candidates:
            if inside.is_relative_to(folder):
                return inside.relative_to(folder).as_posix()
    except (OSError, RuntimeError):  # a vanished working directory, a symlink loop
        pass
    return given.as_posix()
