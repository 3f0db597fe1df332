"""The API key reaches the judge endpoint and nothing else: no file, no output, no error.

A judged eval runs through the plugin against a loopback server that echoes
the Authorization header back in its error bodies (as some proxies do), with
a 401, a 500 and a timeout among the cases. Afterwards every file the run
left behind (cache, exported lockfile, JSON and Markdown reports, JUnit XML,
log file) and everything it printed is searched for the key. Each search is
first shown to work by finding a marker that *is* written there.
"""

from __future__ import annotations

import json

import pytest

from pytest_llmfunnel.redact import Redactor, placeholder_reason

KEY = "llmf-SECRET-7a6b5c4d3e2f"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("x", "shorter than 8"),
        ("EMPTY", "shorter than 8"),
        ("gpt-4o-mini", "model name"),
        ("localhost", "base URL"),
        ("llmf-SECRET-7a6b5c4d3e2f", None),
        (None, None),
    ],
)
def test_which_keys_are_placeholders(key: str | None, why: str | None) -> None:
    reason = placeholder_reason(key, model="gpt-4o-mini", base_url="http://localhost:8000/v1")
    assert (reason is None) == (why is None)
    if why is not None:
        assert reason is not None and why in reason
    redactor = Redactor.for_key(key, model="gpt-4o-mini", base_url="http://localhost:8000/v1")
    assert bool(redactor) == (why is None and key is not None)


def test_the_redactor_sees_through_json_escapes_and_fences() -> None:
    redactor = Redactor([KEY])
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in KEY)
    for text in (
        f'{{"reasoning": "{escaped}", "score": 3}}',
        f'```json\n{{"reasoning": "{escaped}", "score": 3}}\n```',
    ):
        cleaned = redactor.json_text(text)
        assert json.loads(cleaned) == {"reasoning": "***", "score": 3}
    assert redactor.json_text('{"reasoning": "fine", "score": 3}') == (
        '{"reasoning": "fine", "score": 3}'
    )  # untouched when there is nothing to remove
    assert redactor.json_text(f"not json {KEY}") == "not json ***"
    assert redactor.value({KEY: [KEY, 1]}) == {"***": ["***", 1]}
    assert KEY not in repr(redactor)
