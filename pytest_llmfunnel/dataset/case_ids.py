"""Case ids: the rule every id follows so it stays a usable pytest node id, and the
id derived from a case's input when a row has none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from pytest_llmfunnel.models import sha256_json, sha256_text

__all__ = ["ID_RULE", "MAX_ID_LENGTH", "derive_case_id", "is_id_shaped", "validate_case_id"]

MAX_ID_LENGTH = 200
# The characters pytest's -k grammar accepts in a bare word, minus the ones that
# carry meaning in node ids ("[", "]", "::", "/", "\\"), so `-k <id>` always works.
ID_RULE = (
    f"ids may use only ASCII letters, digits and '_', '-', '.', '+' (at most {MAX_ID_LENGTH} "
    "characters, starting with a letter, digit or '_'), so that every case keeps a usable "
    "pytest node id and can be selected with -k"
)
_ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_ID_CHAR = re.compile(r"[A-Za-z0-9_.+-]")


def derive_case_id(input: str | Sequence[Mapping[str, str]]) -> str:
    """A stable id from the input alone: a slug of its first words and 8 hex of its sha256.

    For chat input the slug comes from the first user message and the hash
    covers every message's role and content.
    """
    if isinstance(input, str):
        text, digest = input, sha256_text(input)
    else:
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in input]
        digest = sha256_json(messages)
        user = [m["content"] for m in messages if m["role"] == "user"]
        text = (user or [m["content"] for m in messages] or [""])[0]
    slug = ""
    ascii_text = unicodedata.normalize("NFKD", text[:400]).encode("ascii", "ignore").decode()
    for word in re.findall(r"[a-z0-9]+", ascii_text.lower())[:6]:
        if len(slug) + len(word) >= 40:
            break
        slug = f"{slug}-{word}" if slug else word
    return f"{slug or 'case'}-{digest[:8]}"


def validate_case_id(case_id: str) -> str | None:
    """Describe what makes ``case_id`` unusable as a test id, or return ``None``."""
    bad = next((i for i, char in enumerate(case_id) if not _ID_CHAR.fullmatch(char)), None)
    if not case_id:
        problem = "id is empty"
    elif len(case_id) > MAX_ID_LENGTH:
        problem = f"id is {len(case_id)} characters long"
    elif case_id != case_id.strip():
        problem = f"id {case_id!r} has whitespace at the start or end"
    elif bad is not None:
        char = case_id[bad]
        what = f"U+{ord(char):04X}" if unicodedata.category(char)[0] in "CZ" else repr(char)
        what = "a space" if char == " " else what
        problem = f"id {case_id!r} contains {what} at position {bad}"
    elif not _ID_PATTERN.fullmatch(case_id):
        problem = f"id {case_id!r} starts with {case_id[0]!r}"
    elif case_id in ("and", "or", "not"):
        problem = f"id {case_id!r} is a keyword of pytest's -k expressions"
    else:
        return None
    return f"{problem}; {ID_RULE}"


def is_id_shaped(text: str) -> bool:
    """Whether ``text`` could be a case id (the character rule alone, not the length)."""
    return _ID_PATTERN.fullmatch(text) is not None
