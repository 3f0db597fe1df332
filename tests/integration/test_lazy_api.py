"""The public names of ``pytest_llmfunnel`` load on first use (PEP 562) and stay the same."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_llmfunnel


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_importing_the_package_loads_no_public_name() -> None:
    out = run(
        "import sys, pytest_llmfunnel; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'pytest_llmfunnel.'))))"
    )
    assert out == "[]"


def test_every_public_name_is_listed_and_importable() -> None:
    names = run(
        "import pytest_llmfunnel as p; print(' '.join(n for n in p.__all__ if n in dir(p)))"
    ).split()
    assert names == list(pytest_llmfunnel.__all__)
    for name in pytest_llmfunnel.__all__:
        assert getattr(pytest_llmfunnel, name) is not None


def test_the_documented_import_gives_the_real_objects() -> None:
    from pytest_llmfunnel import Funnel, checks, judges, scorers
    from pytest_llmfunnel.funnel import definition, runner
    from pytest_llmfunnel.funnel.stages import checks as checks_module
    from pytest_llmfunnel.funnel.stages import judge
    from pytest_llmfunnel.funnel.stages import scorers as scorers_module

    assert (Funnel, checks, judges, scorers) == (
        definition.Funnel, checks_module, judge, scorers_module
    )
    assert runner.Funnel is definition.Funnel  # the runner's old name still works


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Funel'"):
        pytest_llmfunnel.Funel  # noqa: B018
    with pytest.raises(ImportError):
        exec("from pytest_llmfunnel import Funel")
