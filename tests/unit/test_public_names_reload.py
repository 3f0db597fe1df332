"""The package's public names follow the module loaded now, even after a reload.

pytest's in-process ``pytester`` runs unload the modules a run imported; the
next run loads them again. A public name kept from the first load would then
be another class than the one the plugin checks against ("must be a
pytest_llmfunnel.Funnel, got Funnel").
"""

from __future__ import annotations

import importlib
import sys

import pytest_llmfunnel


def test_a_public_name_is_the_class_of_the_module_loaded_now() -> None:
    first = pytest_llmfunnel.Funnel
    name = "pytest_llmfunnel.funnel.definition"
    saved = sys.modules.pop(name)
    try:
        reloaded = importlib.import_module(name)
        assert reloaded is not saved
        assert pytest_llmfunnel.Funnel is reloaded.Funnel
        assert pytest_llmfunnel.Funnel is not first
    finally:
        # Importing a submodule also binds it on its package: put both back, or a
        # later ``from pytest_llmfunnel.funnel import definition`` gets the reload.
        sys.modules[name] = saved
        package = sys.modules["pytest_llmfunnel.funnel"]
        package.__dict__["definition"] = saved
    assert pytest_llmfunnel.Funnel is first
    from pytest_llmfunnel.funnel import definition
    assert definition is saved
