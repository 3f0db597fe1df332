"""The collector is kept off collection's objects during a run, and given them back after."""

from __future__ import annotations

import gc
import sys

import pytest

from tests.support.runs import cases, write_jsonl

EVAL = """
import gc
import pytest
from pytest_llmfunnel import Funnel, checks

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty()))
def test_eval(case, llm_result):
    assert llm_result.case_id == case.id
    # Collection's objects (this very item among them) are out of the collector's reach.
    assert gc.get_freeze_count() > 0

def test_plain_after_eval(request):
    with pytest.raises(pytest.UsageError, match="only available in tests marked"):
        request.getfixturevalue("llm_result")
"""


def test_an_in_process_run_freezes_during_the_loop_and_thaws_after(
    pytester: pytest.Pytester,
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(3))
    pytester.makepyfile(test_eval=EVAL)
    before = gc.get_freeze_count()
    result = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=4)
    # pytester runs pytest in this process: what it froze must be collectable again.
    assert gc.get_freeze_count() == before == 0


def test_without_the_flag_nothing_is_frozen(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import gc

        def test_plain():
            assert gc.get_freeze_count() == 0
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (["-m", "pytest"], "True"),
        (["-c", "import sys, pytest; sys.exit(pytest.main(['-q', '-s']))"], "False"),
    ],
)
def test_only_the_pytest_command_counts_as_ending_with_the_run(
    pytester: pytest.Pytester, prefix: list[str], expected: str
) -> None:
    pytester.makepyfile(
        """
        from pytest_llmfunnel.pytest_glue import gc_freeze as heap

        def test_probe():
            print("COMMAND", heap.process_is_pytest_command())
        """
    )
    extra = ["-q", "-s", "-p", "no:cacheprovider"] if prefix[0] == "-m" else []
    result = pytester.run(sys.executable, *prefix, *extra)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([f"COMMAND {expected}"])


@pytest.mark.parametrize("where", [["-p", "no:xdist"], ["-n", "1"]], ids=["command", "worker"])
def test_a_process_that_ends_with_the_run_ends_with_what_it_made_frozen_too(
    pytester: pytest.Pytester, where: list[str]
) -> None:
    # The interpreter's last collection would walk whatever the run made after
    # the loop started (the SDK's modules, the verdicts): at the end of the
    # pytest command, and of an xdist worker (its controller waits for it to
    # exit), it is frozen as well, so that walk is skipped.
    if where[0] == "-n":
        pytest.importorskip("xdist")
    write_jsonl(pytester.path / "cases.jsonl", cases(2))
    exit_file = pytester.path / "at-exit.txt"
    pytester.makeconftest(
        f"""
        import atexit, gc

        MADE_DURING_THE_RUN = []

        def report():
            if not MADE_DURING_THE_RUN:
                return  # the xdist controller runs no test
            held = MADE_DURING_THE_RUN[0]
            tracked = any(o is held for o in gc.get_objects())
            with open({str(exit_file)!r}, "w") as f:
                f.write(f"tracked={{tracked}} frozen={{gc.get_freeze_count() > 0}}")

        atexit.register(report)
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, checks
        import conftest

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty()))
        def test_eval(case):
            held = {"case": case.id}
            held["self"] = held  # a cycle: only the collector could free it
            conftest.MADE_DURING_THE_RUN.append(held)
        """
    )
    result = pytester.runpytest_subprocess("--llm-funnel", "-p", "no:cacheprovider", *where)
    assert result.ret == 0, result.stdout.str()
    assert exit_file.read_text() == "tracked=False frozen=True"
