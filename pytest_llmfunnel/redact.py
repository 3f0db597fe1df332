"""One redaction path for every text that could carry the API key.

Everything the judge endpoint sends back (answer content, the model name, error
bodies, SDK messages) is passed through a :class:`Redactor` as it enters the
process, in :mod:`pytest_llmfunnel.endpoint.client`, so the key is gone before the text
can become a reason, a report line, an exception message or a local variable
that ``pytest -l`` prints. The verdict cache runs what it stores through the
same redactor, which covers answers from any other backend.

A key too short to tell apart from ordinary words (``x``, ``judge``, ``EMPTY``),
or one that is part of the model name or the base URL, cannot be redacted
reliably: replacing it would rewrite every verdict. Such a key is a
*placeholder*; :func:`placeholder_reason` says why, the run warns once at the
start and treats it as no secret at all. Key-shaped tokens (``sk-...``,
``Bearer ...``) are still removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MIN_SECRET_LENGTH = 8
MASK = "***"

_SHAPES = (
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), "sk-***"),
    (re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"), "Bearer ***"),
)
_FENCE = re.compile(r"^\s*```[A-Za-z]*\s*\n(?P<body>.*)\n\s*```\s*$", re.DOTALL)


def placeholder_reason(key: str | None, *, model: str = "", base_url: str = "") -> str | None:
    """Why ``key`` cannot be treated as a secret, or None when it can (or there is none)."""
    if not key:
        return None
    if len(key) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    if key in model:
        return "it is part of the model name"
    if key in base_url:
        return "it is part of the base URL"
    return None


def _forms(secret: str) -> tuple[str, ...]:
    # A secret inside JSON text (a stored record, an error body) may be escaped.
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    ascii_escaped = json.dumps(secret)[1:-1]
    return tuple(dict.fromkeys((secret, escaped, ascii_escaped)))


class Redactor:
    """Replaces the configured secrets, and anything shaped like a key, with ``***``.

    Args:
        secrets: the strings to remove (empty and None entries are ignored);
            longer ones first, so a secret containing another goes whole.
    """

    __slots__ = ("_forms",)

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        kept = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._forms = tuple(form for secret in kept for form in _forms(secret))

    @classmethod
    def for_key(cls, key: str | None, *, model: str = "", base_url: str = "") -> Redactor:
        """A redactor for an API key; a placeholder key (see the module docs) is left out."""
        if placeholder_reason(key, model=model, base_url=base_url) is not None:
            return cls()
        return cls([key])

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Redactor({len(self._forms)} forms)"

    def __bool__(self) -> bool:
        return bool(self._forms)

    def contains(self, text: str) -> bool:
        """Whether ``text`` holds a configured secret (key shapes do not count)."""
        return any(form in text for form in self._forms)

    def __call__(self, text: str) -> str:
        """``text`` without the secrets and key-shaped tokens."""
        for form in self._forms:
            text = text.replace(form, MASK)
        for pattern, mask in _SHAPES:
            text = pattern.sub(mask, text)
        return text

    def json_text(self, text: str) -> str:
        """Redact a text that may be JSON, including secrets hidden by JSON escapes.

        ``"\\u0073k-..."`` decodes to the key, so literal replacement alone would
        let it through to whoever parses the text. When the decoded value still
        holds a secret, the value is redacted and encoded again.
        """
        text = self(text)
        if not self._forms:
            return text
        fenced = _FENCE.match(text)
        try:
            value = json.loads(fenced.group("body") if fenced else text)
        except ValueError:
            return text
        if not self.contains(json.dumps(value, ensure_ascii=False)):
            return text
        return json.dumps(self.value(value), ensure_ascii=False)

    def value(self, value: Any) -> Any:
        """A JSON-shaped value with every string in it (keys too) redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret and anything shaped like a key replaced by ``***``.

    Covers the literal secrets (longest first, so a secret containing another
    is removed whole), ``sk-...`` tokens and ``Bearer ...`` credentials.
    """
    return Redactor(secrets)(text)
