"""The end of a session's tests: hand over or conclude, fail on errors, close."""

from __future__ import annotations

import pytest

from pytest_llmfunnel.pytest_glue.selection import completeness_of
from pytest_llmfunnel.pytest_glue.session import FunnelSession
from pytest_llmfunnel.wording import plural


def finish(session: pytest.Session, fs: FunnelSession) -> None:
    """Hand a worker's counters on; on the controller, fail on too many judge errors."""
    try:
        if not fs.settings.enabled:
            return
        fs.backends.collect_tallies(fs.tallies)
        if fs.distributed:
            fs.bridge.send(fs.tallies, fs.spec_meta)
            return
        remember_last_failed(session.config, [nodeid for nodeid, _, _ in fs.problem_items])
        if fs.settings.dry_run:
            return
        # Start-up choice: the end of the run (gate, reports, files) loads on the
        # controller only; an xdist worker hands over above and never needs it.
        from pytest_llmfunnel.pytest_glue.end_of_run import conclude
        from pytest_llmfunnel.pytest_glue.run_files import write_lockfile
        from pytest_llmfunnel.report.junit import mark_junit_file

        fs.results.order(fs.spec_meta)  # before the counts are first built, so they are built once
        fs.pytest_status = int(session.exitstatus)
        fs.completeness = completeness_of(session, fs)
        check_error_share(session, fs)
        fs.conclusion = conclude(fs)
        if fs.settings.ledger is not None or fs.settings.mlflow:
            # Start-up choice: the ledger loads only when a ledger or MLflow is configured.
            from pytest_llmfunnel.pytest_glue.ledger_run import log_run

            log_run(session, fs, fs.conclusion)
        if fs.settings.export_lockfile is not None:
            unfinished = None
            if session.exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                unfinished = "the run did not finish"
            elif fs.bridge.workers_lost:
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
    # Start-up choice: as in finish (only the controller checks the share).
    from pytest_llmfunnel.report.terminal import ERRORS_ABOVE

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
