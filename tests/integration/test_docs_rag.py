"""docs/rag.md: its runnable example runs and shows what the page says it shows."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import REPO

PAGE = REPO / "docs" / "rag.md"
# A backtick fence's info string holds no backtick (CommonMark), so ```` `x` ```` is no fence.
FENCE = re.compile(r"^(```+|~~~+)[ \t]*([\w+-]*)[^\n`]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def blocks(language: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return [body for _, lang, body in FENCE.findall(text) if lang == language]


def test_the_rag_page_example_runs_offline_as_shown(pytester: pytest.Pytester) -> None:
    (dataset,) = blocks("json")
    (test,) = [b for b in blocks("python") if "llm_dataset" in b]
    (shown,) = [b for b in blocks("console") if "::" in b]
    pytester.makefile(".jsonl", questions=dataset)
    pytester.makepyfile(test_rag_app=test)
    result = pytester.runpytest("--llm-funnel", "-v", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    # fnmatch reads [x] as a class: the test ids' brackets are escaped.
    escaped = [re.sub(r"([*?\[])", r"[\1]", line) for line in shown.strip().splitlines()]
    result.stdout.fnmatch_lines([f"{line}*" for line in escaped])
    # What the page says about the helmet case: faithful, but retrieval failed.
    result.stdout.fnmatch_lines(["*helmet*context_precision: failed (score 0)*"])
    text = result.stdout.str()
    assert "context_recall: failed (score 0)" in text
    assert "helmet  rag_faithfulness" not in text  # the faithful answer passed
