"""How far the judge can be trusted, measured against human labels, and what that buys.

Two questions, answered per judge stage:

* **Agreement** (:func:`calibrate`): on the cases humans labelled, how often
  does the judge agree with them (accuracy, true-pass and true-fail rates,
  Cohen's kappa, quadratic-weighted kappa for scores), how much do the humans
  agree with each other, and, for a pairwise judge, how often do both orders
  agree. Every labelled case counts here, audit or targeted: agreement is a
  property of the judge, and targeted cases are where it is tested hardest
  (so these numbers lean pessimistic; see ``docs/calibration.md``).
* **Estimates** (:func:`calibrated_estimates`): the pass rate itself, from the
  judge alone, from the humans alone, and by prediction-powered inference
  (PPI++), which corrects the judge on all cases by its error measured on the
  **uniform audit sample only**. Targeted labels are not used there: they are
  not a random sample, and averaging them in would bias the estimate.

Humans' labels of one output are combined by majority (a score label counts
as a pass when it reaches the judge's threshold); an even split is a tie and
is left out of agreement numbers, while estimates use the share of annotators
who passed it (a tie counts 0.5), which keeps them unbiased.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from pytest_llmfunnel import stats
from pytest_llmfunnel.review import (
    Label,
    Record,
    ReviewSlice,
    is_pairwise,
    judge_threshold,
    match_labels,
    output_hash,
    rubric_stages,
)
from pytest_llmfunnel.wording import plural

MIN_LABELLED = 30
MAX_HALF_WIDTH = 0.15
OutputKey = tuple[str, str, str]  # case, variant, output hash


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided interval."""

    estimate: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


def proportion(k: int, n: int, conf: float = 0.95) -> Interval:
    """k of n with its Wilson interval."""
    lo, hi = stats.wilson_interval(k, n, conf)
    return Interval(k / n, lo, hi)


@dataclass(frozen=True)
class CriterionCalibration:
    """Judge-versus-human agreement on one judge stage.

    ``labelled`` counts outputs with a human majority and a judge decision;
    ``ties`` outputs whose annotators split evenly (left out). Rates are
    ``None`` when there is nothing to compute them from.
    """

    stage: str
    labelled: int = 0
    ties: int = 0
    stale: int = 0
    accuracy: Interval | None = None
    true_pass_rate: Interval | None = None
    true_fail_rate: Interval | None = None
    kappa: float | None = None
    weighted_kappa: float | None = None
    annotator_kappa: float | None = None
    multi_annotated: int = 0
    pairwise: bool = False
    position_consistency: Interval | None = None
    warning: str | None = None


@dataclass(frozen=True)
class Estimate:
    """A judge stage's pass rate three ways, and the human effort behind it."""

    stage: str
    cases: int
    labelled: int
    judge_only: Interval
    humans_only: Interval | None
    ppi: Interval | None
    lam: float | None
    targeted_unused: int = 0
    audit_unlabelled: int = 0
    warning: str | None = None


def _index(records: Iterable[Record]) -> dict[OutputKey, Record]:
    index = {}
    for r in records:
        if r.get("output") is not None:
            index[(str(r["case"]), str(r["variant"]), output_hash(r["output"]))] = r
    return index


def _stage(record: Record, name: str) -> Mapping[str, Any] | None:
    return next((s for s in record["stages"] if s["stage"] == name), None)


def _decided(record: Record, name: str) -> Mapping[str, Any] | None:
    stage = _stage(record, name)
    return stage if stage is not None and stage["status"] in ("passed", "failed") else None


def _votes(
    labels: Sequence[Label], threshold: float | None, stage: str
) -> list[tuple[str, bool]]:
    """(annotator, passed) per label; a score passes when it reaches the threshold."""
    votes = []
    for label in labels:
        if label.passed is not None:
            votes.append((label.annotator, label.passed))
            continue
        if threshold is None:
            raise ValueError(
                f"{label.source}: a score label for {stage!r}, but that stage's threshold is "
                f"unknown; pass thresholds={{{stage!r}: ...}} or label pass/fail"
            )
        assert label.score is not None
        votes.append((label.annotator, label.score >= threshold))
    return votes


