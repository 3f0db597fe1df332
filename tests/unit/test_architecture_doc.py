"""docs/architecture.md matches the code: every module it names exists, every folder is on it."""

from __future__ import annotations

import re

from tests.support.paths import REPO

PAGE = REPO / "docs" / "architecture.md"
PACKAGE = REPO / "pytest_llmfunnel"
NAMED = re.compile(r"`(pytest_llmfunnel(?:/[\w.]+)*/?)`")


def named_paths() -> list[str]:
    return NAMED.findall(PAGE.read_text(encoding="utf-8"))


def test_every_module_and_folder_the_page_names_exists() -> None:
    named = named_paths()
    assert len(named) >= 40, "the page names the modules it describes"
    missing = [name for name in named if not (REPO / name).exists()]
    assert not missing, f"docs/architecture.md names what the package does not have: {missing}"


def test_every_folder_and_top_level_module_of_the_package_is_on_the_page() -> None:
    named = {name.rstrip("/") for name in named_paths()}
    units = {
        f"pytest_llmfunnel/{path.name}"
        for path in PACKAGE.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.name != "__init__.py")
    }
    absent = sorted(units - named)
    assert not absent, f"docs/architecture.md does not place these: {absent}"
