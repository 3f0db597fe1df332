"""From the llm_dataset marker to items: parametrization, validation, chunks and groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from pytest_llmfunnel.dataset.load import DatasetError, resolve_dataset_path
from pytest_llmfunnel.display import shown_path
from pytest_llmfunnel.escape import clean
from pytest_llmfunnel.funnel.runner import Funnel, Unit, units_for
from pytest_llmfunnel.gate.baseline_file import (
    DEFAULT_DIR,
    Baseline,
    BaselineError,
    baseline_path,
    load_baseline_if_exists,
)
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.pytest_glue.specs import (
    ENABLE_HINT,
    UNIT_KEY,
    BaselineFrom,
    EvalSpec,
    EvalTestInfo,
    ItemInfo,
)
from pytest_llmfunnel.pytest_glue.xdist_bridge import group_name

MARKER_KWARGS = ("funnel", "tags", "columns", "baseline")


def parametrize(metafunc: pytest.Metafunc, marker: pytest.Mark, fs: FunnelSession) -> None:
    """One test per case (and per variant when a dataset has several)."""
    where = metafunc.definition.nodeid
    funnel, tags, columns = _marker_arguments(marker, where)
    try:
        folder = Path(metafunc.definition.path).parent
        path = resolve_dataset_path(marker.args[0], relative_to=folder)
        dataset = fs.tests.dataset(path, columns)
    except DatasetError as exc:  # the message alone, not shown twice as a chain
        _collection_error(clean(str(exc), keep_newlines=True))
    if tags:
        selected = dataset.select_tags(tags)
        if not selected.cases:
            # Parametrizing with no case at all would crash later hooks; a
            # misspelt tag is a mistake to fix, not a test to skip quietly.
            known = sorted({t for case in dataset.cases for t in case.tags})
            pytest.fail(
                clean(f"{where}: no case of {path.name} has the tag(s) "
                      f"{', '.join(repr(t) for t in tags)}; tags in the file: "
                      f"{', '.join(known) or 'none'}. Fix llm_dataset(tags=...) or tag the "
                      "cases."),
                pytrace=False,
            )
        dataset = selected
    positions = {case.id: index for index, case in enumerate(dataset.cases)}
    baseline_file, where_from = _baseline_file(marker, where, metafunc, fs)
    spec = EvalSpec(
        key=where, dataset=dataset, funnel=funnel, positions=positions,
        baseline_file=baseline_file, baseline=_load_baseline(baseline_file, fs),
    )
    fs.tests.specs[where] = spec
    root = fs.config.rootpath
    units = [u for case in dataset.cases for u in units_for(case, funnel)]
    fs.tests.meta[where] = EvalTestInfo(
        path=shown_path(dataset.path, root),
        baseline=None if baseline_file is None else str(baseline_file),
        baseline_from=where_from, ids=tuple(positions), columns=columns,
        units=len(units),  # what a complete run evaluates
        control=funnel.variants[0].name if funnel.variants else None,  # live: control first
    )
    variants = {u.variant for u in units}
    ids = [f"{u.case.id}:{u.variant}" if len(variants) > 1 else u.case.id for u in units]
    if len(variants) == 1 and "llm_variant" not in metafunc.fixturenames:
        # One variant nobody asks for: parametrize by the case alone, since every
        # extra argument costs pytest time and memory per item.
        fs.tests.single_variant[where] = variants.pop()
        if "case" not in metafunc.fixturenames:
            metafunc.fixturenames.append("case")
        metafunc.parametrize("case", [u.case for u in units], ids=ids)
        return
    for name in ("case", "llm_variant"):
        if name not in metafunc.fixturenames:
            metafunc.fixturenames.append(name)
    metafunc.parametrize(("case", "llm_variant"), [(u.case, u.variant) for u in units], ids=ids)


def _marker_arguments(
    marker: pytest.Mark, where: str
) -> tuple[Funnel, tuple[str, ...], dict[str, str] | None]:
    """Validate llm_dataset's arguments; errors name what is allowed and what was given."""
    unknown = sorted(set(marker.kwargs) - set(MARKER_KWARGS))
    if len(marker.args) != 1 or not isinstance(marker.args[0], (str, Path)) or unknown:
        given = ", ".join(
            [repr(a) for a in marker.args] + [f"{k}=..." for k in marker.kwargs]
        ) or "nothing"
        raise pytest.UsageError(
            f"{where}: llm_dataset takes one dataset path (a string) and the keywords "
            f"{', '.join(MARKER_KWARGS)}; got {given}"
            + (f" (unknown keyword {', '.join(unknown)})" if unknown else "")
        )
    funnel = marker.kwargs.get("funnel") or Funnel()
    if not isinstance(funnel, Funnel):
        raise pytest.UsageError(
            f"{where}: llm_dataset(funnel=...) must be a pytest_llmfunnel.Funnel, "
            f"got {type(funnel).__name__}"
        )
    columns = marker.kwargs.get("columns")
    if columns is not None and not (
        isinstance(columns, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items())
    ):
        raise pytest.UsageError(
            f"{where}: llm_dataset(columns=...) must map the file's column names to case "
            f"fields, e.g. {{'question': 'input'}}; got {columns!r}"
        )
    return funnel, _tags(marker.kwargs.get("tags"), where), dict(columns) if columns else None


