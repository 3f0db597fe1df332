"""Modules to import before any in-process ``pytester`` run.

A pytester run in this process unloads the modules it imported. Whatever a
later test needs whole must therefore be imported first, outside any such run.
"""

from __future__ import annotations


def load_the_http_stack() -> None:
    """Import what the ``openai`` SDK imports on the first client it builds.

    Were the SDK's HTTP transport first imported inside a pytester run, a later
    client would import it afresh while the SDK's exception mapping still named
    the unloaded classes: a timeout would escape as a raw transport error
    instead of ``APITimeoutError``, failing whichever test came next.
    """
    import asyncio

    import openai

    client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    asyncio.run(client.close())


def load_the_dataset_readers() -> None:
    """Import the dataset readers and PyYAML, for the same reason.

    Were they first imported inside a pytester run, a later load would see a
    fresh PyYAML whose errors the readers (still holding the unloaded module)
    do not catch, and a YAML error would escape raw.
    """
    import yaml  # noqa: F401


def load_the_funnel() -> None:
    """Import the funnel's runner, for the same reason.

    Were it first imported inside a pytester run, the next run's test file
    would build its ``Funnel`` from the package's cached attribute while the
    plugin checks against a freshly imported class, and the marker would be
    refused ("must be a pytest_llmfunnel.Funnel, got Funnel").
    """
    import pytest_llmfunnel.funnel.runner  # noqa: F401
