"""One validated settings object, from the command line, the environment and ini files.

Precedence, written down once: **command line > environment > ini file
(pytest.ini / pyproject.toml / tox.ini / setup.cfg) > built-in default.**

Every option is declared in :data:`OPTIONS` (:mod:`.config_options`); the plugin
registers flags and ini keys from that table, and the documentation test checks it against
``docs/configuration.md``. API keys are read from the environment only, never
from a flag (flags end up in shell history and CI logs).
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_llmfunnel.cache_mode import CacheMode
from pytest_llmfunnel.config_options import OPTIONS as OPTIONS  # the table, re-exported
from pytest_llmfunnel.config_options import (
    OPTIONS_BY_NAME,
    JudgeChoice,
    Option,
    ResponseFormatChoice,
)

# Concurrency and timeout when they are not set: a cloud API serves many
# requests at once within seconds; a model on the local machine (or a private
# network) serves one or two at a time and may need minutes on a CPU.
CLOUD_CONCURRENCY, CLOUD_TIMEOUT = 16, 60.0
LOCAL_CONCURRENCY, LOCAL_TIMEOUT = 2, 600.0


class ConfigError(ValueError):
    """An invalid setting; the message says which one and how to fix it."""


# What the default concurrency (16) may grow to: see docs/judges.md, "Limits".
GROWN_CONCURRENCY = 64

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse(option: Option, raw: Any, source: str) -> Any:
    """Turn a raw value from one source into the option's type, or explain the problem."""
    if raw is None:
        return None
    where = {"cli": option.flag, "env": option.env, "ini": option.ini_key}[source]
    if option.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{where}={raw!r} is not a boolean; use true or false.")
    if option.kind in ("int", "float"):
        try:
            value = int(raw) if option.kind == "int" else float(raw)
        except (TypeError, ValueError):
            kind = "a whole number" if option.kind == "int" else "a number"
            raise ConfigError(f"{where}={raw!r} is not {kind}.") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}={raw!r} must be a finite number.")
        return value
    if option.kind == "choice":
        text = str(raw).strip()
        if text not in option.choices:
            allowed = ", ".join(option.choices)
            raise ConfigError(f"{where}={raw!r} is not one of: {allowed}.")
        return text
    if option.kind == "path":
        return Path(str(raw)).expanduser()
    text = str(raw).strip()
    return text or None


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, validated. Build it with :func:`resolve_settings`."""

    enabled: bool = False
    judge: JudgeChoice = "auto"
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    response_format: ResponseFormatChoice = "auto"
    concurrency: int = CLOUD_CONCURRENCY
    min_concurrency: int = 4
    max_concurrency: int = CLOUD_CONCURRENCY  # resolve_settings: 64 when left at its default
    timeout: float = CLOUD_TIMEOUT
    max_retries: int = 6
    case_timeout: float = 120.0
    target_concurrency: int | None = None
    target_retries: int = 2
    cache: CacheMode = "read-write"
    cache_dir: Path | None = None
    strict: bool = False
    max_error_share: float = 0.02
    dry_run: bool = False
    budget: float | None = None
    price_in: float | None = None
    price_out: float | None = None
    baseline_dir: Path | None = None
    update_baseline: bool = False
    merge_baseline: bool = False
    alpha: float = 0.05
    tolerance: float = 0.02
    gate_mode: str = "superiority"
    variant_control: str | None = None
    report: Path | None = None
    json: Path | None = None
    review: Path | None = None
    review_budget: float = 0.1
    review_show_verdicts: bool = False
    labels: Path | None = None
    require_calibration: bool = False
    calibration_floor: float = 0.7
    seed: int = 0
    export_lockfile: Path | None = None
    shard: tuple[int, int] | None = None  # (index from 1, count)
    run_id: str | None = None
    ledger: Path | None = None
    mlflow: bool = False
    mlflow_tracking_uri: str | None = None
    mlflow_experiment: str = "llm-funnel"
    explain_cache: str | None = None

    @property
    def use_offline_judge(self) -> bool:
        if self.judge == "offline":
            return True
        if self.judge == "openai":
            return False
        return self.base_url is None and self.api_key is None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Cost of the given usage, or None when no prices are configured."""
        if self.price_in is None and self.price_out is None:
            return None
        return (prompt_tokens * (self.price_in or 0.0)
                + completion_tokens * (self.price_out or 0.0)) / 1_000_000


