"""From the llm_dataset marker to items, and from case results back to reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from pytest_llmfunnel.dataset.load import DatasetError, resolve_dataset_path
from pytest_llmfunnel.escape import clean, terminal_text
from pytest_llmfunnel.funnel.runner import Funnel, Unit, units_for
from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.pytest_glue.session import (
    DRY_RUN_HINT,
    ENABLE_HINT,
    UNIT_KEY,
    EvalSpec,
    FunnelSession,
    ItemInfo,
)
from pytest_llmfunnel.record import build_record, describe_problems, status_of
from pytest_llmfunnel.report.terminal import ERRORS_ABOVE
from pytest_llmfunnel.wording import plural

MARKER_KWARGS = ("funnel", "tags", "columns", "baseline")


def parametrize(metafunc: pytest.Metafunc, marker: pytest.Mark, fs: FunnelSession) -> None:
    """One test per case (and per variant when a dataset has several)."""
    where = metafunc.definition.nodeid
    funnel, tags, columns = _marker_arguments(marker, where)
    try:
        folder = Path(metafunc.definition.path).parent
        path = resolve_dataset_path(marker.args[0], relative_to=folder)
        dataset = fs.dataset(path, columns)
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
    fs.specs[where] = spec
    root = fs.config.rootpath
    fs.spec_meta[where] = {
        "path": _relative(dataset.path, root),
        "baseline": None if baseline_file is None else str(baseline_file),
        "baseline_from": where_from,  # "default", "ini", "marker" or "off"
        "ids": list(positions),
        "columns": columns,
    }

    units = [u for case in dataset.cases for u in units_for(case, funnel)]
    fs.spec_meta[where]["units"] = len(units)  # what a complete run evaluates
    variants = {u.variant for u in units}
    ids = [f"{u.case.id}:{u.variant}" if len(variants) > 1 else u.case.id for u in units]
    if len(variants) == 1 and "llm_variant" not in metafunc.fixturenames:
        # One variant nobody asks for: parametrize by the case alone, since every
        # extra argument costs pytest time and memory per item.
        fs.single_variant[where] = variants.pop()
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
) -> tuple[Path | None, str]:
    """This eval test's baseline file and where that came from.

    ``baseline=`` on the marker (a path relative to the test file's folder, or
    False for no gate), else one in ``llm_funnel_baseline_dir``, else one in
    ``__llmfunnel_baselines__`` beside the test file: found from the test file
    alone, so neither the rootdir nor the ini file pytest happened to read
    decides whether a run is gated.
    """
    from pytest_llmfunnel.gate.baseline_file import DEFAULT_DIR, baseline_path

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
    from pytest_llmfunnel.gate.baseline_file import BaselineError, load_baseline_if_exists

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
        spec = fs.specs.get(key)
        variant = callspec.params.get("llm_variant", fs.single_variant.get(key))
        if spec is None or variant is None:
            continue
        extra = sorted(set(callspec.params) - {"case", "llm_variant"})
        if extra:
            raise pytest.UsageError(_PARAMETRIZED.format(key=key, names=", ".join(extra)))
        case = callspec.params["case"]
        chunk = spec.positions.get(case.id, 0) // fs.chunk_size(len(spec.dataset.cases))
        item.stash[UNIT_KEY] = ItemInfo(spec, Unit(case, variant), chunk)
        item.extra_keyword_matches.update(case.tags)
        if not fs.settings.enabled:
            item.add_marker(skip)
        elif grouped:
            item.add_marker(pytest.mark.xdist_group(name=_group_name(spec.key, chunk)))


def xdist_group_ids(items: list[pytest.Item], config: pytest.Config) -> list[pytest.Item]:
    """On an xdist worker under loadgroup: give grouped items ``<node id>@<group>`` ids.

    xdist's group scheduler reads an item's group only from that suffix of the
    ids a worker sends when its collection finishes. Node ids themselves must
    stay as they are without xdist (``--lf``, JUnit names and CI test history
    use them), so :func:`clean_xdist_ids` takes the suffix off again at once.
    Returns the items that got one.
    """
    if not getattr(config, "workerinput", None) or not config.getvalue("loadgroup"):
        return []
    grouped = []
    for item in items:
        suffix = _group_suffix(item)
        if suffix:
            _set_nodeid(item, _without(item.nodeid, suffix) + suffix)
            grouped.append(item)
    return grouped


def clean_xdist_ids(items: list[pytest.Item]) -> None:
    """Take the ``@<group>`` suffix off grouped items' node ids (xdist < 3.9 adds it too)."""
    for item in items:
        suffix = _group_suffix(item)
        if suffix and item.nodeid.endswith(suffix):
            _set_nodeid(item, _without(item.nodeid, suffix))


