"""Live variants: one target, several settings, each variant's outputs produced now.

``Funnel(target=answer, variants={"terse": {"prompt": ...}, "friendly": {...}})``
evaluates every case once per variant. The target is called with the case
and the :class:`Variant` (its ``name`` and ``settings``) instead of the case
alone, so one callable serves every variant; the runner's target machinery
(concurrency, timeout, retries, repeats) applies to each call.

Why a mapping of settings and not one target per variant: the variants of an
A/B test differ in data (a prompt, a model name, a temperature), not in code,
and the data is what keys the recorded outputs. Each variant's output is
recorded under (case, target, ``target_version``, variant name, a hash of its
settings): editing one variant's prompt re-runs that variant alone, and an
unchanged rerun calls the target zero times. The target's *code* is not in
the key: bump ``target_version`` when it changes.

The first variant (or the one named with ``control=``) is the control: each
pairwise judge compares it with every other variant of the case, in both
orders, exactly as it does the pre-logged ``output_<name>`` columns.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Variant:
    """One variant of the system under test: its name and settings (JSON values).

    ``variant["prompt"]`` and ``variant.get("model", default)`` read a setting.
    ``fingerprint`` is the sha256 of the settings in canonical JSON: what keys
    the variant's recorded outputs.
    """

    name: str
    settings: Mapping[str, Any]
    fingerprint: str

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


def make_variants(
    variants: Mapping[str, Mapping[str, Any]] | None, control: str | None, target: object,
) -> tuple[Variant, ...]:
    """The funnel's variants, the control first; errors say what to change.

    Raises ValueError for variants without a target (or with one that cannot be
    called as ``target(case, variant)``), a bad name, settings that are not a
    mapping of JSON values, or a ``control`` that names no variant.
    """
    if variants is None:
        if control is not None:
            raise ValueError("control=... names one of variants=...; pass variants too")
        return ()
    if target is None:
        raise ValueError(
            "variants=... are settings passed to a target; give the funnel a target=... "
            "callable (pre-logged variants are output_<name> columns of the dataset)"
        )
    if not isinstance(variants, Mapping) or not variants:
        raise ValueError("variants=... must be a non-empty dict of name -> settings dict")
    _check_signature(target)
    made: list[Variant] = []
    for name, settings in variants.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "default":
            raise ValueError(
                f"variant name {name!r} is not allowed: use letters, digits, '_', '.' and "
                "'-' (starting with a letter or digit), and not 'default'"
            )
        if not isinstance(settings, Mapping):
            raise ValueError(
                f"the settings of variant {name!r} must be a dict, got {type(settings).__name__}"
            )
        try:
            text = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"the settings of variant {name!r} must be JSON values (str, number, bool, "
                f"None, lists and dicts of them), since they key its recorded outputs: {exc}"
            ) from None
        frozen = MappingProxyType(json.loads(text))  # a copy the caller cannot edit
        made.append(Variant(name, frozen, hashlib.sha256(text.encode()).hexdigest()))
    names = [v.name for v in made]
    if control is not None and control not in names:
        raise ValueError(f"control={control!r} is not a variant; the variants are "
                         f"{', '.join(names)}")
    chosen = control or names[0]
    return tuple(sorted(made, key=lambda v: v.name != chosen))


def _check_signature(target: object) -> None:
    """Refuse, at once, a target that cannot be called as ``target(case, variant)``."""
    try:
        signature = inspect.signature(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return  # a callable Python cannot describe: its first call will tell
    try:
        signature.bind(None, None)
    except TypeError:
        name = getattr(target, "__qualname__", type(target).__name__)
        raise ValueError(
            f"with variants=..., the target is called as target(case, variant); "
            f"{name}{signature} does not take a second argument: add one (the Variant, "
            "with .name and .settings)"
        ) from None


def live_variant(variants: tuple[Variant, ...], name: str) -> Variant | None:
    """The live variant of that name; None for a funnel without live variants."""
    if not variants:
        return None
    for variant in variants:
        if variant.name == name:
            return variant
    raise ValueError(f"this funnel has no variant {name!r}; its variants are "
                     f"{', '.join(v.name for v in variants)}")


def recorded_version(target_version: str | None, variant: Variant) -> str:
    """The version a variant's outputs are recorded under: the target's, name and settings."""
    return f"{target_version or ''}@variant:{variant.name}:{variant.fingerprint}"