def _grouped(
    labels: Iterable[Label], index: Mapping[OutputKey, Record], name: str,
    thresholds: Mapping[str, float],
) -> dict[OutputKey, tuple[list[tuple[str, bool]], list[Label]]]:
    """Current labels of one stage per output the judge decided, with pass/fail votes."""
    groups: dict[OutputKey, list[Label]] = {}
    for label in labels:
        if label.stage == name:
            groups.setdefault((label.case, label.variant, label.output_hash), []).append(label)
    result = {}
    for key, group in groups.items():
        stage = _decided(index[key], name)
        if stage is None:  # the judge did not decide: nothing to compare or estimate
            continue
        threshold = thresholds.get(name, judge_threshold(stage))
        result[key] = (_votes(group, threshold, name), group)
    return result


def calibrate(
    records: Sequence[Record],
    labels: Iterable[Label],
    *,
    thresholds: Mapping[str, float] | None = None,
) -> list[CriterionCalibration]:
    """Agreement between judge and humans per judge stage (see the module docstring).

    Args:
        thresholds: a stage's pass threshold, for score labels when the
            records do not say it.
    """
    match = match_labels(labels, records)
    index = _index(records)
    result = []
    for name in rubric_stages(records):
        grouped = _grouped(match.current, index, name, thresholds or {})
        stale = sum(label.stage == name for label in match.stale)
        result.append(_criterion(name, grouped, index, stale))
    pairwise: dict[str, list[bool]] = {}
    for r in records:
        for s in r["stages"]:
            if is_pairwise(s) and len(s.get("samples") or []) == 2:
                pairwise.setdefault(s["stage"], []).append(s["samples"][0] == s["samples"][1])
    for name, agree in pairwise.items():
        consistency = proportion(sum(agree), len(agree))
        result.append(CriterionCalibration(name, pairwise=True, position_consistency=consistency))
    return result


def _criterion(
    name: str,
    grouped: Mapping[OutputKey, tuple[list[tuple[str, bool]], list[Label]]],
    index: Mapping[OutputKey, Record],
    stale: int,
) -> CriterionCalibration:
    judge: list[bool] = []
    human: list[bool] = []
    ties = 0
    scored: list[tuple[float, float]] = []
    for key, (votes, group) in grouped.items():
        stage = _decided(index[key], name)
        assert stage is not None  # _grouped keeps only decided outputs
        share = sum(v for _, v in votes) / len(votes)
        if share == 0.5:
            ties += 1
            continue
        judge.append(stage["status"] == "passed")
        human.append(share > 0.5)
        scores = [label.score for label in group if label.score is not None]
        if len(scores) == len(group) and stage["score"] is not None:
            scored.append((float(stage["score"]), statistics.median_low(scores)))
    n = len(judge)
    if n == 0:
        return CriterionCalibration(name, ties=ties, stale=stale,
                                    warning="no labelled outputs with a judge verdict")
    accuracy = proportion(sum(j == h for j, h in zip(judge, human, strict=True)), n)
    return CriterionCalibration(
        name,
        labelled=n,
        ties=ties,
        stale=stale,
        accuracy=accuracy,
        true_pass_rate=_rate(judge, human, True),
        true_fail_rate=_rate(judge, human, False),
        kappa=stats.cohen_kappa(judge, human) if n >= 2 else None,
        weighted_kappa=_score_kappa(scored),
        annotator_kappa=light_kappa([votes for votes, _ in grouped.values()]),
        multi_annotated=sum(len({a for a, _ in v}) > 1 for v, _ in grouped.values()),
        warning=_warning(n, accuracy),
    )


def _rate(judge: Sequence[bool], human: Sequence[bool], value: bool) -> Interval | None:
    """Share of outputs the humans gave ``value`` that the judge gave ``value`` too."""
    among = [j for j, h in zip(judge, human, strict=True) if h == value]
    return proportion(sum(j == value for j in among), len(among)) if among else None


