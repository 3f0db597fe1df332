"""Reading the fenced fields of a judge prompt, as the exact-prompt tests check them."""

from __future__ import annotations

import hashlib
import json
import re


def nonce_of(*fields: tuple[str, str]) -> str:
    """The documented nonce scheme, computed independently of the module."""
    payload = json.dumps(
        [list(f) for f in fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def fenced(user: str, fence: re.Pattern[str]) -> dict[str, str]:
    """Each fence's text by name; fails unless every ``<<<`` is a well-formed fence pair.

    ``fence`` matches one fence line: group 1 ``END `` on a closing fence, group 2
    the field's name, group 3 the nonce.
    """
    nonce = re.search(r"carry the nonce ([0-9a-f]{12})\.", user)
    assert nonce is not None
    fences = list(fence.finditer(user))
    assert user.count("<<<") == len(fences), "a '<<<' outside a well-formed fence"
    assert {m.group(3) for m in fences} == {nonce.group(1)}
    fields: dict[str, str] = {}
    for opening, closing in zip(fences[::2], fences[1::2], strict=True):
        assert opening.group(1) is None and closing.group(1) == "END "
        assert opening.group(2) == closing.group(2) and opening.group(2) not in fields
        fields[opening.group(2)] = user[opening.end() + 1 : closing.start() - 1]
    return fields
