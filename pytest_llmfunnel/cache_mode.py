"""The verdict cache's modes, defined once for the settings, the store and the command line.

Standard library only: the settings module imports it when the plugin starts.
"""

from __future__ import annotations

from typing import Literal, get_args

CacheMode = Literal["read-write", "read-only", "off", "replay-only"]
CACHE_MODES: tuple[CacheMode, ...] = get_args(CacheMode)


def parse_cache_mode(value: str) -> CacheMode:
    """Validate a cache mode from the command line or a config file."""
    for mode in CACHE_MODES:
        if value == mode:
            return mode
    raise ValueError(f"unknown cache mode {value!r}; expected one of: {', '.join(CACHE_MODES)}")
