"""Small wording: plurals, counts that match their lists, messages said once and right."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import PACKAGE


@pytest.fixture(autouse=True)
def width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


# Count-then-noun in an f-string: "{n} cases" is wrong for n == 1 unless the
# noun comes from the plural helper. Other nouns follow the same rule.
COUNTED_NOUN = re.compile(
    r"\{[^{}]*\}\)? (cases|errors|requests|verdicts|chars|fields|cells|attempts|pairs|"
    r"outputs|variants|metrics|tests|items|flips|labels|workers|lines)\b"
)


def test_no_count_is_followed_by_a_fixed_plural_noun() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if COUNTED_NOUN.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []
