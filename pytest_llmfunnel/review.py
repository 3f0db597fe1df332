"""The human-review slice: choosing it, exporting it for labellers, importing their labels.

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
silently being applied to a different text. The file (CSV or JSONL) has one
row per case and annotator: one ``label_<stage>`` column per rubric judge
stage, plus ``annotator`` and ``notes`` (see ``docs/calibration.md``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.models import Case

Record = Mapping[str, Any]
Key = tuple[str, str]  # (case id, variant)

# A rubric judge's stage reason starts "score 3.5 < threshold 4: ...".
_DECIDED = re.compile(r"^score (\S+) (?:>=|<) threshold (\S+?):?(?:\s|$)")
SCALE_STEP = 1.0  # judge scales are integer points (pass/fail is 0 and 1)

# How strongly each reason asks for a human look; the sum ranks targeted cases.
WEIGHTS = {"flip": 8.0, "disagree": 4.0, "repeats": 2.0, "orders": 2.0, "unsure": 1.0}


def output_hash(output: str) -> str:
    """The key of a labelled output: sha256 of its UTF-8 text, hex."""
    return hashlib.sha256(output.encode("utf-8")).hexdigest()


def judge_threshold(stage: Mapping[str, Any]) -> float | None:
    """The threshold a rubric judge stage decided with, read from its record's reason."""
    match = _DECIDED.match(str(stage.get("reason") or ""))
    if match is None:
        return None
    try:
        return float(match.group(2))
    except ValueError:
        return None


def is_pairwise(stage: Mapping[str, Any]) -> bool:
    """A pairwise judge stage: a judge that only measures (rubric judges pass or fail)."""
    return stage.get("kind") == "judge" and stage.get("status") == "measured"


def rubric_stages(records: Iterable[Record]) -> list[str]:
    """Names of the rubric judge stages in the records, in first-seen order.

    A stage that measured anywhere is pairwise, even where it errored.
    """
    names: dict[str, None] = {}
    pairwise = set()
    for record in records:
        for stage in record["stages"]:
            if stage["kind"] == "judge":
                names.setdefault(stage["stage"], None)
                if is_pairwise(stage):
                    pairwise.add(stage["stage"])
    return [name for name in names if name not in pairwise]


