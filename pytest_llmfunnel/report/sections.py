"""Sections added by ``pytest_llmfunnel_report_sections`` hooks, as Markdown and as lines.

A section is a (title, text) pair from a user's conftest: untrusted text,
made inert here like every other text a report shows.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator

from pytest_llmfunnel.escape import md_text, terminal_text

TITLE_LIMIT = 120
LINE_LIMIT = 1000


def sections_markdown(sections: Iterable[tuple[str, str]]) -> str:
    """Each section as a level-3 heading and one paragraph per line of its text."""
    parts = []
    for title, text in sections:
        lines = [md_text(line, LINE_LIMIT) for line in text.splitlines() if line.strip()]
        parts.append("\n\n".join([f"### {md_text(title, TITLE_LIMIT)}", *lines]))
    return "\n\n".join(parts)


def section_lines(sections: Iterable[tuple[str, str]], width: int) -> Iterator[str]:
    """Each section as its title and its text's lines, indented, wrapped to ``width``."""
    for title, text in sections:
        yield ""
        yield from textwrap.wrap(terminal_text(title, TITLE_LIMIT) + ":", width) or [""]
        for line in text.splitlines():
            shown = terminal_text(line, None)
            yield from textwrap.wrap(
                shown, width, initial_indent="  ", subsequent_indent="    ",
                break_on_hyphens=False, break_long_words=False,
            ) or [""]
