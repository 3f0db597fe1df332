"""The schema every extraction must satisfy, and a field-by-field comparison.

Strict on purpose: ``party_size`` must be a JSON integer (not ``"four"``),
``time`` 24-hour ``HH:MM``, ``date`` ISO ``YYYY-MM-DD``, and no field beyond
these may appear. A model that drifts from the format fails the free
``json_schema`` check and never reaches the paid judge.
"""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_llmfunnel import Case

Diet = Literal["vegetarian", "vegan", "gluten-free", "nut allergy", "lactose-free"]
Occasion = Literal["birthday", "anniversary", "business dinner"]


class Booking(BaseModel):
    """A table reservation extracted from a guest's email."""

    model_config = ConfigDict(strict=True, extra="forbid")

    guest_name: str = Field(min_length=1)
    date: datetime.date
    time: str = Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$")
    party_size: int = Field(ge=1, le=20)
    phone: str | None
    dietary: list[Diet]
    occasion: Occasion | None


def field_accuracy(case: Case, output: str) -> float:
    """Share of the booking's fields that equal the expected extraction."""
    if case.expected is None:
        raise ValueError(f"case {case.id!r} has no expected extraction")
    got = Booking.model_validate_json(output).model_dump()
    want = Booking.model_validate_json(case.expected).model_dump()
    same = sum(1 for name in want if got[name] == want[name])
    return same / len(want)
