"""One cache mode type: the settings, the store and the command line agree by construction."""

from __future__ import annotations

import pytest

from pytest_llmfunnel import cache_mode, config, config_options
from pytest_llmfunnel.store import verdict_cache


def test_settings_and_store_share_one_cache_mode_definition() -> None:
    # What the settings module imported (its namespace, not a public re-export).
    assert vars(config)["CacheMode"] is cache_mode.CacheMode
    assert vars(config_options)["CACHE_MODES"] is cache_mode.CACHE_MODES  # the table's choices
    # The store's annotations name the same type, not a copy of it.
    mode: object = cache_mode.CacheMode
    assert verdict_cache.CacheStats.model_fields["mode"].annotation is mode
    assert cache_mode.CACHE_MODES == ("read-write", "read-only", "off", "replay-only")


def test_the_cache_option_offers_exactly_the_modes_the_store_accepts() -> None:
    option = next(o for o in config.OPTIONS if o.name == "cache")
    assert option.choices == cache_mode.CACHE_MODES
    for mode in cache_mode.CACHE_MODES:
        assert cache_mode.parse_cache_mode(mode) == mode
    with pytest.raises(ValueError, match="expected one of: read-write, read-only, off"):
        cache_mode.parse_cache_mode("readonly")
