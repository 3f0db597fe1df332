"""The system under test: a travel agent that plans tool calls, runs them and answers.

It stands in for an LLM agent with function calling: a deterministic,
rule-based planner (not a model), so the example runs offline and gives the
same calls every time. ``LLMFUNNEL_DEMO_REGRESSION=1`` switches on its "new
prompt" ("be proactive"), which books a flight whenever it finds one, even
when the traveller is only looking, and reads the party size wrongly.
"""

from __future__ import annotations

import os
import re

from travel_tools import AIRPORTS, call

from pytest_llmfunnel import Case, Output, ToolCall

SWITCH = "LLMFUNNEL_DEMO_REGRESSION"
# Each tool call takes this long in the fake runtime: the answer's latency.
SECONDS_PER_CALL = 0.35


def proactive() -> bool:
    """The demo regression's switch: the "be proactive" prompt."""
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


def _party(text: str) -> int:
    found = re.search(r"\b(\d+) (?:people|adults|travellers|of us)\b", text)
    if proactive():
        # The new prompt's bug: "for N people" is read as N - 1 companions.
        return int(found[1]) - 1 if found else 1
    return int(found[1]) if found else 1


def plan(request: str) -> list[tuple[str, dict[str, object]]]:
    """The tool calls the agent decides to make for one request, in order."""
    text = request.lower()
    city = next((code for name, code in AIRPORTS.items() if name in text), None)
    ref = re.search(r"\bBK-\d{4}\b", request)
    steps: list[tuple[str, dict[str, object]]] = []
    if "cancel" in text and ref:
        steps.append(("cancel_booking", {"reference": ref[0]}))
        return steps
    if city is None:
        return steps
    if "weather" in text:
        steps.append(("get_weather", {"city": city}))
    wants_booking = re.search(r"\bbook\b", text) is not None
    if wants_booking or re.search(r"\b(find|look|search|how much)\b", text):
        steps.append(("search_flights", {"to": city}))
        if wants_booking or proactive():
            steps.append(("book_flight", {"to": city, "passengers": _party(text)}))
    return steps


CITY = {code: name.title() for name, code in AIRPORTS.items()}


def _sentence(name: str, result: dict[str, object]) -> str:
    if name == "search_flights":
        city = CITY[str(result["to"])]
        return (f"I searched flights to {city} ({result['to']}): {result['flights']} flights, "
                f"from {result['fare_eur']} EUR per person.")
    if name == "book_flight":
        city = CITY[str(result["to"])]
        return (f"I booked a flight to {city} for {result['passengers']} "
                f"{'person' if result['passengers'] == 1 else 'people'}, "
                f"{result['total_eur']} EUR in total, reference {result['reference']}.")
    if name == "get_weather":
        return f"The weather in {CITY[str(result['city'])]}: {result['forecast']}."
    if result.get("cancelled"):
        return f"Your booking {result['reference']} is cancelled."
    return f"I could not cancel booking {result['reference']}: {result.get('error')}."


def travel_agent(case: Case) -> Output:
    """Plan, call the tools, and answer with what they returned."""
    calls = []
    sentences = []
    for name, arguments in plan(case.input_text()):
        result = call(name, dict(arguments))
        calls.append(ToolCall(name=name, arguments=dict(arguments), result=result))
        sentences.append(_sentence(name, result))
    text = " ".join(sentences) or "Sorry, I can only help with flights, weather and bookings."
    return Output(text=text, tool_calls=tuple(calls), latency_s=SECONDS_PER_CALL * len(calls))
