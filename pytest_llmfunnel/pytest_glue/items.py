"""Each eval item's part: its case's result, its failures, and its report."""

from __future__ import annotations

import pytest

from pytest_llmfunnel.escape import clean, terminal_text
from pytest_llmfunnel.pytest_glue.selection import mark_setup_report
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.pytest_glue.specs import DRY_RUN_HINT, UNIT_KEY
from pytest_llmfunnel.record import build_record, describe_problems, input_text, status_of


def start_run(session: pytest.Session, fs: FunnelSession) -> None:
    """Before the first item: make the judge backend, then start every eval item's batch.

    The backend is made here, in pytest's thread, so a failing
    ``pytest_llmfunnel_make_backend`` hook stops the run with its own message.
    Under xdist a worker starts each chunk when its first item comes up.
    """
    if not fs.settings.enabled or session.config.option.collectonly:
        return
    fs.freeze()  # the items and cases live to the end: see gc_freeze
    if any(UNIT_KEY in item.stash for item in session.items):
        fs.backends.make()
    if not fs.distributed:
        fs.scheduler.start(session.items)


def attach_result(item: pytest.Item, fs: FunnelSession) -> None:
    """Wait for the item's case; in a dry run, skip the item once its case was counted."""
    if not fs.settings.enabled or UNIT_KEY not in item.stash:
        return
    result = fs.current_result = fs.scheduler.result_for(item)
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
    if not (blocking or (fs.settings.strict and result.error)):
        return  # the common case: nothing to say, so no text is cleaned
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
    identities = fs.rejudging.identities(spec) if spec.funnel.stages else {}
    facts = fs.rejudging.stage_facts(spec)
    fingerprint = info.unit.case.fingerprint()
    rebased = fs.rejudging.rebased(spec, info.unit)
    path = fs.spec_meta[spec.key].path
    record = build_record(
        result,
        spec.key,
        path=path,
        fingerprint=fingerprint,
        tags=info.unit.case.tags,
        judges=identities,
        facts=facts,
        input=input_text(info.unit.case.input),
        funnel=spec.funnel.name or "",
        baseline=None if rebased is None else build_record(
            rebased, spec.key, path=path, fingerprint=fingerprint,
            tags=info.unit.case.tags, judges=identities, facts=facts,
        ),
    )
    # A worker's report crosses to the controller as JSON-able data.
    report.llm_funnel = record.to_json() if fs.distributed else record  # type: ignore[attr-defined]
    status = status_of(record)
    report.llm_funnel_status = status  # type: ignore[attr-defined]
    problems = [terminal_text(p, None) for p in describe_problems(record)]
    if problems:
        # A structured output is shown whole (text, chunks, tool calls), each line inert.
        shown = [] if record.structured is None else ["output:", *(
            "  " + terminal_text(line, None) for line in record.structured.readable_lines()
        )]
        report.sections.append(("llm-funnel", "\n".join(problems + shown)))
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


def finish_report(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, fs: FunnelSession
) -> None:
    """Make an eval item's failure inert; put the record on its call report; mark its setup."""
    if report.longrepr is not None:
        inert_failure(item, report)
    if call.when == "call":
        decorate_report(item, report, fs)
    elif call.when == "setup":
        mark_setup_report(item, report)
    elif call.when == "teardown":
        # The record travels on the call report; the result is dropped, not
        # kept until the session ends.
        fs.current_result = None