def resolve_settings(
    cli: Mapping[str, Any],
    *,
    enabled: bool,
    env: Mapping[str, str] | None = None,
    ini: Callable[[str], Any] | None = None,
    rootdir: Path | None = None,
) -> Settings:
    """Merge CLI > env > ini > default into :class:`Settings`; raise ConfigError if invalid.

    ``cli`` maps option dests to parsed values (None when the flag was not given);
    ``ini`` returns the raw ini value for a key, or None/"" when unset.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    given: set[str] = set()
    for option in OPTIONS:
        value: Any = None
        if cli.get(option.dest) not in (None, False):
            value = _parse(option, cli[option.dest], "cli")
        elif env.get(option.env, "") != "":
            value = _parse(option, env[option.env], "env")
        elif option.ini and ini is not None and ini(option.ini_key) not in (None, "", []):
            value = _parse(option, ini(option.ini_key), "ini")
        values[option.name] = option.default if value is None else value
        if value is not None:
            given.add(option.name)

    if values["base_url"] is None and env.get("OPENAI_BASE_URL"):
        values["base_url"] = env["OPENAI_BASE_URL"].strip()
    local = values["base_url"] is not None and is_local_endpoint(values["base_url"])
    if values["concurrency"] is None:
        values["concurrency"] = LOCAL_CONCURRENCY if local else CLOUD_CONCURRENCY
    if values["timeout"] is None:
        values["timeout"] = LOCAL_TIMEOUT if local else CLOUD_TIMEOUT
    api_key = env.get("LLM_FUNNEL_API_KEY") or env.get("OPENAI_API_KEY") or None
    if values["cache_dir"] is not None and rootdir is not None:
        values["cache_dir"] = (rootdir / values["cache_dir"]).resolve()
    elif values["cache_dir"] is None and rootdir is not None:
        values["cache_dir"] = rootdir / ".llmfunnel" / "cache"

    for name in ("baseline_dir", "report", "json", "review", "labels", "export_lockfile",
                 "ledger"):
        if values[name] is not None and rootdir is not None:
            values[name] = (rootdir / values[name]).resolve()
    _check_range(values, "alpha", 1e-6, 0.5, "a level between 0 and 0.5, e.g. 0.05")
    _check_range(values, "tolerance", 0.0, 1.0, "a share between 0 and 1, e.g. 0.02")
    _check_range(values, "review_budget", 1e-9, 10**9, "a share below 1 or a count")
    _check_range(values, "calibration_floor", 0.0, 1.0, "a share between 0 and 1, e.g. 0.7")
    _check_range(values, "concurrency", 1, 4096, "a whole number from 1 to 4096")
    _check_range(values, "min_concurrency", 1, 4096, "a whole number from 1 to 4096")
    if values["max_concurrency"] is None:
        # A concurrency the user set is kept; the default one grows while the endpoint keeps up.
        # A local endpoint (often one model on this machine's CPU) stays where it starts.
        grown = "concurrency" not in given and not local
        values["max_concurrency"] = GROWN_CONCURRENCY if grown else values["concurrency"]
    _check_range(values, "max_concurrency", 1, 4096, "a whole number from 1 to 4096")
    _check_range(values, "max_retries", 0, 100, "a whole number from 0 to 100")
    _check_range(values, "target_retries", 0, 100, "a whole number from 0 to 100")
    if values["target_concurrency"] is not None:
        _check_range(values, "target_concurrency", 1, 4096, "a whole number from 1 to 4096")
    _check_range(values, "max_error_share", 0.0, 1.0, "a share between 0 and 1, e.g. 0.02")
    for name in ("timeout", "case_timeout"):
        _check_range(values, name, 1e-3, 86_400.0, "a number of seconds above 0")
    for name in ("budget", "price_in", "price_out"):
        if values[name] is not None:
            _check_range(values, name, 0.0, math.inf, "a number of 0 or more")
    if values["budget"] is not None and values["price_in"] is None and values["price_out"] is None:
        raise ConfigError(
            "--llm-funnel-budget is a cost, so it needs prices: pass --llm-funnel-price-in "
            "and --llm-funnel-price-out (per million tokens), or drop the budget."
        )
    if values["explain_cache"] is not None and values["cache"] == "off":
        raise ConfigError(
            "--llm-funnel-explain-cache compares requests with the verdict cache, which "
            "--llm-funnel-cache=off switches off; use another cache mode."
        )
    if values["export_lockfile"] is not None and (
        values["cache"] not in ("read-write", "replay-only") or values["dry_run"]
    ):
        why = (
            "--llm-funnel-dry-run" if values["dry_run"]
            else f"--llm-funnel-cache={values['cache']}"
        )
        raise ConfigError(
            "--llm-funnel-export-lockfile writes the verdicts a run keeps in the cache, and "
            f"{why} keeps none of the new ones; use --llm-funnel-cache=read-write to "
            "record (or replay-only to replay)."
        )
    if values["shard"] is not None:
        values["shard"] = _shard(values["shard"], values)
    if values["judge"] == "openai" and values["base_url"] is None and api_key is None:
        raise ConfigError(
            "--llm-funnel-judge=openai needs an endpoint: set OPENAI_API_KEY (or "
            "LLM_FUNNEL_API_KEY) in the environment, and --llm-funnel-base-url for a "
            "server other than OpenAI; or use --llm-funnel-judge=offline."
        )
    values["mlflow"] = values["mlflow"] or values["mlflow_tracking_uri"] is not None
    if values["mlflow"] and enabled and importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            "--llm-funnel-mlflow needs MLflow: pip install 'pytest-llmfunnel[mlflow]', or "
            "drop the flag (and llm_funnel_mlflow_tracking_uri)."
        )
    return Settings(enabled=enabled, api_key=api_key, **values)


def is_local_endpoint(base_url: str) -> bool:
    """Whether ``base_url`` names this machine or a private network (a self-hosted model).

    Loopback, private (RFC 1918, unique-local IPv6), link-local and
    ``localhost`` / ``*.localhost`` / ``*.local`` / ``host.docker.internal``
    hosts count; any other name is taken for a hosted API (no DNS lookup:
    nothing is sent before a judge stage runs).
    """
    import ipaddress  # start-up choice: only runs with a judge endpoint configured

    host = (urlsplit(base_url if "//" in base_url else "//" + base_url).hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def _shard(raw: str, values: Mapping[str, Any]) -> tuple[int, int]:
    """``"2/3"`` -> ``(2, 3)``; refuse what a shard cannot do alone."""
    index, _, count = raw.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise ConfigError(f"--llm-funnel-shard={raw!r} is not a shard: use I/N, 1 <= I <= N.")
    for name in ("update_baseline", "labels", "require_calibration"):
        if values[name]:
            raise ConfigError(
                f"--llm-funnel-shard cannot be combined with {OPTIONS_BY_NAME[name].flag}: "
                "a shard sees part of the cases; do that in an unsharded run."
            )
    return int(index), int(count)


def _check_range(values: dict[str, Any], name: str, lo: float, hi: float, what: str) -> None:
    value = values[name]
    if not lo <= value <= hi:
        option = OPTIONS_BY_NAME[name]
        raise ConfigError(f"{option.flag}={value!r} is out of range: use {what}.")
