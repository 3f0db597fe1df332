"""The one name for data that is JSON by nature, whatever its keys.

Most of the package's data has a type of its own (a record, a wire form, a
file entry). What stays free-form is what another party defines: the body of
a chat-completions request and the endpoint's answer, a JSON Schema
document, a judge's answer before it is validated, the test server's
replies. Those are :data:`JSONObject`; ``tests/unit/test_untyped_json.py``
keeps count of them per module.

It also holds the one canonical form JSON is hashed in (:func:`canonical_json`):
every content hash of the package (cache keys, fingerprints, output digests)
goes through it, and it sits this low so that every layer can.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeAlias

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object whose keys another party defines (a request body, a schema)."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form every hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