def clean_crash_id(nodeid: str) -> str:
    """A node id the xdist controller knows from a worker's collection, without the
    ``@llm-…`` group this plugin gave it; any other node id is left as it is."""
    at = nodeid.rfind("@")
    if at > nodeid.rfind("]") and nodeid.startswith(GROUP_PREFIX, at + 1):
        return nodeid[:at]
    return nodeid


def _group_suffix(item: pytest.Item) -> str:
    # The suffix exactly as pytest-xdist builds it from every xdist_group mark.
    names = {
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    }
    return f"@{'_'.join(sorted(names))}" if names else ""


def _without(nodeid: str, suffix: str) -> str:
    return nodeid[: -len(suffix)] if nodeid.endswith(suffix) else nodeid


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    structured = getattr(item, "_id", None)
    if structured is not None and hasattr(type(structured), "parse"):
        setattr(item, "_id", type(structured).parse(nodeid))  # noqa: B010 (pytest >= 9.2)
    else:
        setattr(item, "_nodeid", nodeid)  # noqa: B010 (older pytest)


GROUP_PREFIX = "llm-"  # every xdist group this plugin makes starts so


def _group_name(key: str, chunk: int) -> str:
    # Shown after "@" in node ids under xdist; the test's name keeps it readable.
    name = key.rpartition("::")[2]
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return f"{GROUP_PREFIX}{safe}-{chunk}"


def _function_id(item: pytest.Item) -> str:
    nodeid = item.nodeid
    return nodeid[: nodeid.index("[")] if "[" in nodeid else nodeid


def attach_result(item: pytest.Item, fs: FunnelSession) -> None:
    """Wait for the item's case; in a dry run, skip the item once its case was counted."""
    if not fs.settings.enabled or UNIT_KEY not in item.stash:
        return
    result = fs.current_result = fs.result_for(item)
    if fs.settings.dry_run:
        if result.error is not None and result.error.startswith("dry run"):
            counts = fs.tallies.dry_run
            counts["targets_not_called"] = counts.get("targets_not_called", 0) + 1
        pytest.skip(DRY_RUN_HINT)


def enforce(item: pytest.Item, fs: FunnelSession) -> None:
    """Fail the item for must=True stages, or for every stage failure with --llm-funnel-strict."""
    result = fs.current_result
    if result is None:
        return
    blocking = [s for s in result.stages if s.status == "failed" and (s.must or fs.settings.strict)]
    if fs.settings.strict:
        blocking += [s for s in result.stages if s.status == "error"]
    # The message is shown in the failure, the short summary and JUnit XML:
    # its untrusted parts (id, error, stage names, reasons) are made inert.
    case = terminal_text(repr(result.case_id), None)
    if fs.settings.strict and result.error:
        pytest.fail(f"case {case}: {terminal_text(result.error, None)}", pytrace=False)
    if blocking:
        lines = [f"case {case} failed funnel stage(s):"]
        lines += [terminal_text(f"{s.stage}: {s.status}: {s.reason}", None) for s in blocking]
        pytest.fail("\n  ".join(lines), pytrace=False)


