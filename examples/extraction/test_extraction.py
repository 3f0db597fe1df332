"""Restaurant booking emails extracted into JSON, validated against a pydantic model.

The schema check does most of the work for free: prose around the JSON,
truncated output, a party size written as a word, a 12-hour time, an extra or
a missing field all stop there. The survivors are valid bookings, and only
they reach the correctness judge, which compares them with the expected
extraction; a valid booking with a wrong date or party size fails there.
For extraction a booking is right or wrong, so the judge's threshold sits at
the top of its 1-5 scale. ``field_accuracy`` measures the share of exact
fields alongside, without gating.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from booking import Booking, field_accuracy

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges, scorers

BOOKINGS = Funnel(
    checks.not_empty(),
    checks.json_schema(Booking),
    scorers.scorer(field_accuracy),
    judges.correctness(threshold=4.9),
    name="extraction",
)


@pytest.mark.llm_dataset("bookings.jsonl", funnel=BOOKINGS)
def test_booking_extraction(
    case: Case, llm_result: CaseResult, parse_booking: Callable[[str], Booking]
) -> None:
    # The expected extraction must itself be a valid booking; a typo in the
    # dataset fails here as an ordinary test failure, not as an eval result.
    assert case.expected is not None
    expected = parse_booking(case.expected)
    received = datetime.date.fromisoformat(case.input_text().split()[1])
    assert expected.date > received, "a booking is for a day after the email arrived"
    assert expected.guest_name in case.input_text()
    if llm_result.promoted:
        accuracy = llm_result.stage("field_accuracy")
        assert accuracy is not None and accuracy.score is not None
