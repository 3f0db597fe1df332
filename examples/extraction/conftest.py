"""Fixtures of the extraction example: parsing the expected booking."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from booking import Booking


def pytest_report_header(config: pytest.Config) -> str:
    fields = ", ".join(Booking.model_fields)
    return f"extraction example: emails -> Booking({fields})"


@pytest.fixture(scope="session")
def parse_booking() -> Callable[[str], Booking]:
    """Validate a JSON text against the Booking schema."""
    return Booking.model_validate_json