def inert_failure(item: pytest.Item, report: pytest.TestReport) -> None:
    """Make an eval item's failure report inert, whatever text its test put in it.

    A test's own assertion message often quotes the output or a reason
    (``assert llm_result.ok, llm_result.stages[-1].reason``); pytest prints it
    raw in the traceback, the short summary and JUnit XML. The report is
    cleaned where it is made, so xdist workers send it clean as well.
    """
    longrepr = report.longrepr
    if longrepr is None or UNIT_KEY not in item.stash:
        return
    if isinstance(longrepr, str):
        report.longrepr = clean(longrepr, keep_newlines=True)
        return
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (*longrepr[:2], clean(longrepr[2], keep_newlines=True))
        return
    chain = getattr(longrepr, "chain", None) or [
        (getattr(longrepr, "reprtraceback", None), getattr(longrepr, "reprcrash", None), None)
    ]
    for traceback, crash, _ in chain:
        _clean_attr(crash, "message")
        for entry in getattr(traceback, "reprentries", ()):
            _clean_attr(entry, "lines")
            _clean_attr(getattr(entry, "reprfileloc", None), "message")
            _clean_attr(getattr(entry, "reprlocals", None), "lines")
            funcargs = getattr(entry, "reprfuncargs", None)
            if funcargs is not None:
                funcargs.args = [(clean(n), clean(str(v))) for n, v in funcargs.args]
    sections = getattr(longrepr, "sections", None)
    if sections:
        longrepr.sections = [  # type: ignore[union-attr]
            (clean(title), clean(text, keep_newlines=True), sep) for title, text, sep in sections
        ]


def _clean_attr(obj: object, name: str) -> None:
    """Clean a text attribute, or each line of a list of lines, of one part of a report."""
    value = getattr(obj, name, None)
    if isinstance(value, str):
        setattr(obj, name, clean(value, keep_newlines=True))
    elif isinstance(value, (list, tuple)):
        setattr(obj, name, [clean(v, keep_newlines=True) for v in value])


def decorate_report(item: pytest.Item, report: pytest.TestReport, fs: FunnelSession) -> None:
    result = fs.current_result
    info = item.stash.get(UNIT_KEY, None)
    if result is None or info is None:
        return
    spec = info.spec
    identities = fs.identities(spec) if spec.funnel.stages else {}
    facts = fs.stage_facts(spec)
    fingerprint = info.unit.case.fingerprint()
    rebased = fs.rebased(spec, info.unit)
    record = build_record(
        result,
        spec.key,
        path=fs.spec_meta[spec.key]["path"],
        fingerprint=fingerprint,
        tags=info.unit.case.tags,
        judges=identities,
        facts=facts,
        baseline=None if rebased is None else build_record(
            rebased, spec.key, path=fs.spec_meta[spec.key]["path"], fingerprint=fingerprint,
            tags=info.unit.case.tags, judges=identities, facts=facts,
        ),
    )
    # A worker's report crosses to the controller as JSON-able data.
    report.llm_funnel = record.to_json() if fs.distributed else record  # type: ignore[attr-defined]
    status = status_of(record)
    report.llm_funnel_status = status  # type: ignore[attr-defined]
    problems = [terminal_text(p, None) for p in describe_problems(record)]
    if problems:
        report.sections.append(("llm-funnel", "\n".join(problems)))
    if not getattr(fs.config.option, "xmlpath", None):
        return  # the properties exist for JUnit XML; without it they only cost memory
    # JUnit: the status, and for a case that is not ok why (see pytest_llmfunnel.report.junit).
    item.user_properties.append(("llm_funnel.status", status))
    if problems:
        item.user_properties.append(("llm_funnel.reason", "; ".join(problems)))
    item.user_properties.append(("llm_funnel.promoted", str(result.promoted).lower()))
    for stage in record.stages:
        score = stage.score
        value = stage.status if score is None else f"{stage.status} {score:g}"
        # pytest escapes a property's value for XML, not its name.
        name = terminal_text(stage.stage, None)
        item.user_properties.append((f"llm_funnel.{name}", value))


