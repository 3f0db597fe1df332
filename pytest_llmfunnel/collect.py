"""From the llm_dataset marker to items, and from case results back to reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.dataset import DatasetError, resolve_dataset_path
from pytest_llmfunnel.funnel import Funnel, Unit, units_for
from pytest_llmfunnel.results import compact, describe_problems, status_of
from pytest_llmfunnel.session import (
    ENABLE_HINT,
    RESULT_KEY,
    UNIT_KEY,
    EvalSpec,
    FunnelSession,
    ItemInfo,
)

MARKER_KWARGS = ("funnel", "tags", "columns")


def parametrize(metafunc: pytest.Metafunc, marker: pytest.Mark, fs: FunnelSession) -> None:
    """One test per case (and per variant when a dataset has several)."""
    where = metafunc.definition.nodeid
    unknown = sorted(set(marker.kwargs) - set(MARKER_KWARGS))
    if len(marker.args) != 1 or unknown:
        raise pytest.UsageError(
            f"{where}: llm_dataset takes one dataset path and the keywords "
            f"{', '.join(MARKER_KWARGS)}; got args={marker.args!r}"
            + (f" and unknown keywords {', '.join(unknown)}" if unknown else "")
        )
    funnel = marker.kwargs.get("funnel") or Funnel()
    if not isinstance(funnel, Funnel):
        raise pytest.UsageError(
            f"{where}: llm_dataset(funnel=...) must be a pytest_llmfunnel.Funnel, "
            f"got {type(funnel).__name__}"
        )
    tags = _tags(marker.kwargs.get("tags"), where)
    columns = marker.kwargs.get("columns")
    try:
        folder = Path(metafunc.definition.path).parent
        path = resolve_dataset_path(marker.args[0], relative_to=folder)
        dataset = fs.dataset(path, dict(columns) if columns else None)
    except DatasetError as exc:
        pytest.fail(str(exc), pytrace=False)
    if tags:
        dataset = dataset.select_tags(tags)
    spec = EvalSpec(key=where, dataset=dataset, funnel=funnel)
    fs.specs[where] = spec

    units = [u for case in dataset.cases for u in units_for(case, funnel)]
    several = len({u.variant for u in units}) > 1
    values = [(u.case, u.variant) for u in units]
    ids = [f"{u.case.id}:{u.variant}" if several else u.case.id for u in units]
    for name in ("case", "llm_variant"):
        if name not in metafunc.fixturenames:
            metafunc.fixturenames.append(name)
    metafunc.parametrize(("case", "llm_variant"), values, ids=ids)


def _tags(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(t, str) for t in value):
        return tuple(value)
    raise pytest.UsageError(f"{where}: llm_dataset(tags=...) must be a string or a list of strings")


def annotate_items(items: list[pytest.Item], fs: FunnelSession) -> None:
    """Attach each eval item's case; add tag keywords, xdist groups, or the disabled skip."""
    skip = pytest.mark.skip(reason=ENABLE_HINT)
    grouped = fs.distributed or fs.config.getoption("dist", "no") != "no"
    position: dict[str, int] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "llm_variant" not in callspec.params:
            continue
        spec = fs.specs.get(_function_id(item))
        if spec is None:
            continue
        case = callspec.params["case"]
        index = position.get(spec.key, 0)
        position[spec.key] = index + 1
        chunk = index // fs.chunk_size(len(spec.dataset.cases))
        item.stash[UNIT_KEY] = ItemInfo(spec, Unit(case, callspec.params["llm_variant"]), chunk)
        item.extra_keyword_matches.update(case.tags)
        if not fs.settings.enabled:
            item.add_marker(skip)
        elif grouped:
            item.add_marker(pytest.mark.xdist_group(name=f"llmfunnel-{spec.key}-{chunk}"))


def _function_id(item: pytest.Item) -> str:
    nodeid = item.nodeid
    return nodeid[: nodeid.index("[")] if "[" in nodeid else nodeid


def attach_result(item: pytest.Item, fs: FunnelSession) -> None:
    if not fs.settings.enabled or UNIT_KEY not in item.stash:
        return
    item.stash[RESULT_KEY] = fs.result_for(item)


def enforce(item: pytest.Item, fs: FunnelSession) -> None:
    """Fail the item for must=True stages, or for every stage failure with --llm-funnel-strict."""
    result = item.stash.get(RESULT_KEY, None)
    if result is None:
        return
    blocking = [s for s in result.stages if s.status == "failed" and (s.must or fs.settings.strict)]
    if fs.settings.strict:
        blocking += [s for s in result.stages if s.status == "error"]
    if fs.settings.strict and result.error:
        pytest.fail(f"case {result.case_id!r}: {result.error}", pytrace=False)
    if blocking:
        lines = [f"case {result.case_id!r} failed funnel stage(s):"]
        lines += [f"  {s.stage}: {s.status}: {s.reason}" for s in blocking]
        pytest.fail("\n".join(lines), pytrace=False)


def decorate_report(item: pytest.Item, report: pytest.TestReport, fs: FunnelSession) -> None:
    result = item.stash.get(RESULT_KEY, None)
    info = item.stash.get(UNIT_KEY, None)
    if result is None or info is None:
        return
    record = compact(
        result,
        info.spec.key,
        path=_relative(info.spec.dataset.path, fs.config.rootpath),
        fingerprint=info.unit.case.fingerprint(),
        tags=info.unit.case.tags,
    )
    report.llm_funnel = record  # type: ignore[attr-defined]
    report.llm_funnel_status = status_of(record)  # type: ignore[attr-defined]
    problems = describe_problems(record)
    if problems:
        report.sections.append(("llm-funnel", "\n".join(problems)))
    report.user_properties.append(("llm_funnel.promoted", str(result.promoted).lower()))
    for stage in record["stages"]:
        score = stage["score"]
        value = stage["status"] if score is None else f"{stage['status']} {score:g}"
        report.user_properties.append((f"llm_funnel.{stage['stage']}", value))


def finish(session: pytest.Session, fs: FunnelSession) -> None:
    """Fail the session when judge errors exceed the tolerated share."""
    try:
        if fs.distributed or not fs.settings.enabled:
            return
        run = fs.run_result()
        share = fs.settings.max_error_share
        if run.cases and run.error_share > share and session.exitstatus == 0:
            fs.failure_message = (
                f"llm-funnel: {run.errors} of {run.cases} cases ended in a judge or target "
                f"error ({run.error_share:.1%}), above llm_funnel_max_error_share={share:g}; "
                "see the llm-error cases above, fix the endpoint or raise the share."
            )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    finally:
        fs.close()


def _relative(path: Path, root: Path) -> str:
    """A dataset path as reports show it: relative to the rootdir, with forward slashes."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
