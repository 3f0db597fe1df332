"""One real run whose gate fails in every way a report must explain, for the golden files.

A pytester project holds the support example's 60 cases and two eval tests,
judged by the offline reference judge (deterministic, no endpoint):

* ``test_support`` (funnel ``support``): checks, a word-count scorer and two
  judges. The baseline is the shipped answers; the current run empties or
  overfills :data:`DROPPED` answers (the **promotion rate** regresses: a
  check metric), swaps :data:`VAGUE` answers for the vaguer ones and edits
  the facts of :data:`EDITED` answers in a few words (the **faithfulness pass
  rate** regresses: a judge metric). The word count's mean drops too, but it
  only measures (a **measured-only drop**).
* ``test_rewrite`` (funnel ``rewrite``): one relevance judge; the baseline is
  the vaguer answers, the current run the shipped ones (an **improved**
  metric).

:func:`regressed_run` makes the baseline with the first run, then runs the
change with the JSON results and the Markdown report written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Imported here, outside the in-process runs: a pytester run unloads what it
# imported, and the second run's Funnel would then not be the class the
# plugin checks against (see tests/support/preload.py).
from pytest_llmfunnel import Funnel  # noqa: F401
from tests.support.paths import EXAMPLES
from tests.support.runs import write_jsonl

DROPPED = {
    "billing-payment-methods": "",
    "delivery-time": "",
    "repair-light": "",
    "battery-second": "",
    "app-unlock-bike": "",
}
"""Answers the change leaves empty (the ``not_empty`` check drops them)."""

OVERLONG = ("cancel-how", "account-data-export", "plans-downgrade")
"""Answers the change pads past 600 characters (``max_chars(600)`` drops them)."""

VAGUE = ("pause-subscription", "accessories-child-seat", "theft-lock-rules", "riding-speed")
"""Answers the change replaces with the vaguer ones of the example."""

EDITED = {
    "billing-deposit": (
        "A deposit of 150 EUR is required. A one-time setup fee of 29 EUR is charged with "
        "your first payment; it is paid back within 10 days of returning the bike."
    ),
}
"""Answers the change edits into close but unsupported ones: keys are case ids."""

PADDING = (
    " For every other question about your subscription, your bike, its battery, its "
    "accessories or the app, the support chat and the help centre have long articles with "
    "step-by-step pictures, answers to frequent questions and contact forms, and our team "
    "replies within one working day, including on most public holidays, in English, German, "
    "French, Spanish and Italian; in the meantime the community forum is open around the "
    "clock and many riders share their own tips there."
)

TEST_MODULE = """
import pytest

from pytest_llmfunnel import Case, Funnel, checks, judges, scorers

SUPPORT_COLUMN = {support!r}
REWRITE_COLUMN = {rewrite!r}


def answer_words(case: Case, output: str) -> float:
    return float(len(output.split()))


SUPPORT = Funnel(
    checks.not_empty(),
    checks.max_chars(600),
    scorers.scorer(answer_words),
    judges.faithfulness(),
    judges.relevance(),
    name="support",
)
REWRITE = Funnel(judges.relevance(), name="rewrite")


@pytest.mark.llm_dataset("cases.jsonl", funnel=SUPPORT, columns={{SUPPORT_COLUMN: "output"}})
def test_support(case, llm_result):
    pass


@pytest.mark.llm_dataset("cases.jsonl", funnel=REWRITE, columns={{REWRITE_COLUMN: "output"}})
def test_rewrite(case, llm_result):
    pass
"""


@dataclass(frozen=True)
class RegressedRun:
    """The current run's pytest result and the files it wrote."""

    result: pytest.RunResult
    results_json: Path
    report_md: Path


def rows() -> list[dict[str, Any]]:
    """The example's cases with a ``changed`` column: the answers after the change."""
    source = EXAMPLES / "support" / "support.jsonl"
    out = []
    for line in source.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        case = row["id"]
        changed = row["answer"]
        if case in DROPPED:
            changed = DROPPED[case]
        elif case in OVERLONG:
            changed = row["answer"] + PADDING
        elif case in VAGUE:
            changed = row["answer_after_change"]
        elif case in EDITED:
            changed = EDITED[case]
        out.append({**row, "changed": changed})
    return out


def write_project(pytester: pytest.Pytester, support: str, rewrite: str) -> None:
    """The project with ``support`` and ``rewrite`` as the evaluated answer columns."""
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_eval=TEST_MODULE.format(support=support, rewrite=rewrite))


def regressed_run(pytester: pytest.Pytester, *args: str) -> RegressedRun:
    """Accept the baseline, then run the change; ``args`` go to the second run."""
    write_jsonl(pytester.path / "cases.jsonl", rows())
    write_project(pytester, support="answer", rewrite="answer_after_change")
    first = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider",
                               "--llm-funnel-update-baseline")
    assert first.ret == 0, first.stdout.str()
    write_project(pytester, support="changed", rewrite="answer")
    results, report = pytester.path / "results.json", pytester.path / "report.md"
    result = pytester.runpytest(
        "--llm-funnel", "-p", "no:cacheprovider", f"--llm-funnel-json={results}",
        f"--llm-funnel-report={report}", *args,
    )
    return RegressedRun(result, results, report)


def funnel_section(lines: list[str]) -> list[str]:
    """The run's llm-funnel summary: from its rule to pytest's short summary or last line."""
    start = next(i for i, line in enumerate(lines) if " llm-funnel " in line and "===" in line)
    end = next(
        (i for i in range(start + 1, len(lines))
         if lines[i].startswith("=") and lines[i].endswith("=")),
        len(lines),
    )
    return lines[start:end]
