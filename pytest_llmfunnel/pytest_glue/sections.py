"""Extra report sections from ``pytest_llmfunnel_report_sections`` implementations."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_llmfunnel.pytest_glue.backends import hook_failure
from pytest_llmfunnel.record import CaseRecord

REPORT_SECTIONS = "pytest_llmfunnel_report_sections"


def report_sections(
    config: pytest.Config, records: Sequence[CaseRecord]
) -> tuple[list[tuple[str, str]], str | None]:
    """Every implementation's (title, text) sections, in hook order, and why none came.

    A hook that raises, or returns anything but (title, text) pairs of
    strings, adds no section; the second value then says which hook failed and
    how (the run fails with it, as a broken report would mislead).
    """
    try:
        answers = config.hook.pytest_llmfunnel_report_sections(
            config=config, records=list(records)
        )
    except Exception as exc:
        return [], f"llm-funnel: {hook_failure(REPORT_SECTIONS, exc)}"
    sections: list[tuple[str, str]] = []
    for answer in answers:
        for section in answer or ():
            if not (
                isinstance(section, Sequence) and not isinstance(section, str)
                and len(section) == 2 and all(isinstance(part, str) for part in section)
            ):
                return [], (
                    f"llm-funnel: a {REPORT_SECTIONS} hook returned {section!r:.80}; return a "
                    "list of (title, text) pairs of strings"
                )
            sections.append((section[0], section[1]))
    return sections, None
