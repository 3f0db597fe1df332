"""Sections from report-section hooks, rendered for the Markdown report and the terminal."""

from __future__ import annotations

import cmarkgfm

from pytest_llmfunnel.report.sections import section_lines, sections_markdown

HOSTILE = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) \x1b]0;t\x07 \u202eevil"


def test_markdown_sections_are_headings_with_inert_paragraphs() -> None:
    text = sections_markdown([("Latency", "p95: 1.2 s\n\nall under budget"), ("Bad", HOSTILE)])
    assert text.startswith("### Latency\n\np95: 1.2 s\n\nall under budget\n\n### Bad\n\n")
    html = cmarkgfm.github_flavored_markdown_to_html(text)
    assert "<img" not in html and "<a " not in html and "javascript:" not in html.split("<p>")[0]
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text


def test_no_sections_no_markdown() -> None:
    assert sections_markdown([]) == ""
    assert list(section_lines([], 80)) == []


def test_terminal_sections_are_wrapped_indented_and_inert() -> None:
    lines = list(section_lines([("Notes \x1b[31m", "word " * 30 + "\n" + HOSTILE)], 60))
    assert lines[0] == "" and lines[1] == "Notes:"
    assert all(len(line) <= 60 for line in lines)
    assert lines[2].startswith("  word") and lines[3].startswith("    word")
    assert not any(ch in "".join(lines) for ch in "\x1b\x07\u202e")
