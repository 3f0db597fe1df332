"""The human-review slice: which cases people should label, and which labels still apply.

The slice has two parts with different jobs:

* a **uniform random audit sample** (seeded; every case has the same recorded
  inclusion probability k/N). Only these labels feed the human-calibrated
  estimates, because only a uniform sample says something unbiased about all
  cases;
* **targeted** cases, where a human look is most informative: an unsure judge,
  repeats or pairwise orders that disagree, the judge disagreeing with a
  check or threshold scorer, and cases that flipped against the baseline.
  They sharpen the agreement numbers and catch bugs, but are never averaged
  into an estimate as if they were typical.

Labels are keyed by case id, variant and the sha256 of the labelled output, so
a label whose output has changed since is recognised as **stale** instead of
silently being applied to a different text. Writing the slice to a file and
reading the labels back is :mod:`pytest_llmfunnel.review.label_files`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_llmfunnel.record import CaseRecord, StageRecord
from pytest_llmfunnel.wording import plural

Record = CaseRecord
Key = tuple[str, str]  # (case id, variant)

SCALE_STEP = 1.0  # judge scales are integer points (pass/fail is 0 and 1)

# How strongly each reason asks for a human look; the sum ranks targeted cases.
WEIGHTS = {"flip": 8.0, "disagree": 4.0, "repeats": 2.0, "orders": 2.0, "unsure": 1.0}


def output_hash(output: str) -> str:
    """The key of a labelled output: sha256 of its UTF-8 text, hex."""
    return hashlib.sha256(output.encode("utf-8")).hexdigest()


def leads(record: Record, stage: StageRecord) -> bool:
    """Whether ``record`` holds the comparison itself rather than its mirror.

    A comparison is written to both variants' records (each from its own point
    of view); counting it once means counting it on the record of the variant
    it was made from, the first of its ``pair``.
    """
    return stage.pair is None or stage.pair[0] == record.variant


def pair_hash(first: str, second: str) -> str:
    """The key of a labelled comparison: sha256 of both outputs, in the order compared."""
    return hashlib.sha256(json.dumps([first, second]).encode("utf-8")).hexdigest()


class _OfRecord:
    """The case and variant of something that sits on one per-case record."""

    record: Record

    @property
    def case(self) -> str:
        return self.record.case

    @property
    def variant(self) -> str:
        return self.record.variant


@dataclass(frozen=True)
class Comparison(_OfRecord):
    """One pairwise comparison, counted once: its stage on the leading record, and the outputs."""

    record: Record
    stage: StageRecord
    other: str  # the variant compared with
    other_output: str

    @property
    def output_hash(self) -> str:
        return pair_hash(str(self.record.output), self.other_output)


def comparisons(records: Iterable[Record]) -> list[Comparison]:
    """Every pairwise comparison the judge made, once each, in record order.

    Only comparisons judged in both orders count: walkovers (one side was
    dropped, so it lost without a request) and errors are not the judge's view.
    """
    records = list(records)
    outputs = {(r.dataset, r.case, r.variant): r.output for r in records}
    found = []
    for r in records:
        if r.output is None:
            continue
        for s in r.stages:
            if s.pair is None or not leads(r, s) or len(s.samples) != 2:
                continue
            other = outputs.get((r.dataset, r.case, s.pair[1]))
            if other is not None:
                found.append(Comparison(r, s, s.pair[1], other))
    return found


def rubric_stages(records: Iterable[Record]) -> list[str]:
    """Names of the rubric judge stages in the records, in first-seen order.

    A stage with a ``pair`` anywhere is a pairwise one, even where it errored.
    """
    names: dict[str, None] = {}
    pairwise = set()
    for record in records:
        for stage in record.stages:
            if stage.kind == "judge":
                names.setdefault(stage.stage, None)
                if stage.pairwise:
                    pairwise.add(stage.stage)
    return [name for name in names if name not in pairwise]


@dataclass(frozen=True)
class ReviewItem(_OfRecord):
    """One case (and variant) chosen for review, and why.

    ``inclusion_probability`` is k/N for audit items and ``None`` for targeted
    ones (chosen by rule, not by chance).
    """

    record: Record
    reasons: tuple[str, ...]
    audit: bool
    inclusion_probability: float | None
    comparisons: tuple[Comparison, ...] = ()  # the comparisons this record leads

    @property
    def output_hash(self) -> str:
        return output_hash(str(self.record.output))


@dataclass(frozen=True)
class ReviewSlice:
    """The chosen cases; ``population`` N eligible cases, ``audit_size`` k sampled uniformly."""

    items: tuple[ReviewItem, ...]
    population: int
    audit_size: int
    seed: int

    @property
    def audit_items(self) -> tuple[ReviewItem, ...]:
        return tuple(i for i in self.items if i.audit)

    @property
    def targeted_items(self) -> tuple[ReviewItem, ...]:
        return tuple(i for i in self.items if not i.audit)

    def audit_keys(self) -> set[tuple[str, str, str]]:
        """(case, variant, output hash) of every output in the uniform audit sample."""
        return {(i.case, i.variant, i.output_hash) for i in self.items if i.audit}

    def summary(self) -> str:
        return (
            f"review slice: {len(self.items)} of {plural(self.population, 'case')} "
            f"({self.audit_size} uniform audit, p = {self.audit_size}/{self.population}; "
            f"{len(self.targeted_items)} targeted), seed {self.seed}"
        )


def target_reasons(record: Record, flipped: bool = False) -> list[tuple[str, float, str]]:
    """Why one record deserves a human look: ``(kind, closeness 0..1, text)`` per reason.

    *unsure*: the judge's score lies less than half a scale step from the
    decision boundary. With integer scores and an integer threshold t the
    boundary sits between t - 1 and t (at t - 0.5), so a single integer score
    is never unsure by itself; averaged repeats such as 3.5 against 4 are. A
    fractional threshold is its own boundary.
    """
    found: list[tuple[str, float, str]] = []
    if flipped:
        found.append(("flip", 1.0, "flip: the verdict changed against the baseline"))
    stages = record.stages
    decided = [s for s in stages if s.kind in ("check", "scorer") and s.decided]
    for s in stages:
        if s.kind != "judge":
            continue
        name, samples = s.stage, s.samples
        if s.pairwise:
            if not leads(record, s):
                continue  # the comparison is targeted once, on the record it was made from
            if len(samples) == 2 and samples[0] != samples[1]:
                found.append(("orders", 1.0, f"orders {name}: the two orders disagree"))
            continue
        if not s.decided:
            continue
        if len(set(samples)) > 1:
            shown = ", ".join(f"{x:g}" for x in samples)
            found.append(("repeats", 1.0, f"repeats {name}: samples {shown} disagree"))
        threshold, score = s.threshold, s.score
        if threshold is not None and score is not None:
            boundary = threshold - SCALE_STEP / 2 if threshold.is_integer() else threshold
            distance = abs(float(score) - boundary)
            if distance < SCALE_STEP / 2:
                closeness = 1.0 - distance / (SCALE_STEP / 2)
                found.append(
                    ("unsure", closeness,
                     f"unsure {name}: score {float(score):g} near the boundary {boundary:g}")
                )
        judge_passed = s.status == "passed"
        for other in decided:
            if (other.status == "passed") != judge_passed:
                verb = "passed" if judge_passed else "failed"
                found.append(
                    ("disagree", 1.0,
                     f"disagree {name}: judge {verb}, {other.stage} {other.status}")
                )
                break
    return found


def _budget_count(budget: float, population: int) -> int:
    if not budget > 0 or not math.isfinite(budget):
        raise ValueError(f"review budget must be a positive share below 1 or a count, got {budget}")
    count = max(1, round(budget * population)) if budget < 1 else int(budget)
    return min(count, population)


def select_review_slice(
    records: Iterable[Record],
    *,
    budget: float,
    seed: int,
    flips: Iterable[tuple[str, str]] = (),
    audit_share: float = 0.5,
) -> ReviewSlice:
    """Choose the cases humans should label; deterministic for a seed.

    Args:
        records: per-case records (see :mod:`pytest_llmfunnel.record`); cases
            without an output cannot be labelled and are left out.
        budget: below 1 a share of the cases, otherwise a count.
        seed: seeds the audit sample and tie-breaks.
        flips: ``(case, variant)`` pairs whose verdict changed against the baseline.
        audit_share: the part of the budget kept for the uniform audit sample.
            When fewer targeted cases exist than their share, the audit sample
            grows to use the budget (its size is fixed before it is drawn, so
            the inclusion probability k/N stays exact).
    """
    if not 0.0 <= audit_share <= 1.0:
        raise ValueError(f"audit_share must lie in [0, 1], got {audit_share}")
    records = list(records)
    led: dict[int, list[Comparison]] = {}
    for c in comparisons(records):
        led.setdefault(id(c.record), []).append(c)
    eligible = [r for r in records if r.output is not None and _labellable(r)]
    population = len(eligible)
    if population == 0:
        return ReviewSlice((), 0, 0, seed)
    total = _budget_count(budget, population)
    flipped = {(str(c), str(v)) for c, v in flips}
    reasons = {
        i: target_reasons(r, (r.case, r.variant) in flipped)
        for i, r in enumerate(eligible)
    }
    candidates = [i for i, found in reasons.items() if found]
    if total >= population:  # a census: every output labelled, all of it the audit sample
        audit_size = population
    else:
        audit_size = total - min(total - round(total * audit_share), len(candidates))
    rng = random.Random(seed)
    audit = set(rng.sample(range(population), audit_size))
    probability = audit_size / population

    def rank(i: int) -> tuple[float, float, str]:
        found = reasons[i]
        weight = sum(WEIGHTS[kind] for kind, _, _ in found)
        closeness = max(c for _, c, _ in found)
        r = eligible[i]
        tiebreak = hashlib.sha256(f"{seed}\0{r.case}\0{r.variant}".encode()).hexdigest()
        return (-weight, -closeness, tiebreak)

    targeted = sorted((i for i in candidates if i not in audit), key=rank)
    targeted = targeted[: total - audit_size]
    chosen = audit | set(targeted)
    # Flagged cases the audit sample drew leave their targeted slots free: fill
    # them by chance, so the slice has the size asked for.
    rest = [i for i in range(population) if i not in chosen]
    fill = set(rng.sample(rest, min(total - len(chosen), len(rest))))
    items = []
    for i in sorted(chosen | fill):
        why = [text for _, _, text in reasons[i]]
        if i in audit:
            why.insert(0, f"audit: uniform random sample (p = {audit_size}/{population})")
        elif i in fill:
            why.insert(0, "fill: a random case in a slot left free by a flagged case that "
                          "the audit sample drew")
        items.append(ReviewItem(eligible[i], tuple(why), i in audit,
                                probability if i in audit else None,
                                tuple(led.get(id(eligible[i]), ()))))
    return ReviewSlice(tuple(items), population, audit_size, seed)


def _labellable(record: Record) -> bool:
    """False for a record whose only judge stages are mirrors of comparisons made elsewhere."""
    judges = [s for s in record.stages if s.kind == "judge"]
    return not judges or any(not s.pairwise or leads(record, s) for s in judges)


@dataclass(frozen=True)
class Label:
    """One annotator's label of one output (or one comparison) on one judge stage.

    Exactly one of ``passed`` (a pass/fail label) and ``score`` (a score on the
    judge's scale) is set. A ``comparison`` label is about two outputs (its
    ``output_hash`` is :func:`pair_hash`): ``score`` is +1 when ``variant``'s
    output is better, -1 when the other one is, 0 for a tie, the same scale
    as the pairwise judge's score. ``source`` is ``file:line`` for messages.
    """

    case: str
    variant: str
    output_hash: str
    stage: str
    passed: bool | None
    score: float | None
    annotator: str
    notes: str = ""
    source: str = ""
    audit: bool = False  # the row's ``audit`` column: exported as part of the audit sample
    comparison: bool = False


@dataclass(frozen=True)
class LabelMatch:
    """Labels sorted against the current records.

    *current*: the labelled output is the record's output now. *stale*: the
    output changed since labelling (its hash differs), so the label says
    nothing about today's output. *unknown*: no record has that case and variant.
    """

    current: tuple[Label, ...]
    stale: tuple[Label, ...]
    unknown: tuple[Label, ...]

    def summary(self) -> str:
        line = f"labels: {len(self.current)} current, {len(self.stale)} stale"
        if self.stale:
            line += " (the output changed since labelling; export again and re-label them)"
        if self.unknown:
            line += f", {len(self.unknown)} for cases not in this run"
        return line


def match_labels(labels: Iterable[Label], records: Iterable[Record]) -> LabelMatch:
    """Split labels into current, stale and unknown by case, variant and output hash."""
    records = list(records)
    hashes: dict[Key, set[str]] = {}
    for r in records:
        if r.output is not None:
            hashes.setdefault((r.case, r.variant), set()).add(output_hash(r.output))
    for c in comparisons(records):
        hashes.setdefault((c.case, c.variant), set()).add(c.output_hash)
    current, stale, unknown = [], [], []
    for label in labels:
        known = hashes.get((label.case, label.variant))
        if known is None:
            unknown.append(label)
        elif label.output_hash in known:
            current.append(label)
        else:
            stale.append(label)
    return LabelMatch(tuple(current), tuple(stale), tuple(unknown))
