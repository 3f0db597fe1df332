"""The judge's calibration in the terminal and the pull-request report.

Three parts, in this order wherever they appear: a warning for each judge
people disagree with (shown first, above everything else of the run), the
agreement table, the pass-rate table, then the notes and the effort line: the
labels asked for, the interval they give with and without the judge's help,
and how many labels humans alone would need for the same interval. All text
goes through :mod:`pytest_llmfunnel.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pytest_llmfunnel.escape import md_cell, md_text, one_line
from pytest_llmfunnel.review.agreement import Interval
from pytest_llmfunnel.review.calibrated_rate import Estimate, RateInterval
from pytest_llmfunnel.review.calibration import CriterionCalibration
from pytest_llmfunnel.wording import plural

AGREEMENT_HEADER = ["stage", "labelled", "accuracy", "true-pass rate", "true-fail rate",
                    "kappa", "alpha (nominal)", "alpha (ordinal)", "weighted kappa",
                    "annotator kappa", "position consistency"]
ESTIMATE_HEADER = ["stage", "labelled / outputs", "judge only", "humans only (audit)",
                   "humans with the judge"]
TARGET = ("pass rates of the judged outputs themselves (these outputs, not future ones); "
          "95% intervals")


def _pct(value: Interval | RateInterval | None) -> str:
    if value is None:
        return "-"
    return f"{value.estimate:.1%} [{value.lo:.1%}, {value.hi:.1%}]"


def _num(value: Interval | None) -> str:
    if value is None:
        return "-"
    return f"{value.estimate:.2f} [{value.lo:.2f}, {value.hi:.2f}]"


def _agreement_row(c: CriterionCalibration) -> list[str]:
    labelled = str(c.labelled)
    if c.pairwise:
        labelled = f"{c.labelled} of {c.comparisons} comparisons"
    return [c.stage, labelled, _pct(c.accuracy), _pct(c.true_pass_rate),
            _pct(c.true_fail_rate), _num(c.kappa), _num(c.alpha_nominal),
            _num(c.alpha_ordinal), _num(c.weighted_kappa), _num(c.annotator_kappa),
            _pct(c.position_consistency)]


def _estimate_row(e: Estimate) -> list[str]:
    aided = _pct(e.with_judge)
    if e.with_judge is not None and not e.judge_helped:
        aided += " (not narrower: humans only used)"
    return [e.stage, f"{e.labelled} / {e.cases}", _pct(e.judge_only), _pct(e.humans_only),
            aided]


def effort_line(e: Estimate) -> str:
    """The trade-off: labels asked for, the width they give, and what humans alone would need."""
    line = (f"{e.stage}: {e.labelled} of {plural(e.cases, 'output')} labelled "
            f"({e.labelled / e.cases:.0%})")
    if e.humans_only is None or e.calibrated is None:
        return line + "; no audit-sample labels, so no human-calibrated pass rate yet"
    points = 100 * e.calibrated.half_width
    line += f"; pass rate ±{points:.1f} pts"
    if e.judge_helped and e.with_judge is not None:
        line += (f" with the judge's help (humans alone: ±{100 * e.humans_only.half_width:.1f}"
                 " pts)")
        needed = e.labels_for_same_width
        if needed is not None and needed > e.labelled:
            saved = 1.0 - e.labelled / needed
            line += (f"; humans alone would need about {plural(needed, 'label')} for "
                     f"±{points:.1f} pts, "
                     f"so the judge saved {saved:.0%} of that review")
    else:
        line += (" from the labels alone: the judge did not narrow the interval, so its "
                 "help is not used")
    return line + f"; labelling all {e.cases} would give ±0 pts for these outputs"


def distrust_lines(cals: Sequence[CriterionCalibration], *, required: bool = False) -> list[str]:
    """One warning per judge that people disagree with, for the first lines of a report."""
    then = ("its gated metrics count as not comparable (--llm-funnel-require-calibration)"
            if required else "its verdicts still gate this run; pass "
            "--llm-funnel-require-calibration to stop that")
    return [
        f"warning: people disagree with the judge {c.stage!r}: {c.distrust}; {then}"
        for c in cals if c.distrust
    ]


def _notes(cals: Sequence[CriterionCalibration], ests: Sequence[Estimate]) -> list[str]:
    notes = []
    for c in cals:
        if c.warning:
            notes.append(f"warning: {c.stage}: {c.warning}")
        if c.stale:
            stale = plural(c.stale, "stale label")
            notes.append(f"{c.stage}: {stale} ignored (output changed since)")
        if c.ties:
            what = plural(c.ties, "comparison" if c.pairwise else "output")
            notes.append(f"{c.stage}: {what} left out (annotators split evenly)")
    for e in ests:
        notes.append(effort_line(e))
        if e.warning:
            notes.append(f"warning: {e.stage}: {e.warning}")
    return notes


def calibration_lines(
    cals: Sequence[CriterionCalibration], ests: Sequence[Estimate] = ()
) -> list[str]:
    """Plain lines for the terminal: one block of agreement, one of estimates, then notes."""
    def line(header: Sequence[str], row: Sequence[str]) -> str:
        return "  " + " | ".join(f"{h}: {one_line(v)}" for h, v in zip(header, row, strict=True)
                                 if v != "-")

    lines = ["judge calibration against human labels (95% intervals)"]
    lines += [line(AGREEMENT_HEADER, _agreement_row(c)) for c in cals]
    if ests:
        lines.append(TARGET)
        lines += [line(ESTIMATE_HEADER, _estimate_row(e)) for e in ests]
    return lines + ["  " + one_line(note) for note in _notes(cals, ests)]


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]


def calibration_markdown(
    cals: Sequence[CriterionCalibration], ests: Sequence[Estimate] = ()
) -> list[str]:
    """A Markdown snippet (lines) for the pull-request report; every cell escaped."""
    lines = ["#### Judge calibration", ""]
    lines += _md_table(AGREEMENT_HEADER, (_agreement_row(c) for c in cals))
    if ests:
        lines += ["", md_text(TARGET), "",
                  *_md_table(ESTIMATE_HEADER, (_estimate_row(e) for e in ests))]
    notes = _notes(cals, ests)
    if notes:
        lines += ["", *(f"- {md_text(note, None)}" for note in notes)]
    return lines
