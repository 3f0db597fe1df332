"""A corpus of hostile and unlucky dataset files, each one either loaded correctly or
refused with an error naming file and line: never a traceback, never a row lost.

Here every kind goes through the loader; tests/integration/test_bad_input_corpus_plugin.py
runs them through ``pytest --llm-funnel``. The kinds are in tests/support/bad_input_kinds.py;
docs/reliability.md lists them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmfunnel.dataset.load import DatasetError, load_dataset
from tests.support.bad_input_kinds import KINDS, LOADED, REFUSED, Kind, write


def test_the_corpus_has_at_least_40_kinds_with_unique_names() -> None:
    names = [k.name for k in KINDS]
    assert len(set(names)) == len(names) >= 40
    assert len({k.file for k in KINDS if k.in_plugin}) == len([k for k in KINDS if k.in_plugin])


@pytest.mark.parametrize("kind", REFUSED, ids=lambda k: k.name)
def test_refused_with_file_and_line(tmp_path: Path, kind: Kind) -> None:
    path = write(tmp_path, kind)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    error = info.value
    assert (error.path, error.line, error.field) == (path, kind.line, kind.field), str(error)
    where = f"{path}:{kind.line}: " if kind.line is not None else f"{path}: "
    assert str(error).startswith(where), str(error)
    assert kind.says in str(error)


@pytest.mark.parametrize("kind", LOADED, ids=lambda k: k.name)
def test_loaded_whole(tmp_path: Path, kind: Kind) -> None:
    dataset = load_dataset(write(tmp_path, kind))
    assert len(dataset) == kind.loads
    assert len({case.id for case in dataset}) == kind.loads
