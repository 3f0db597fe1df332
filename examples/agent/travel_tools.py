"""A fake tool set for the travel agent: deterministic, in memory, no network.

Each tool takes JSON-like arguments and returns a JSON-like result, as a real
function-calling API would. The data is made up for the example.
"""

from __future__ import annotations

import zlib
from typing import Any

AIRPORTS = {"oslo": "OSL", "rome": "FCO", "paris": "CDG", "lisbon": "LIS", "vienna": "VIE"}
FARES = {"OSL": 129, "FCO": 98, "CDG": 84, "LIS": 112, "VIE": 101}
FORECAST = {"OSL": "4 °C, snow", "FCO": "17 °C, sunny", "CDG": "11 °C, rain",
            "LIS": "19 °C, sunny", "VIE": "8 °C, cloudy"}
# Bookings that exist before the run: reference -> destination.
BOOKINGS = {"BK-1041": "FCO", "BK-2290": "LIS"}


def search_flights(to: str) -> dict[str, Any]:
    return {"to": to, "fare_eur": FARES[to], "flights": 3}


def book_flight(to: str, passengers: int) -> dict[str, Any]:
    return {"to": to, "passengers": passengers, "total_eur": FARES[to] * passengers,
            "reference": f"BK-{zlib.crc32(f'{to}/{passengers}'.encode()) % 9000 + 1000}"}


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "forecast": FORECAST[city]}


def cancel_booking(reference: str) -> dict[str, Any]:
    if reference not in BOOKINGS:
        return {"reference": reference, "cancelled": False, "error": "no such booking"}
    return {"reference": reference, "cancelled": True}


TOOLS = {f.__name__: f for f in (search_flights, book_flight, get_weather, cancel_booking)}


def call(name: str, arguments: dict[str, Any]) -> Any:
    """Run one tool by name, as the agent's runtime would."""
    return TOOLS[name](**arguments)