def _baseline_file(
    marker: pytest.Mark, where: str, metafunc: pytest.Metafunc, fs: FunnelSession
) -> tuple[Path | None, BaselineFrom]:
    """This eval test's baseline file and where that came from.

    ``baseline=`` on the marker (a path relative to the test file's folder, or
    False for no gate), else one in ``llm_funnel_baseline_dir``, else one in
    ``__llmfunnel_baselines__`` beside the test file: found from the test file
    alone, so neither the rootdir nor the ini file pytest happened to read
    decides whether a run is gated.
    """
    test_file = Path(metafunc.definition.path)
    given = marker.kwargs.get("baseline")
    if given is False:
        return None, "off"
    if given is not None:
        if not isinstance(given, (str, Path)) or not str(given).strip():
            raise pytest.UsageError(
                f"{where}: llm_dataset(baseline=...) must be the path of the baseline file "
                f"(relative to the test file's folder), or False for no gate; got {given!r}"
            )
        return (test_file.parent / given).resolve(), "marker"
    folder = fs.settings.baseline_dir
    if folder is not None:
        return baseline_path(folder, where), "ini"
    name = f"{test_file.name}::{where.partition('::')[2]}"
    return baseline_path(test_file.parent / DEFAULT_DIR, name), "default"


def _load_baseline(path: Path | None, fs: FunnelSession) -> Baseline | None:
    """The stored baseline, when the funnel runs and will compare against it.

    A baseline that cannot be read is a collection error naming the file and
    line. A full update replaces the old file, so one it cannot read is
    ignored; one it can read still lends its verdicts to unchanged outputs,
    so updating does not re-draw the verdicts of cases that did not change.
    """
    settings = fs.settings
    if path is None or not settings.enabled or fs.config.option.collectonly:
        return None
    try:
        return load_baseline_if_exists(path)
    except BaselineError as exc:
        if settings.update_baseline and not settings.merge_baseline:
            return None
        _collection_error(clean(str(exc), keep_newlines=True))


def _collection_error(message: str) -> NoReturn:
    """Fail collection with ``message`` alone: no traceback, and not the error it replaces
    (pytest would print the message twice, joined by "During handling of the above...")."""
    raise pytest.fail.Exception(message, pytrace=False) from None


def _tags(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(t, str) for t in value):
        return tuple(value)
    raise pytest.UsageError(
        f"{where}: llm_dataset(tags=...) must be a string or a list of strings; got {value!r}"
    )


# Each case is evaluated once per eval test, before any item runs and without
# the test's arguments: a parametrization would make several items share one
# case's record (and the baseline keep one of them), so it is refused.
_PARAMETRIZED = (
    "{key}: an llm_dataset test cannot also be parametrized (by {names}): the funnel "
    "evaluates each case once per eval test, and the parameters reach neither the "
    "target nor the judges. Write one eval test per setting (a function per Funnel, "
    "each with its own baseline), or move the parameter into the dataset's rows."
)


def annotate_items(items: list[pytest.Item], fs: FunnelSession) -> None:
    """Attach each eval item's case; add tag keywords, xdist groups, or the disabled skip.

    Chunks are cut by the case's position in the dataset, so every variant of
    a case lands in the same chunk (and on the same xdist worker).
    """
    skip = pytest.mark.skip(reason=ENABLE_HINT)
    grouped = fs.distributed or fs.config.getoption("dist", "no") != "no"
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "case" not in callspec.params:
            continue
        key = _function_id(item)
        spec = fs.tests.specs.get(key)
        variant = callspec.params.get("llm_variant", fs.tests.single_variant.get(key))
        if spec is None or variant is None:
            continue
        extra = sorted(set(callspec.params) - {"case", "llm_variant"})
        if extra:
            raise pytest.UsageError(_PARAMETRIZED.format(key=key, names=", ".join(extra)))
        case = callspec.params["case"]
        chunk = spec.positions.get(case.id, 0) // fs.bridge.chunk_size(len(spec.dataset.cases))
        item.stash[UNIT_KEY] = ItemInfo(spec, Unit(case, variant), chunk)
        item.extra_keyword_matches.update(case.tags)
        if not fs.settings.enabled:
            item.add_marker(skip)
        elif grouped:
            item.add_marker(pytest.mark.xdist_group(name=group_name(spec.key, chunk)))


def _function_id(item: pytest.Item) -> str:
    nodeid = item.nodeid
    return nodeid[: nodeid.index("[")] if "[" in nodeid else nodeid
