"""A travel agent with tool calls, evaluated as a funnel.

Free checks look at what the agent did: whether its bookings are valid and
the ones the traveller asked for, how long it took, and the order-free F1 of
its tool calls against the calls each case expects. Only the agents' answers
that pass reach the judge, which asks whether the answer takes up the request.
"""

from __future__ import annotations

import pytest
from agent import travel_agent
from pydantic import BaseModel, Field

from pytest_llmfunnel import Case, CaseResult, Funnel, checks, judges, scorers


class BookFlight(BaseModel):
    """The book_flight tool's arguments: an airport code and 1 to 9 passengers."""

    to: str = Field(pattern=r"^[A-Z]{3}$")
    passengers: int = Field(ge=1, le=9)


AGENT = Funnel(
    checks.not_empty(),
    checks.tool_args_valid("book_flight", BookFlight, name="booking valid"),
    checks.tool_args_match("book_flight", name="booking as asked"),
    checks.latency_within(1.5, name="latency"),
    scorers.tool_calls_f1(threshold=1.0, name="tool calls F1"),
    judges.relevance(),
    target=travel_agent,
    name="agent",
)


@pytest.mark.llm_dataset("trips.jsonl", funnel=AGENT)
def test_agent(case: Case, llm_result: CaseResult) -> None:
    # Ordinary assertions beside the funnel: about the dataset itself.
    assert "expected_tool_calls" in case.metadata
    assert llm_result.case_id == case.id
