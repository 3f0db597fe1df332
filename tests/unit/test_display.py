"""The one truncation helper and the one path shortener."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_llmfunnel.display import ELLIPSIS, shown_path, truncate


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"),
        ("abcd", 1, "…"),
        ("abcd", 0, ""),
        ("abcd", None, "abcd"),
        ("", 5, ""),
    ],
)
def test_truncate_never_passes_the_limit_and_marks_the_cut(
    text: str, limit: int | None, expected: str
) -> None:
    assert truncate(text, limit) == expected


def test_every_cut_has_exactly_the_limit_and_ends_in_the_ellipsis() -> None:
    text = "the quick brown fox jumps over the lazy dog " * 3
    for limit in range(1, len(text)):
        for at_word in (False, True):
            cut = truncate(text, limit, at_word=at_word)
            assert len(cut) <= limit and cut.endswith(ELLIPSIS)
            assert text.startswith(cut[:-1])
            if not at_word:
                assert len(cut) == limit


def test_one_line_collapses_whitespace_before_measuring() -> None:
    assert truncate("a\n\n  b\tc", 10, one_line=True) == "a b c"
    assert truncate("a\nbcdef", 4, one_line=True) == "a b…"


def test_at_word_cuts_at_a_space_only_when_little_is_lost() -> None:
    assert truncate("alpha beta gamma", 12, at_word=True) == "alpha beta…"
    # The last space would give up more than a fifth of the limit: cut mid-word.
    assert truncate("alpha betagammadelta", 12, at_word=True) == "alpha betag…"
    assert truncate("alpha beta gamma", 12) == "alpha beta …"


def test_a_path_inside_the_root_is_relative_with_forward_slashes(tmp_path: Path) -> None:
    inside = tmp_path / "tests" / "data" / "cases.jsonl"
    assert shown_path(inside, tmp_path) == "tests/data/cases.jsonl"
    assert shown_path(str(inside), str(tmp_path)) == "tests/data/cases.jsonl"


def test_a_path_outside_the_root_is_shown_as_given(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "b.jsonl"
    root = tmp_path / "project"
    assert shown_path(outside, root) == outside.as_posix()
    assert shown_path("relative/b.jsonl", root) == "relative/b.jsonl"


def test_the_default_root_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "a" / "b.csv") == "a/b.csv"
    assert shown_path(Path("a") / "b.csv") == "a/b.csv"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_paths_through_a_symlink_are_shortened_either_way(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "tests").mkdir(parents=True)
    link = tmp_path / "link"
    try:
        link.symlink_to(real, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks are not permitted here")
    # Written through the link, rooted at the real folder, and the other way round.
    assert shown_path(link / "tests" / "x.py", real) == "tests/x.py"
    assert shown_path(real / "tests" / "x.py", link) == "tests/x.py"
    assert shown_path(link / "tests" / "x.py", link) == "tests/x.py"
