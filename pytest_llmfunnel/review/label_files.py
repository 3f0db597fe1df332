"""The review file: the human-review slice written out for labellers, their labels read back.

The file (CSV or JSONL) has one row per case and annotator: the case, its
output and why it was chosen, one ``label_<stage>`` column per rubric judge
stage, plus ``annotator`` and ``notes`` (see ``docs/calibration.md``). People
fill it in with a spreadsheet, so the CSV is written to suit one: UTF-8 with a
BOM, every cell quoted, and a cell a spreadsheet would run as a formula prefixed
with ``'`` (removed again on reading). A file saved back with ``;`` or tabs
between cells, or with comma decimals, still reads. A file that cannot be read
raises :class:`ReviewFileError` naming ``file:line`` and the column, so the
labeller can find the cell to fix.

Which cases go into the slice, and whether a label still fits today's output,
is decided in :mod:`pytest_llmfunnel.review.slice`; this module only moves them to and
from files, and holds what ``llmfunnel review export`` runs (``review import``'s text is
rendered by :mod:`pytest_llmfunnel.report.review_import`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.dataset.load import DatasetError, load_dataset
from pytest_llmfunnel.escape import guard_cell as guard_cell  # re-exported
from pytest_llmfunnel.escape import json_text
from pytest_llmfunnel.escape import unguard_cell as unguard_cell  # re-exported
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.review.slice import (
    Comparison,
    Label,
    Record,
    ReviewItem,
    ReviewSlice,
    rubric_stages,
    select_review_slice,
)
from pytest_llmfunnel.wording import plural

FIXED_COLUMNS = (
    "dataset", "case", "variant", "kind", "output_hash", "audit", "inclusion_probability",
    "why_selected", "input", "context", "expected", "output", "compared_with", "output_compared",
)
_TIE = {"tie", "equal", "same", "both", "neither"}
_PASS = {"pass", "passed", "p", "yes", "y", "true", "ok"}
_FAIL = {"fail", "failed", "f", "no", "n", "false"}


class ReviewFileError(ValueError):
    """A review file that cannot be read; the message names file:line and the column."""


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
    rows = []
    for item in review.items:
        if stages:
            rows.append(_row(item, stages, cases_by_id or {}, show_verdicts))
        rows += [_comparison_row(item, c, cases_by_id or {}, show_verdicts)
                 for c in item.comparisons]
    compared = (c.stage.stage for i in review.items for c in i.comparisons)
    names = stages + list(dict.fromkeys(compared))
    columns = list(FIXED_COLUMNS)
    if show_verdicts:
        columns += [c for s in names for c in (f"judge_{s}", f"judge_{s}_reason")]
    columns += [f"label_{s}" for s in names] + ["annotator", "notes", "label_help"]
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([guard_cell(_text(row.get(c))) for c in columns])
        data = buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8
    else:
        lines = [json_text(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False))
                 for row in rows]
        data = "".join(line + "\n" for line in lines).encode("utf-8")
    atomic_write(path, data)
    return path


def _row(
    item: ReviewItem, stages: list[str], cases: Mapping[str, Case], show_verdicts: bool
) -> dict[str, Any]:
    record, case = item.record, cases.get(item.case)
    if case is not None and record.fingerprint not in ("", case.fingerprint()):
        case = None  # another dataset's case of the same id, or a row edited since the run
    by_stage = {s.stage: s for s in record.stages}
    row: dict[str, Any] = {
        "dataset": record.dataset,
        "case": item.case,
        "variant": item.variant,
        "kind": "output",
        "output_hash": item.output_hash,
        "audit": item.audit,
        "inclusion_probability": item.inclusion_probability,
        "why_selected": "; ".join(item.reasons),
        "input": case.input_text() if case else None,
        "context": case.context if case else None,
        "expected": case.expected if case else None,
        "output": record.output,
        "annotator": None,
        "notes": None,
    }
    helps = []
    for name in stages:
        row[f"label_{name}"] = None
        stage = by_stage.get(name)
        threshold = stage.threshold if stage else None
        at = f" (passes at >= {threshold:g})" if threshold is not None else ""
        helps.append(f"label_{name}: pass, fail or a score{at}")
        if show_verdicts:
            score = "" if stage is None or stage.score is None else f" {stage.score:g}"
            row[f"judge_{name}"] = f"{stage.status}{score}" if stage else "not judged"
            row[f"judge_{name}_reason"] = stage.reason if stage else None
    row["label_help"] = "; ".join(helps)
    return row


def _comparison_row(
    item: ReviewItem, c: Comparison, cases: Mapping[str, Case], show_verdicts: bool
) -> dict[str, Any]:
    """One comparison to label: which of two outputs of the same case is better."""
    row = _row(item, [], cases, False)
    name = c.stage.stage
    row.update({
        "kind": "comparison",
        "output_hash": c.output_hash,
        "compared_with": c.other,
        "output_compared": c.other_output,
        f"label_{name}": None,
        "label_help": (f"label_{name}: which output is better: {c.variant} (output), "
                       f"{c.other} (output_compared) or tie"),
    })
    if show_verdicts:
        score = c.stage.score
        winner = c.variant if score and score > 0 else c.other if score and score < 0 else "tie"
        row[f"judge_{name}"] = winner
        row[f"judge_{name}_reason"] = c.stage.reason
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
        compared = _cell(row.get("kind")).lower() == "comparison"
        for column, raw in row.items():
            if not column.startswith("label_") or column == "label_help":
                continue
            value = _cell(raw)
            if not value:
                continue
            at = f"{where}: column {column!r}"
            passed: bool | None
            score: float | None
            if compared:
                passed, score = None, _parse_winner(value, keys["variant"],
                                                    _cell(row.get("compared_with")), at)
            else:
                passed, score = _parse_label(value, at)
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
                                annotator, notes, where, audit, compared))
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


def _parse_winner(value: str, variant: str, other: str, where: str) -> float:
    """A comparison label: +1 when ``variant`` is better, -1 when ``other`` is, 0 for a tie."""
    word = value.strip().lower()
    if word == variant.lower():
        return 1.0
    if word == other.lower():
        return -1.0
    if word in _TIE:
        return 0.0
    raise ReviewFileError(
        f"{where}: {value!r} is not a comparison label; write the better output's variant "
        f"({variant!r} or {other!r}) or tie"
    )


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
            counts = f"{plural(len(cells), 'cell')} but {plural(len(header), 'column')}"
            raise ReviewFileError(f"{path}:{line}: {counts} "
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
    records = [CaseRecord.from_json(c.model_dump()) for c in results.cases]
    flips = [(f.case, f.variant) for f in results.flips]
    review = select_review_slice(records, budget=budget, seed=seed, flips=flips)
    export_review(review, path, cases_by_id=_dataset_cases(records), show_verdicts=show_verdicts)
    return len(review.items)


def _dataset_cases(records: Iterable[Record]) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for name in sorted({r.path for r in records} - {""}):
        try:
            dataset = load_dataset(name)
        except (OSError, DatasetError):
            continue  # the labeller still gets the output; input is best effort
        for case in dataset.cases:
            cases.setdefault(case.id, case)
    return cases
