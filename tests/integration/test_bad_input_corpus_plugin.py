"""The bad-input corpus through a real ``pytest --llm-funnel`` run: what the user sees.

Each refused kind is a collection error naming file and line, each loaded kind
runs every case (tests/unit/test_bad_input_corpus.py checks the loader itself).
"""

from __future__ import annotations

import pytest

from tests.support.bad_input_kinds import LOADED, REFUSED, Kind, write


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
