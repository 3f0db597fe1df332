"""A corpus of hostile and unlucky dataset files, each one either loaded correctly or
refused with an error naming file and line: never a traceback, never a row lost.

Every kind is checked through the loader, and (all but the very large ones)
through a real ``pytest --llm-funnel`` run, to see what the user sees.
The kinds are in bad_input_kinds.py; docs/reliability.md lists them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bad_input_kinds import KINDS, Kind

REFUSED = [k for k in KINDS if not k.loads]
LOADED = [k for k in KINDS if k.loads]


def write(folder: Path, kind: Kind) -> Path:
    path = folder / kind.file
    if isinstance(kind.content, bytes):
        path.write_bytes(kind.content)
    else:
        path.write_bytes(kind.content.encode("utf-8"))  # no newline translation
    return path


def make_project(pytester: pytest.Pytester, kinds: list[Kind]) -> None:
    """One test module per kind, each reading its own dataset file (the target echoes)."""
    for index, kind in enumerate(kinds):
        write(pytester.path, kind)
        pytester.makepyfile(
            **{
                f"test_k{index:02d}": "import pytest\n"
                "from pytest_llmfunnel import Funnel, checks\n"
                f"@pytest.mark.llm_dataset({kind.file!r}, "
                "funnel=Funnel(checks.not_empty(), target=lambda case: case.input_text()))\n"
                "def test_case(case, llm_result):\n"
                "    assert llm_result.case_id == case.id and llm_result.promoted\n"
            }
        )


def test_every_refused_kind_is_a_collection_error_naming_file_and_line(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    kinds = [k for k in REFUSED if k.in_plugin]
    make_project(pytester, kinds)
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", *plugin_args)
    # pytest stops at collection errors (2); under xdist the workers report them (1).
    distributed = plugin_args == ["-n", "2"]
    expected = pytest.ExitCode.TESTS_FAILED if distributed else pytest.ExitCode.INTERRUPTED
    assert result.ret == expected
    output = result.stdout.str()
    assert "INTERNALERROR" not in output + result.stderr.str()
    for noise in ("Traceback", "During handling of the above exception"):
        assert noise not in output
    # Each xdist worker collects, and reports, every module.
    assert f"{len(kinds) * (2 if distributed else 1)} errors" in output
    for index, kind in enumerate(kinds):
        where = f"{kind.file}:{kind.line}: " if kind.line is not None else f"{kind.file}: "
        result.stdout.fnmatch_lines([f"*ERROR collecting test_k{index:02d}.py*"])
        assert f"{where}" in output and kind.says.splitlines()[0] in output, kind.name


def test_every_loaded_kind_runs_every_case(pytester: pytest.Pytester) -> None:
    kinds = [k for k in LOADED if k.in_plugin]
    make_project(pytester, kinds)
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=sum(k.loads for k in kinds))
    assert result.ret == pytest.ExitCode.OK
