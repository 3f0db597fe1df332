"""docs/tools.md's walk-through runs and shows what the page shows."""

from __future__ import annotations

import re

import pytest

from tests.support.doc_pages import code_blocks
from tests.support.doc_pages import words as _words
from tests.support.paths import REPO

PAGE = REPO / "docs" / "tools.md"


def _blocks(language: str) -> list[str]:
    return code_blocks(PAGE, language)


def test_the_walkthrough_fails_the_two_cases_the_page_names(pytester: pytest.Pytester) -> None:
    (dataset,) = _blocks("json")
    (test,) = _blocks("python")
    (shown,) = _blocks("text")
    pytester.makefile(".jsonl", trips=dataset)
    pytester.makepyfile(test_agent=test)

    result = pytester.runpytest("--llm-funnel", "-v", "-p", "no:cacheprovider")

    result.stdout.re_match_lines([r"=+ 1 passed, 2 llm-failed in [\d.]+s =+"])
    table, _, failures = shown.partition("\n\n")
    result.stdout.fnmatch_lines(table.splitlines())
    out = _words(result.stdout.str())
    # Each failing case with its whole reason, however the terminal wraps it.
    for case in re.split(r"\n(?=  \S)", failures.split("\n", 1)[1].rstrip()):
        assert _words(case) in out
    assert "test_agent[oslo-weekend] PASSED" in out
