"""Fixtures of the A/B example: the variants under comparison, and a win tally.

Each control item records its case's comparison in a session-wide tally, and
the terminal summary prints it: how often the new prompt won, lost or tied.
(Under pytest-xdist each worker keeps its own tally, so the line is printed
only without xdist.)
"""

from __future__ import annotations

from collections import Counter

import pytest
from helpdesk import CONTROL, TREATMENT, VARIANTS

TALLY = pytest.StashKey[Counter[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY] = Counter()


def pytest_report_header(config: pytest.Config) -> str:
    return f"ab_variants example: {CONTROL} (old prompt) vs {TREATMENT} (new prompt)"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    tally = config.stash.get(TALLY, None)
    if tally and not hasattr(config, "workerinput"):
        terminalreporter.write_line(
            f"pairwise helpfulness over {sum(tally.values())} cases: "
            f"{TREATMENT} wins {tally[TREATMENT]}, {CONTROL} wins {tally[CONTROL]}, "
            f"ties {tally['tie']}"
        )


@pytest.fixture(scope="session")
def variants() -> tuple[str, ...]:
    """The variant names, in the order the dataset's output columns give them."""
    return VARIANTS


@pytest.fixture(scope="session")
def ab_tally(pytestconfig: pytest.Config) -> Counter[str]:
    """Wins per variant (and ties), filled in by the tests."""
    return pytestconfig.stash[TALLY]