@dataclass(frozen=True)
class ReviewItem:
    """One case (and variant) chosen for review, and why.

    ``inclusion_probability`` is k/N for audit items and ``None`` for targeted
    ones (chosen by rule, not by chance).
    """

    record: Record
    reasons: tuple[str, ...]
    audit: bool
    inclusion_probability: float | None

    @property
    def case(self) -> str:
        return str(self.record["case"])

    @property
    def variant(self) -> str:
        return str(self.record["variant"])

    @property
    def output_hash(self) -> str:
        return output_hash(self.record["output"])


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
            f"review slice: {len(self.items)} of {self.population} cases "
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
    stages = record["stages"]
    decided = [s for s in stages
               if s["kind"] in ("check", "scorer") and s["status"] in ("passed", "failed")]
    for s in stages:
        if s["kind"] != "judge":
            continue
        name, samples = s["stage"], [float(x) for x in s.get("samples") or []]
        if is_pairwise(s):
            if len(samples) == 2 and samples[0] != samples[1]:
                found.append(("orders", 1.0, f"orders {name}: the two orders disagree"))
            continue
        if s["status"] not in ("passed", "failed"):
            continue
        if len(set(samples)) > 1:
            shown = ", ".join(f"{x:g}" for x in samples)
            found.append(("repeats", 1.0, f"repeats {name}: samples {shown} disagree"))
        threshold, score = judge_threshold(s), s.get("score")
        if threshold is not None and score is not None:
            boundary = threshold - SCALE_STEP / 2 if threshold.is_integer() else threshold
            distance = abs(float(score) - boundary)
            if distance < SCALE_STEP / 2:
                closeness = 1.0 - distance / (SCALE_STEP / 2)
                found.append(
                    ("unsure", closeness,
                     f"unsure {name}: score {float(score):g} near the boundary {boundary:g}")
                )
        judge_passed = s["status"] == "passed"
        for other in decided:
            if (other["status"] == "passed") != judge_passed:
                verb = "passed" if judge_passed else "failed"
                found.append(
                    ("disagree", 1.0,
                     f"disagree {name}: judge {verb}, {other['stage']} {other['status']}")
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
        records: per-case records (see :mod:`pytest_llmfunnel.results`); cases
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
    eligible = [r for r in records if r.get("output") is not None]
    population = len(eligible)
    if population == 0:
        return ReviewSlice((), 0, 0, seed)
    total = _budget_count(budget, population)
    flipped = {(str(c), str(v)) for c, v in flips}
    reasons = {
        i: target_reasons(r, (str(r["case"]), str(r["variant"])) in flipped)
        for i, r in enumerate(eligible)
    }
    candidates = [i for i, found in reasons.items() if found]
    audit_size = total - min(total - round(total * audit_share), len(candidates))
    rng = random.Random(seed)
    audit = set(rng.sample(range(population), audit_size))
    probability = audit_size / population

    def rank(i: int) -> tuple[float, float, str]:
        found = reasons[i]
        weight = sum(WEIGHTS[kind] for kind, _, _ in found)
        closeness = max(c for _, c, _ in found)
        r = eligible[i]
        tiebreak = hashlib.sha256(f"{seed}\0{r['case']}\0{r['variant']}".encode()).hexdigest()
        return (-weight, -closeness, tiebreak)

    targeted = sorted((i for i in candidates if i not in audit), key=rank)
    targeted = targeted[: total - audit_size]
    items = []
    for i in sorted(audit | set(targeted)):
        why = [text for _, _, text in reasons[i]]
        if i in audit:
            why.insert(0, f"audit: uniform random sample (p = {audit_size}/{population})")
        items.append(
            ReviewItem(eligible[i], tuple(why), i in audit, probability if i in audit else None)
        )
    return ReviewSlice(tuple(items), population, audit_size, seed)


@dataclass(frozen=True)
class Label:
    """One annotator's label of one output on one judge stage.

    Exactly one of ``passed`` (a pass/fail label) and ``score`` (a score on the
    judge's scale) is set. ``source`` is ``file:line`` for messages.
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
    hashes: dict[Key, set[str]] = {}
    for r in records:
        if r.get("output") is not None:
            key = (str(r["case"]), str(r["variant"]))
            hashes.setdefault(key, set()).add(output_hash(r["output"]))
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


# Export and import ------------------------------------------------------------

FIXED_COLUMNS = (
    "dataset", "case", "variant", "output_hash", "audit", "inclusion_probability",
    "why_selected", "input", "context", "expected", "output",
)
_TRIGGER = re.compile(r"^'*[=+\-@\t\r]")  # what a spreadsheet may run as a formula
_GUARDED = re.compile(r"^'+[=+\-@\t\r]")
_PASS = {"pass", "passed", "p", "yes", "y", "true", "ok"}
_FAIL = {"fail", "failed", "f", "no", "n", "false"}


class ReviewFileError(ValueError):
    """A review file that cannot be read; the message names file:line and the column."""


def guard_cell(text: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (reversible)."""
    return "'" + text if _TRIGGER.match(text) else text


def unguard_cell(text: str) -> str:
    """Undo :func:`guard_cell`: drop one leading ``'`` before a formula character."""
    return text[1:] if _GUARDED.match(text) else text


def export_review(
    review: ReviewSlice,
    path: str | Path,
    *,
    cases_by_id: Mapping[str, Case] | None = None,
    show_verdicts: bool = False,
) -> Path:
    """Write the slice for labellers as CSV (``.csv``) or JSONL (any other suffix); atomic.

    Args:
        cases_by_id: the dataset's cases, for input, context and expected (left
            empty without them).
        show_verdicts: add the judge's verdicts and reasons (off by default so
            labellers are not anchored by the judge).
    """
    path = Path(path)
    stages = rubric_stages(i.record for i in review.items)
    rows = [_row(i, stages, cases_by_id or {}, show_verdicts) for i in review.items]
    columns = list(FIXED_COLUMNS)
    if show_verdicts:
        columns += [c for s in stages for c in (f"judge_{s}", f"judge_{s}_reason")]
    columns += [f"label_{s}" for s in stages] + ["annotator", "notes", "label_help"]
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([guard_cell(_text(row.get(c))) for c in columns])
        data = buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8
    else:
        lines = [json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) for row in rows]
        data = "".join(line + "\n" for line in lines).encode("utf-8")
    atomic_write(path, data)
    return path


