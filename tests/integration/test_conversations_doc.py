"""docs/conversations.md's walk-through runs and shows what the page shows."""

from __future__ import annotations

import pytest

from tests.support.doc_pages import code_blocks
from tests.support.doc_pages import words as _words
from tests.support.paths import REPO

PAGE = REPO / "docs" / "conversations.md"


def _blocks(language: str) -> list[str]:
    return code_blocks(PAGE, language)


def test_the_walkthrough_fails_the_case_and_turn_the_page_names(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    (dataset,) = _blocks("json")
    (test,) = _blocks("python")
    (shown,) = _blocks("text")
    pytester.makefile(".jsonl", chats=dataset)
    pytester.makepyfile(test_chat=test)

    result = pytester.runpytest("--llm-funnel", "-v", "-p", "no:cacheprovider")

    result.stdout.re_match_lines([r"=+ 2 passed, (\d+ warnings?, )?1 llm-failed in [\d.]+s =+"])
    table, _, failures = shown.partition("\n\n")
    result.stdout.fnmatch_lines(table.splitlines())
    out = _words(result.stdout.str())
    assert _words(failures.split("\n", 1)[1]) in out
    assert "test_chat[refund] PASSED" in out