def finish(session: pytest.Session, fs: FunnelSession) -> None:
    """Hand a worker's counters on; on the controller, fail on too many judge errors."""
    try:
        if not fs.settings.enabled:
            return
        fs.collect_tallies()
        if fs.distributed:
            fs.send_tallies()
            return
        remember_last_failed(session.config, [nodeid for nodeid, _, _ in fs.problem_items])
        if fs.settings.dry_run:
            return
        from pytest_llmfunnel.pytest_glue.end_of_run import conclude, order_records
        from pytest_llmfunnel.pytest_glue.selection import completeness_of

        order_records(fs)  # before the counts are first built, so they are built once
        fs.completeness = completeness_of(session, fs)
        check_error_share(session, fs)
        fs.conclusion = conclude(fs)
        if fs.settings.export_lockfile is not None:
            from pytest_llmfunnel.pytest_glue.run_files import write_lockfile

            unfinished = None
            if session.exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                unfinished = "the run did not finish"
            elif fs.workers_lost:
                unfinished = "an xdist worker went down before handing over its verdicts"
            elif fs.completeness.status == "incomplete":
                unfinished = f"the run did not finish: {fs.completeness.stopped}"
            write_lockfile(fs, fs.conclusion, unfinished=unfinished)
        ok = session.exitstatus == pytest.ExitCode.OK
        if ok and (fs.conclusion.failure or fs.completeness.status == "incomplete"):
            # An incomplete run decided nothing, so it cannot pass (pytest's own
            # codes, such as 2 for an interrupt, are kept).
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if getattr(session.config.option, "xmlpath", None):
            from pytest_llmfunnel.report.junit import mark_junit_file

            config = session.config
            note = mark_junit_file(config.option.xmlpath, config.invocation_params.dir)
            if note:
                fs.conclusion.notes.append(note)
    finally:
        fs.close()


def remember_last_failed(config: pytest.Config, nodeids: list[str]) -> None:
    """Add llm-failed and llm-error items to pytest's last-failed set, for --lf and --ff.

    They pass as pytest tests (the session's outcome is the gate's), so pytest's
    cache plugin, which has just written that set, dropped them; a later fixed
    run drops them again the same way.
    """
    cache = getattr(config, "cache", None)
    if cache is None or not nodeids or config.getoption("cacheshow", False):
        return
    lastfailed = cache.get("cache/lastfailed", {})
    lastfailed.update(dict.fromkeys(nodeids, True))
    cache.set("cache/lastfailed", lastfailed)


def check_error_share(session: pytest.Session, fs: FunnelSession) -> None:
    """Exit 1 when the share of llm-error cases exceeds llm_funnel_max_error_share."""
    run = fs.run_result()
    share = fs.settings.max_error_share
    if not run.cases or run.error_share <= share or session.exitstatus != 0:
        return
    hint = "fix the endpoint or raise the share"
    if fs.tallies.endpoint_down:
        hint = "fix the judge endpoint as said above"
    elif fs.tallies.budget_refused:
        hint = "raise --llm-funnel-budget, or raise the share"
    elif fs.settings.cache == "replay-only":
        hint = "record the missing verdicts with --llm-funnel-cache=read-write"
    fs.failure_message = (
        f"llm-funnel: {run.errors} of {plural(run.cases, 'case')} ended in a judge or target "
        f"error ({run.error_share:.1%}), above llm_funnel_max_error_share={share:g}; "
        f"{ERRORS_ABOVE}, {hint}."
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _relative(path: Path, root: Path) -> str:
    """A dataset path as reports show it: relative to the rootdir, with forward slashes."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