def _row(
    item: ReviewItem, stages: list[str], cases: Mapping[str, Case], show_verdicts: bool
) -> dict[str, Any]:
    record, case = item.record, cases.get(item.case)
    if case is not None and record.get("fingerprint") not in (None, "", case.fingerprint()):
        case = None  # another dataset's case of the same id, or a row edited since the run
    by_stage = {s["stage"]: s for s in record["stages"]}
    row: dict[str, Any] = {
        "dataset": record.get("dataset", ""),
        "case": item.case,
        "variant": item.variant,
        "output_hash": item.output_hash,
        "audit": item.audit,
        "inclusion_probability": item.inclusion_probability,
        "why_selected": "; ".join(item.reasons),
        "input": case.input_text() if case else None,
        "context": case.context if case else None,
        "expected": case.expected if case else None,
        "output": record["output"],
        "annotator": None,
        "notes": None,
    }
    helps = []
    for name in stages:
        row[f"label_{name}"] = None
        stage = by_stage.get(name)
        threshold = judge_threshold(stage) if stage else None
        at = f" (passes at >= {threshold:g})" if threshold is not None else ""
        helps.append(f"label_{name}: pass, fail or a score{at}")
        if show_verdicts:
            score = "" if stage is None or stage["score"] is None else f" {stage['score']:g}"
            row[f"judge_{name}"] = f"{stage['status']}{score}" if stage else "not judged"
            row[f"judge_{name}_reason"] = stage["reason"] if stage else None
    row["label_help"] = "; ".join(helps)
    return row


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def import_labels(path: str | Path) -> list[Label]:
    """Read labels from an exported file that labellers filled in (CSV or JSONL).

    One row per case and annotator; empty label cells are skipped. Raises
    :class:`ReviewFileError` naming ``file:line`` and the column of a bad value,
    and for two rows by the same annotator for the same output.
    """
    path = Path(path)
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    labels: list[Label] = []
    seen: dict[tuple[str, str, str, str, str], str] = {}
    for line, row in rows:
        where = f"{path}:{line}"
        keys = {}
        for column in ("case", "variant", "output_hash"):
            value = _cell(row.get(column))
            if not value:
                raise ReviewFileError(f"{where}: column {column!r} is empty; every row needs "
                                      "the case, variant and output_hash it was exported with")
            keys[column] = value
        digest = keys["output_hash"].removeprefix("sha256:").lower()
        annotator, notes = _cell(row.get("annotator")), _cell(row.get("notes"))
        audit = _cell(row.get("audit")).lower() in ("true", "1", "yes")
        for column, raw in row.items():
            if not column.startswith("label_") or column == "label_help":
                continue
            value = _cell(raw)
            if not value:
                continue
            passed, score = _parse_label(value, f"{where}: column {column!r}")
            stage = column.removeprefix("label_")
            key = (keys["case"], keys["variant"], digest, stage, annotator)
            if key in seen:
                raise ReviewFileError(
                    f"{where}: column {column!r}: annotator {annotator or '(empty)'!r} already "
                    f"labelled this output at {seen[key]}; fill in the annotator column so "
                    "each person's row is distinct, or delete the duplicate"
                )
            seen[key] = where
            labels.append(Label(keys["case"], keys["variant"], digest, stage, passed, score,
                                annotator, notes, where, audit))
    return labels


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip() if not isinstance(value, float) else f"{value:g}"