def _score_kappa(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Quadratic-weighted kappa of judge vs human scores, both rounded to whole points."""
    if len(pairs) < 2:
        return None
    judge = [math.floor(j + 0.5) for j, _ in pairs]
    human = [math.floor(h + 0.5) for _, h in pairs]
    categories = list(range(min(*judge, *human), max(*judge, *human) + 1))
    return stats.weighted_kappa(judge, human, categories, "quadratic")


def light_kappa(items: Iterable[Sequence[tuple[str, bool]]]) -> float | None:
    """Light's kappa: Cohen's kappa of every annotator pair on the outputs both labelled,
    averaged over pairs with at least two such outputs; ``None`` without any pair."""
    by_annotator: dict[str, dict[int, bool]] = {}
    for i, votes in enumerate(items):
        for annotator, passed in votes:
            by_annotator.setdefault(annotator, {})[i] = passed
    kappas = []
    for a, b in combinations(sorted(by_annotator), 2):
        shared = sorted(by_annotator[a].keys() & by_annotator[b].keys())
        if len(shared) >= 2:
            kappas.append(stats.cohen_kappa([by_annotator[a][i] for i in shared],
                                            [by_annotator[b][i] for i in shared]))
    return statistics.fmean(kappas) if kappas else None


def _warning(n: int, interval: Interval) -> str | None:
    problems = []
    if n < MIN_LABELLED:
        problems.append(f"only {n} labelled (fewer than {MIN_LABELLED})")
    if interval.half_width > MAX_HALF_WIDTH:
        problems.append(f"the accuracy interval is ±{interval.half_width:.2f}")
    if not problems:
        return None
    return " and ".join(problems) + "; label more cases before trusting these numbers"


def calibrated_estimates(
    records: Sequence[Record],
    labels: Iterable[Label],
    review: ReviewSlice | None,
    *,
    thresholds: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> list[Estimate]:
    """Each rubric judge stage's pass rate: judge only, humans only and PPI++.

    The population is the outputs the judge decided (errors and cases that
    never reached the judge are out). Human labels count only for outputs in
    the slice's uniform audit sample, which stays a uniform sample of that
    population; the judge's predictions on every other output are the
    unlabelled part of PPI++ (:func:`stats.ppi_mean_ci`, power-tuned λ).
    Without ``review`` the labels' own ``audit`` flags (the file's column) say
    which outputs were in the audit sample; unlabelled audit outputs then
    cannot be counted.
    """
    labels = list(labels)
    match = match_labels(labels, records)
    index = _index(records)
    if review is not None:
        audit = review.audit_keys()
    else:
        audit = {(x.case, x.variant, x.output_hash) for x in labels if x.audit}
    result = []
    for name in rubric_stages(records):
        decided = {key: _decided(r, name) for key, r in index.items()}
        yhat = {key: float(s["status"] == "passed") for key, s in decided.items() if s}
        judged = {key: index[key] for key in yhat}
        grouped = _grouped(match.current, index, name, thresholds or {})
        human = {key: sum(v for _, v in votes) / len(votes)
                 for key, (votes, _) in grouped.items() if key in judged}
        labelled = sorted(key for key in human if key in audit)
        n, big_n = len(labelled), len(judged)
        if big_n == 0:
            continue
        judge_only = proportion(int(sum(yhat.values())), big_n, 1.0 - alpha)
        y = [human[key] for key in labelled]
        humans_only = _mean_interval(y, alpha) if y else None
        ppi, lam = None, None
        chosen = set(labelled)
        rest = [v for key, v in yhat.items() if key not in chosen]
        if n >= 2 and len(rest) >= 2:
            est, lo, hi, lam = stats.ppi_mean_ci(y, [yhat[k] for k in labelled], rest, alpha)
            ppi = Interval(est, lo, hi)
        missing = sum(key in audit and key not in human for key in judged)
        warning = None
        if n < MIN_LABELLED:
            warning = (f"only {n} audit-sample outputs labelled; label at least "
                       f"{MIN_LABELLED} of the audit sample")
        elif missing:
            warning = (f"{missing} audit-sample outputs have no label; unlabelled audit "
                       "cases can bias the estimate if they are harder than the rest")
        result.append(Estimate(name, big_n, n, judge_only, humans_only, ppi, lam,
                               targeted_unused=len(human) - n, audit_unlabelled=missing,
                               warning=warning))
    return result


def _mean_interval(values: Sequence[float], alpha: float) -> Interval:
    """Wilson for 0/1 values; the normal interval when ties make some values 0.5."""
    total = math.fsum(values)
    if total.is_integer() and all(v in (0.0, 1.0) for v in values):
        return proportion(int(total), len(values), 1.0 - alpha)
    mean, se = stats.mean_and_se(values)
    half = stats.norm_ppf(1.0 - alpha / 2.0) * se
    return Interval(mean, max(0.0, mean - half), min(1.0, mean + half))


# Rendering --------------------------------------------------------------------


def _pct(value: Interval | None) -> str:
    if value is None:
        return "-"
    return f"{value.estimate:.1%} [{value.lo:.1%}, {value.hi:.1%}]"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _agreement_row(c: CriterionCalibration) -> list[str]:
    if c.pairwise:
        return [c.stage, "pairwise", "-", "-", "-", "-", "-", "-", _pct(c.position_consistency)]
    return [c.stage, str(c.labelled), _pct(c.accuracy), _pct(c.true_pass_rate),
            _pct(c.true_fail_rate), _num(c.kappa), _num(c.weighted_kappa),
            _num(c.annotator_kappa), "-"]


AGREEMENT_HEADER = ["stage", "labelled", "accuracy", "true-pass rate", "true-fail rate",
                    "kappa", "weighted kappa", "annotator kappa", "position consistency"]
ESTIMATE_HEADER = ["stage", "labelled / cases", "judge only", "humans only (audit)", "PPI++"]


def _estimate_row(e: Estimate) -> list[str]:
    return [e.stage, f"{e.labelled} / {e.cases}", _pct(e.judge_only), _pct(e.humans_only),
            _pct(e.ppi)]


def effort_line(e: Estimate) -> str:
    """What the labels bought: the interval with humans only versus with PPI++."""
    line = f"{e.stage}: {e.labelled} of {plural(e.cases, 'case')} labelled"
    if e.humans_only is not None and e.ppi is not None:
        line += (f"; with humans only the interval would have been ±{e.humans_only.half_width:.3f}"
                 f", with the judge's help it is ±{e.ppi.half_width:.3f}")
    return line


def _notes(cals: Sequence[CriterionCalibration], ests: Sequence[Estimate]) -> list[str]:
    notes = []
    for c in cals:
        if c.warning:
            notes.append(f"warning: {c.stage}: {c.warning}")
        if c.stale:
            notes.append(f"{c.stage}: {c.stale} stale labels ignored (output changed since)")
        if c.ties:
            ties = plural(c.ties, 'output')
            notes.append(f"{c.stage}: {ties} left out (annotators split evenly)")
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
        return "  " + " | ".join(f"{h}: {_flat(v)}" for h, v in zip(header, row, strict=True)
                                 if v != "-")

    lines = ["judge calibration (95% intervals)"]
    lines += [line(AGREEMENT_HEADER, _agreement_row(c)) for c in cals]
    if ests:
        lines.append("pass rates")
        lines += [line(ESTIMATE_HEADER, _estimate_row(e)) for e in ests]
    return lines + ["  " + _flat(note) for note in _notes(cals, ests)]


def _flat(text: str) -> str:
    """Untrusted text on one terminal line."""
    return " ".join(text.split())


def md_cell(text: object) -> str:
    """One Markdown table cell: no raw ``|``, ``<``, ``>``, backslash or line break."""
    value = _flat(str(text))
    for raw, escaped in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"),
                         ("`", "\\`")):
        value = value.replace(raw, escaped)
    return value


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
        lines += ["", *_md_table(ESTIMATE_HEADER, (_estimate_row(e) for e in ests))]
    notes = _notes(cals, ests)
    if notes:
        lines += ["", *(f"- {md_cell(note)}" for note in notes)]
    return lines
