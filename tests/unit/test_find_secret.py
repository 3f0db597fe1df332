"""find_secret, the testing helper that looks for a leaked key in files, text and exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmfunnel.testing import (
    assert_secret_absent,
    find_secret,
)


def test_find_secret_looks_in_text_files_and_exception_chains(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "log.txt").write_text("token=hunter22")
    (tmp_path / "clean.txt").write_text("nothing")
    try:
        try:
            raise ValueError("inner hunter22")
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        chained = exc
    found = find_secret("hunter22", tmp_path, chained, "x hunter22", b"hunter22", {"k": "hunter22"})
    assert len(found) == 5
    assert str(tmp_path / "sub" / "log.txt") in found
    assert find_secret("hunter22", tmp_path / "clean.txt", RuntimeError("outer")) == []
    assert_secret_absent("hunter22", "clean")
    with pytest.raises(ValueError):
        find_secret("", "anything")
