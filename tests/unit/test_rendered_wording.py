"""Every rendered output of the golden runs reads right: no "1 cases", no doubled word.

The goldens are what the terminal (80 and 120 columns, -q), the Markdown
report, ``llmfunnel report`` and the JSON results say for real runs; the
sample report and the README show the demo regression. A count before a
plural noun, a word said twice ("at at", "the the") or a "(9)" count that
disagrees with what it lists would show in one of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import DOCS, GOLDEN

RENDERED = [*sorted(GOLDEN.glob("*")), DOCS / "sample-report.md", DOCS.parent / "README.md"]
ONE_PLURAL = re.compile(r"(?<![\d.,])\b1 (cases|errors|verdicts|requests|metrics|tests|flips|"
                        r"outputs|variants|labels|chars|pairs|items|lines|workers|more cases)\b")
# A word said twice in a row (across a line wrap too); numbers and table rules are fine.
DOUBLED = re.compile(r"\b([A-Za-z]{2,})\s+\1\b", re.IGNORECASE)
# Words a table or a quoted output may legitimately repeat.
ALLOWED_DOUBLES = {"ok", "pass", "fail", "passed", "failed"}


@pytest.mark.parametrize("path", RENDERED, ids=lambda p: p.name)
def test_no_count_of_one_takes_a_plural_noun(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not ONE_PLURAL.findall(text)


@pytest.mark.parametrize("path", RENDERED, ids=lambda p: p.name)
def test_no_word_is_said_twice_in_a_row(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doubled = sorted({m.group(0) for m in DOUBLED.finditer(text)
                      if m.group(1).lower() not in ALLOWED_DOUBLES})
    assert doubled == []


@pytest.mark.parametrize("path", RENDERED, ids=lambda p: p.name)
def test_every_listed_count_matches_its_list(path: Path) -> None:
    """``cases that failed or errored in the funnel (N):`` lists N, or says how many more."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        found = re.match(r"(?:other )?flipped cases \((\d+), most severe first\):$", line) or \
            re.match(r"cases that failed or errored in the funnel \((\d+)\):$", line)
        if not found:
            continue
        total = int(found.group(1))
        body = []
        for entry in lines[i + 1:]:
            if not entry.startswith("  "):
                break
            body.append(entry)
        more = next((int(m.group(1)) for x in body
                     if (m := re.match(r"\s+\.\.\. and (\d+) more", x))), 0)
        listed = [x for x in body if re.match(r"  \S", x) and not x.lstrip().startswith(
            ("...", "("))]
        assert len(listed) + more == total, (path.name, line, len(listed), more)


def test_the_goldens_hold_what_these_checks_look_for() -> None:
    """So the checks above cannot pass on empty files: the lists and counts are there."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in RENDERED)
    assert "cases that failed or errored in the funnel (" in text
    assert "flipped cases (" in text
    assert DOUBLED.search("it starts at at noon") and ONE_PLURAL.search("with 1 cases")