def _parse_label(value: str, where: str) -> tuple[bool | None, float | None]:
    word = value.lower()
    if word in _PASS:
        return True, None
    if word in _FAIL:
        return False, None
    try:
        score = float(word.replace(",", "."))  # a spreadsheet in a comma-decimal locale
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise ReviewFileError(
            f"{where}: {value!r} is not a label; write pass, fail or a score on the judge's scale"
        )
    return None, score


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReviewFileError(
            f"{path}: not UTF-8 (byte {exc.start}); save it from the spreadsheet as "
            "'CSV UTF-8' (Excel) or with the character set UTF-8 (LibreOffice)"
        ) from None
    first = text.split("\n", 1)[0]
    # A spreadsheet in some locales saves with ';' or tabs.
    delimiter = max(",;\t", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [unguard_cell(c).strip() for c in next(reader)]
    except StopIteration:
        raise ReviewFileError(f"{path}:1: the file is empty; export the review slice again") \
            from None
    except csv.Error as exc:
        raise ReviewFileError(f"{path}:1: {exc}") from None
    rows = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ReviewFileError(f"{path}:{line}: {exc}") from None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            raise ReviewFileError(f"{path}:{line}: {len(cells)} cells but {len(header)} columns "
                                  "in the header; a cell's quotes may be broken")
        rows.append((line, {h: unguard_cell(c) for h, c in zip(header, cells, strict=False)}))
    return rows


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReviewFileError(f"{path}:{number}: not valid JSON ({exc.msg}, column "
                                  f"{exc.colno}); each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise ReviewFileError(f"{path}:{number}: each line must be a JSON object")
        for column, value in row.items():
            if column.startswith("label_") and not isinstance(value, (str, int, float, type(None))):
                raise ReviewFileError(f"{path}:{number}: column {column!r}: {value!r} is not "
                                      "a label; write pass, fail or a score")
        rows.append((number, row))
    return rows


# Command-line entry points ------------------------------------------------------


def export_from_results(
    results: Any, path: str | Path, *, budget: float, seed: int, show_verdicts: bool = False
) -> int:
    """``llmfunnel review export``: choose the slice from a run's JSON results and write it.

    ``results`` is a loaded results document (its ``cases`` and ``flips``).
    Input, context and expected come from the dataset files the records name,
    when they can be read from the current folder; a case whose row changed
    since the run (its fingerprint differs) is exported without them.
    Returns the number of cases written.
    """
    records = [c.model_dump() for c in results.cases]
    flips = [(f.case, f.variant) for f in results.flips]
    review = select_review_slice(records, budget=budget, seed=seed, flips=flips)
    export_review(review, path, cases_by_id=_dataset_cases(records), show_verdicts=show_verdicts)
    return len(review.items)


def _dataset_cases(records: Iterable[Record]) -> dict[str, Case]:
    from pytest_llmfunnel.dataset import DatasetError, load_dataset

    cases: dict[str, Case] = {}
    for name in sorted({str(r.get("path") or "") for r in records} - {""}):
        try:
            dataset = load_dataset(name)
        except (OSError, DatasetError):
            continue  # the labeller still gets the output; input is best effort
        for case in dataset.cases:
            cases.setdefault(case.id, case)
    return cases


def import_review(labels_path: str | Path, results: Any) -> str:
    """``llmfunnel review import``: read labels and report the judge's calibration.

    The audit sample is taken from the file's ``audit`` column, so estimates
    need neither the seed nor the budget of the export.
    """
    from pytest_llmfunnel.calibration import calibrate, calibrated_estimates, calibration_lines

    records = [c.model_dump() for c in results.cases]
    labels = import_labels(labels_path)
    lines = [match_labels(labels, records).summary()]
    estimates = calibrated_estimates(records, labels, None)
    return "\n".join([*lines, *calibration_lines(calibrate(records, labels), estimates)])
