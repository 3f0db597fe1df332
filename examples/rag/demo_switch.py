"""The regression demonstration's switch, shared by the test module and conftest.py.

With ``LLMFUNNEL_DEMO_REGRESSION=1`` the example's retriever runs with the
regressed chunker setting (:data:`harbourline.REGRESSED`) instead of the
shipped one.
"""

from __future__ import annotations

import os

from harbourline import REGRESSED, SHIPPED, Settings

SWITCH = "LLMFUNNEL_DEMO_REGRESSION"


def regression_demo_on() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def retriever_settings() -> Settings:
    """The retriever settings this run evaluates."""
    return REGRESSED if regression_demo_on() else SHIPPED
