"""How far the judge can be trusted, measured against human labels, and what that buys.

Two questions, answered per judge stage:

* **Agreement** (:func:`calibrate`): on the outputs humans labelled, how often
  does the judge agree with them (accuracy, true-pass and true-fail rates,
  Cohen's kappa, Krippendorff's alpha nominal and ordinal, quadratic-weighted
  kappa for scores), how much do the humans agree with each other, and, for a
  pairwise judge, how often it picks the output people prefer and how often
  both orders agree (position consistency, counted per comparison). Every
  figure has its 95% interval (Wilson for shares, a seeded bootstrap over the
  labelled items for kappa and alpha; see :mod:`pytest_llmfunnel.review.agreement`).
  Every labelled output counts here, audit or targeted: agreement is a
  property of the judge, and targeted outputs are where it is tested hardest
  (so these numbers lean pessimistic; see ``docs/calibration.md``). A judge
  whose agreement is poor (kappa's interval reaches 0, or accuracy below the
  floor) carries a ``distrust`` reason that the reports put first.
* **Estimates** (:func:`calibrated_estimates`): the pass rate of the judged
  outputs, from the judge alone, from the humans alone, and from the humans
  with the judge's help (:mod:`pytest_llmfunnel.review.calibrated_rate`), which
  corrects the judge on all outputs by its error measured on the **uniform
  audit sample only**. Targeted labels are not used there: they are not a
  random sample, and averaging them in would bias the estimate. The
  judge-aided interval is reported only where it is narrower than the
  humans-only one.

Humans' labels of one output are combined by majority (a score label counts
as a pass when it reaches the judge's threshold); an even split is a tie and
is left out of agreement numbers, while estimates use the share of annotators
who passed it (a tie counts 0.5), which keeps them unbiased. Comparison labels
(which of two outputs is better, or a tie) are combined the same way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from pytest_llmfunnel import stats
from pytest_llmfunnel.record import StageRecord
from pytest_llmfunnel.review import agreement
from pytest_llmfunnel.review.agreement import Interval, distrust, proportion, with_interval
from pytest_llmfunnel.review.slice import (
    Comparison,
    Label,
    LabelMatch,
    Record,
    comparisons,
    match_labels,
    output_hash,
    rubric_stages,
)

MIN_LABELLED = 30
MAX_HALF_WIDTH = 0.15
# Below 70% agreement the judge's pass/fail is wrong for nearly one output in three.
ACCURACY_FLOOR = 0.7
OutputKey = tuple[str, str, str]  # case, variant, output hash (a pair hash for comparisons)


@dataclass(frozen=True)
class CriterionCalibration:
    """Judge-versus-human agreement on one judge stage.

    ``labelled`` counts outputs (comparisons, for a pairwise judge) with a
    human majority and a judge decision; ``ties`` those whose annotators split
    evenly (left out). Figures are ``None`` when there is nothing to compute
    them from. ``distrust`` says why the judge should not be trusted, if so.
    """

    stage: str
    labelled: int = 0
    ties: int = 0
    stale: int = 0
    accuracy: Interval | None = None
    true_pass_rate: Interval | None = None
    true_fail_rate: Interval | None = None
    kappa: Interval | None = None
    alpha_nominal: Interval | None = None
    alpha_ordinal: Interval | None = None
    weighted_kappa: Interval | None = None
    annotator_kappa: Interval | None = None
    multi_annotated: int = 0
    pairwise: bool = False
    comparisons: int = 0
    position_consistency: Interval | None = None
    warning: str | None = None
    distrust: str | None = None


def index_outputs(records: Iterable[Record]) -> dict[OutputKey, Record]:
    index = {}
    for r in records:
        if r.output is not None:
            index[(r.case, r.variant, output_hash(r.output))] = r
    return index


def decided_stage(record: Record, name: str) -> StageRecord | None:
    stage = record.stage(name)
    return stage if stage is not None and stage.decided else None


def _votes(labels: Sequence[Label], threshold: float | None, stage: str) -> list[tuple[str, bool]]:
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


def grouped_labels(
    labels: Iterable[Label], index: Mapping[OutputKey, Record], name: str,
    thresholds: Mapping[str, float],
) -> dict[OutputKey, tuple[list[tuple[str, bool]], list[Label]]]:
    """Current labels of one stage per output the judge decided, with pass/fail votes."""
    groups: dict[OutputKey, list[Label]] = {}
    for label in labels:
        if label.stage == name and not label.comparison:
            groups.setdefault((label.case, label.variant, label.output_hash), []).append(label)
    result = {}
    for key, group in groups.items():
        record = index.get(key)
        stage = decided_stage(record, name) if record is not None else None
        if stage is None:  # the judge did not decide: nothing to compare or estimate
            continue
        threshold = thresholds.get(name, stage.threshold)
        result[key] = (_votes(group, threshold, name), group)
    return result


def calibrate(
    records: Sequence[Record],
    labels: Iterable[Label],
    *,
    thresholds: Mapping[str, float] | None = None,
    accuracy_floor: float = ACCURACY_FLOOR,
    seed: int = 0,
) -> list[CriterionCalibration]:
    """Agreement between judge and humans per judge stage (see the module docstring).

    Args:
        thresholds: a stage's pass threshold, for score labels when the
            records do not say it.
        accuracy_floor: below this accuracy a judge is flagged as not trusted.
        seed: seeds the bootstrap intervals.
    """
    labels = list(labels)
    match = match_labels(labels, records)
    index = index_outputs(records)
    result = []
    for name in rubric_stages(records):
        grouped = grouped_labels(match.current, index, name, thresholds or {})
        stale = sum(label.stage == name for label in match.stale)
        result.append(_criterion(name, grouped, index, stale, accuracy_floor, seed))
    result += _pairwise(comparisons(records), match, accuracy_floor, seed)
    return result


def _criterion(
    name: str,
    grouped: Mapping[OutputKey, tuple[list[tuple[str, bool]], list[Label]]],
    index: Mapping[OutputKey, Record],
    stale: int,
    floor: float,
    seed: int,
) -> CriterionCalibration:
    pairs: list[tuple[Hashable, Hashable]] = []  # (judge passed, human majority passed)
    ties = 0
    scored: list[tuple[Hashable, Hashable]] = []
    for key, (votes, group) in grouped.items():
        stage = decided_stage(index[key], name)
        assert stage is not None  # grouped_labels keeps only decided outputs
        share = sum(v for _, v in votes) / len(votes)
        if share == 0.5:
            ties += 1
            continue
        pairs.append((stage.status == "passed", share > 0.5))
        scores = [label.score for label in group if label.score is not None]
        if len(scores) == len(group) and stage.score is not None:
            scored.append((math.floor(stage.score + 0.5),
                           math.floor(statistics.median_low(scores) + 0.5)))
    n = len(pairs)
    if n == 0:
        return CriterionCalibration(name, ties=ties, stale=stale,
                                    warning="no labelled outputs with a judge verdict")
    accuracy = proportion(sum(j == h for j, h in pairs), n)
    kappa = with_interval(pairs, agreement.kappa_of_pairs, seed)
    return CriterionCalibration(
        name,
        labelled=n,
        ties=ties,
        stale=stale,
        accuracy=accuracy,
        true_pass_rate=_rate(pairs, True),
        true_fail_rate=_rate(pairs, False),
        kappa=kappa,
        alpha_nominal=with_interval(pairs, _alpha_nominal, seed),
        alpha_ordinal=with_interval(scored, _alpha_ordinal, seed) if scored else None,
        weighted_kappa=with_interval(scored, _score_kappa, seed) if scored else None,
        annotator_kappa=_annotators(grouped, seed),
        multi_annotated=sum(len({a for a, _ in v}) > 1 for v, _ in grouped.values()),
        warning=_warning(n, accuracy),
        distrust=distrust(kappa, accuracy, floor),
    )


def _alpha_nominal(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    return agreement.krippendorff_alpha(pairs, "nominal")


def _alpha_ordinal(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    return agreement.krippendorff_alpha(pairs, "ordinal")


def _rate(pairs: Sequence[tuple[Hashable, Hashable]], value: bool) -> Interval | None:
    """Share of outputs the humans gave ``value`` that the judge gave ``value`` too."""
    among = [j for j, h in pairs if h == value]
    return proportion(sum(j == value for j in among), len(among)) if among else None


def _score_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    """Quadratic-weighted kappa of judge vs human scores (whole points)."""
    if len(pairs) < 2:
        return None
    values = [int(v) for pair in pairs for v in pair]  # type: ignore[call-overload]
    categories = list(range(min(values), max(values) + 1))
    if len(categories) < 2:
        return None
    return stats.weighted_kappa([j for j, _ in pairs], [h for _, h in pairs], categories,
                                "quadratic")


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


def _annotators(
    grouped: Mapping[OutputKey, tuple[list[tuple[str, bool]], list[Label]]], seed: int
) -> Interval | None:
    items = [votes for votes, _ in grouped.values()]
    return with_interval(items, light_kappa, seed)


def _warning(n: int, interval: Interval) -> str | None:
    problems = []
    if n < MIN_LABELLED:
        problems.append(f"only {n} labelled (fewer than {MIN_LABELLED})")
    if interval.half_width > MAX_HALF_WIDTH:
        problems.append(f"the accuracy interval is ±{interval.half_width:.2f}")
    if not problems:
        return None
    return " and ".join(problems) + "; label more cases before trusting these numbers"


def _pairwise(
    found: Sequence[Comparison], match: LabelMatch, floor: float, seed: int
) -> list[CriterionCalibration]:
    """Agreement of each pairwise judge stage, one entry per comparison (never per record).

    The judge's view of a comparison is its score from the first variant's
    side (+1 it wins, -1 it loses, 0 a tie or orders that disagree); people's
    is the majority of their comparison labels on the same two outputs.
    """
    by_stage: dict[str, list[Comparison]] = {}
    for c in found:
        by_stage.setdefault(c.stage.stage, []).append(c)
    votes: dict[tuple[str, str, str, str], list[float]] = {}
    for label in match.current:
        if label.comparison and label.score is not None:
            key = (label.stage, label.case, label.variant, label.output_hash)
            votes.setdefault(key, []).append(label.score)
    stale: dict[str, int] = {}
    for label in match.stale:
        if label.comparison:
            stale[label.stage] = stale.get(label.stage, 0) + 1
    result = []
    for name, found_here in by_stage.items():
        consistent = [c.stage.samples[0] == c.stage.samples[1] for c in found_here]
        pairs: list[tuple[Hashable, Hashable]] = []  # (judge, human) in {-1, 0, 1}
        ties = 0
        for c in found_here:
            cast = votes.get((name, c.case, c.variant, c.output_hash))
            if not cast:
                continue
            winner = statistics.multimode(cast)
            if len(winner) > 1:
                ties += 1  # annotators split evenly between two answers
                continue
            pairs.append((_sign(c.stage.score), _sign(winner[0])))
        accuracy = proportion(sum(j == h for j, h in pairs), len(pairs)) if pairs else None
        kappa = with_interval(pairs, agreement.kappa_of_pairs, seed) if pairs else None
        result.append(CriterionCalibration(
            name, labelled=len(pairs), ties=ties, stale=stale.get(name, 0), accuracy=accuracy,
            kappa=kappa,
            alpha_nominal=with_interval(pairs, _alpha_nominal, seed) if pairs else None,
            alpha_ordinal=with_interval(pairs, _alpha_ordinal, seed) if pairs else None,
            pairwise=True, comparisons=len(found_here),
            position_consistency=proportion(sum(consistent), len(consistent)),
            warning=_warning(len(pairs), accuracy) if accuracy is not None else None,
            distrust=distrust(kappa, accuracy, floor),
        ))
    return result


def _sign(value: Any) -> int:
    number = float(value or 0.0)
    return (number > 0) - (number < 0)
