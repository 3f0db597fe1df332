"""JUnit XML: a case that ended in ``llm-error`` is an ``<error>`` there, as in the terminal.

pytest's junitxml plugin writes one ``<testcase>`` per item from the item's
reports. An eval item whose case ended in ``llm-error`` passed as a pytest
test (judge errors fail the session only above
``llm_funnel_max_error_share``), so the XML would count it as a pass and a
CI dashboard would show ``errors=0``. Once pytest has written the file, this
adds an ``<error type="llm-error">`` to each such test case, found by the
``llm_funnel.status`` property every eval item carries, and counts it in its
suite's ``errors``.

An ``llm-failed`` case stays a passing test case with ``llm_funnel.status =
llm-failed``: a failed stage is a quality verdict, and whether quality fails
the build is the gate's decision (or ``--llm-funnel-strict``'s, which makes it
a real pytest failure and so a ``<failure>``), not one case's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pytest_llmfunnel.atomic import atomic_write

STATUS_PROPERTY = "llm_funnel.status"
REASON_PROPERTY = "llm_funnel.reason"
ERROR_TYPE = "llm-error"
OUTCOMES = ("failure", "error", "skipped")  # a test case that has one keeps it


def mark_llm_errors(path: Path) -> int:
    """Add an ``<error>`` to each llm-error test case of the JUnit file ``path``.

    Returns how many were added; the file is rewritten (atomically) only when
    there were any. Text comes from properties pytest already wrote, so it is
    valid XML; ElementTree escapes it again on the way out.
    """
    tree = ET.parse(path)
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    added = 0
    for suite in suites:
        count = 0
        for case in suite.iter("testcase"):
            props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
            if props.get(STATUS_PROPERTY) != ERROR_TYPE:
                continue
            if any(child.tag in OUTCOMES for child in case):
                continue
            reason = props.get(REASON_PROPERTY) or "the funnel could not decide this case"
            error = ET.Element("error", {"type": ERROR_TYPE, "message": f"llm-error: {reason}"})
            error.text = reason
            # The JUnit schema puts an outcome after <properties>, before the output.
            after = [i for i, child in enumerate(case) if child.tag == "properties"]
            case.insert(after[0] + 1 if after else 0, error)
            count += 1
        if count:
            suite.set("errors", str(int(suite.get("errors") or 0) + count))
            added += count
    if added:
        text = ET.tostring(root, encoding="unicode")
        atomic_write(path, '<?xml version="1.0" encoding="utf-8"?>' + text)
    return added


def mark_junit_file(option: str, invocation_dir: Path) -> str | None:
    """:func:`mark_llm_errors` on the ``--junitxml`` file; a note when it cannot be read.

    The path is resolved the way pytest's junitxml plugin resolves it. The
    caller runs after that plugin wrote the file (a ``trylast`` session-finish
    hook); a missing file (``-p no:junitxml``) is left alone.
    """
    import os

    path = invocation_dir / os.path.expanduser(os.path.expandvars(option))
    if not path.is_file():
        return None
    try:
        mark_llm_errors(path)
    except (OSError, ET.ParseError) as exc:
        return f"JUnit XML not updated with the llm-error cases: {exc}"
    return None
