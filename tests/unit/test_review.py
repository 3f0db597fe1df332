"""Choosing, exporting and importing the human-review slice."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.models import Case
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.review.label_files import (
    ReviewFileError,
    export_review,
    guard_cell,
    import_labels,
    unguard_cell,
)
from pytest_llmfunnel.review.slice import (
    ReviewSlice,
    match_labels,
    output_hash,
    rubric_stages,
    select_review_slice,
    target_reasons,
)
from tests.support.sample_records import record_fields


def judge(name: str = "faith", score: float = 5.0, threshold: float = 4.0,
          samples: list[float] | None = None, status: str | None = None) -> dict[str, Any]:
    passed = score >= threshold
    return {
        "stage": name, "kind": "judge", "status": status or ("passed" if passed else "failed"),
        "gating": False, "must": False, "score": score,
        "samples": samples if samples is not None else [score],
        "reason": f"score {score:g} {'>=' if passed else '<'} threshold {threshold:g}: fine",
        "threshold": threshold, "scale": [1.0, 5.0],
    }


def scorer(name: str, status: str) -> dict[str, Any]:
    return {"stage": name, "kind": "scorer", "status": status, "gating": True, "must": False,
            "score": 0.5, "samples": [], "reason": ""}


def pairwise(samples: list[float]) -> dict[str, Any]:
    return {"stage": "versus", "kind": "judge", "status": "measured", "gating": False,
            "must": False, "score": 0.0, "samples": samples, "reason": "tie",
            "pair": ["default", "other"]}


def record_data(case: str, *stages: dict[str, Any], output: str | None = None,
                variant: str = "default") -> dict[str, Any]:
    return record_fields({"case": case, "variant": variant,
                          "output": f"answer to {case}" if output is None else output,
                          "stages": list(stages)})


def record(case: str, *stages: dict[str, Any], output: str | None = None,
           variant: str = "default") -> CaseRecord:
    return CaseRecord.from_json(record_data(case, *stages, output=output, variant=variant))


def plain(n: int) -> list[CaseRecord]:
    """n records the judge is sure about: nothing to target."""
    return [record(f"c{i:03d}", judge()) for i in range(n)]


# Reasons -------------------------------------------------------------------


def test_rubric_stages_leave_out_pairwise_ones_even_where_they_errored() -> None:
    errored = {**pairwise([]), "status": "error"}
    records = [record("a", errored, judge("tone")), record("b", pairwise([1.0, 1.0]),
                                                           judge("faith"))]
    assert rubric_stages(records) == ["tone", "faith"]


def test_the_threshold_is_the_records_field_whatever_the_reason_says() -> None:
    """The reason is text for people; the slice reads the threshold the stage decided with."""
    # A reason in another shape (a reused baseline verdict) hides nothing...
    reused = "baseline verdict reused (same judge): score 3.5 < threshold 4"
    unsure = record("a", {**judge(score=3.5, samples=[3.5], threshold=4.0), "reason": reused})
    assert kinds(unsure) == ["unsure"]
    # ...and one that names another threshold adds nothing.
    fooling = "score 5 >= threshold 5.25: the answer is hedged"
    sure = record("a", {**judge(score=5.0, threshold=4.0), "reason": fooling})
    assert sure.stages[0].threshold == 4.0
    assert kinds(sure) == []
    # No threshold on the record (a measuring stage): never unsure, whatever the text.
    silent = record("a", {**judge(score=3.5, samples=[3.5]), "threshold": None,
                          "reason": "score 3.5 < threshold 4"})
    assert kinds(silent) == []
    plain_records = [record(f"c{i}", judge(score=5.0 if i % 3 else 3.5, samples=[3.5]))
                     for i in range(30)]
    fooled = [replace(r, stages=(replace(r.stages[0], reason=fooling if i % 2 else reused),))
              for i, r in enumerate(plain_records)]
    want = select_review_slice(plain_records, budget=6, seed=2)
    got = select_review_slice(fooled, budget=6, seed=2)
    assert want.targeted_items
    assert [(i.case, i.reasons) for i in got.items] == [(i.case, i.reasons) for i in want.items]


def test_a_stage_is_pairwise_by_its_pair_not_by_its_status() -> None:
    # A rubric judge that only measured (no pair) is not a comparison; a compared
    # stage that errored (pair, status error) still is.
    measured = {**judge(), "status": "measured", "threshold": None}
    errored = {**pairwise([]), "status": "error"}
    records = [record("a", measured), record("b", errored)]
    assert rubric_stages(records) == ["faith"]
    assert not record("a", measured).stages[0].pairwise


def kinds(rec: CaseRecord, flipped: bool = False) -> list[str]:
    return [kind for kind, _, _ in target_reasons(rec, flipped)]


def test_unsure_means_within_half_a_step_of_the_decision_boundary() -> None:
    assert kinds(record("a", judge(score=3.5, samples=[3, 4]))) == ["repeats", "unsure"]
    assert kinds(record("a", judge(score=3.67, samples=[3.67]))) == ["unsure"]
    # Single integer scores next to an integer threshold are decided, not unsure.
    assert kinds(record("a", judge(score=4))) == []
    assert kinds(record("a", judge(score=3))) == []
    # A fractional threshold is its own boundary.
    assert kinds(record("a", judge(score=3, threshold=3.25))) == ["unsure"]
    closeness = {c for _, c, _ in target_reasons(record("a", judge(score=3.5, samples=[3.5])))}
    assert closeness == {1.0}


def test_disagreements_orders_and_flips_are_reasons() -> None:
    rec = record("a", scorer("length", "failed"), judge(score=5))
    assert kinds(rec) == ["disagree"]
    assert "judge passed, length failed" in target_reasons(rec)[0][2]
    assert kinds(record("a", scorer("length", "passed"), judge(score=2))) == ["disagree"]
    assert kinds(record("a", scorer("length", "passed"), judge(score=5))) == []
    assert kinds(record("a", pairwise([1.0, -1.0]))) == ["orders"]
    assert kinds(record("a", pairwise([1.0, 1.0]))) == []
    assert kinds(record("a", judge(score=5)), flipped=True) == ["flip"]
    errored = judge(score=3.5, samples=[3, 4], status="error")
    assert kinds(record("a", errored)) == []


# Selection -----------------------------------------------------------------


def test_budget_share_and_count_and_audit_split() -> None:
    records = plain(100)
    for i in range(0, 40, 2):
        records[i] = record(f"c{i:03d}", judge(score=3.5, samples=[3, 4]))
    review = select_review_slice(records, budget=0.2, seed=1)
    assert len(review.items) <= 20 and review.audit_size == 10
    assert all(i.inclusion_probability == pytest.approx(0.1) for i in review.audit_items)
    assert all(i.inclusion_probability is None for i in review.targeted_items)
    assert all(any(r.startswith("repeats") for r in i.reasons) for i in review.targeted_items)
    # Every candidate not drawn into the audit sample is targeted while budget lasts.
    assert len(review.targeted_items) == 10
    assert len(select_review_slice(records, budget=7, seed=1).items) <= 7
    assert select_review_slice(records, budget=1000, seed=1).population == 100


def test_audit_grows_when_few_cases_need_a_look() -> None:
    records = plain(50)
    records[3] = record("c003", judge(score=5), output="changed")
    review = select_review_slice(records, budget=10, seed=0, flips=[("c003", "default")])
    assert review.audit_size == 9
    assert len(review.items) in (9, 10)
    flipped = [i for i in review.items if i.case == "c003"]
    assert flipped and "flip" in flipped[0].reasons[-1]


def test_targeted_cases_are_ranked_flips_first() -> None:
    records = [record(f"u{i}", judge(score=3.5, samples=[3.5])) for i in range(10)]
    records += [record("flipped", judge(score=5)), record("both", scorer("s", "failed"),
                                                            judge(score=5))]
    flips = [("flipped", "default")]
    review = select_review_slice(records, budget=2, seed=0, audit_share=0.0, flips=flips)
    assert {i.case for i in review.items} == {"flipped", "both"}
    assert len(select_review_slice(records, budget=3, seed=0, audit_share=0.0).items) == 3
    # Reasons add up: a flipped case that is also unsure outranks a plain flip.
    review = select_review_slice(records, budget=2, seed=0, audit_share=0.0,
                                 flips=[*flips, ("u4", "default")])
    assert {i.case for i in review.items} == {"u4", "flipped"}


def test_selection_is_deterministic_for_a_seed() -> None:
    records = plain(200)
    a = select_review_slice(records, budget=0.1, seed=7)
    b = select_review_slice(list(records), budget=0.1, seed=7)
    c = select_review_slice(records, budget=0.1, seed=8)
    assert [(i.case, i.reasons) for i in a.items] == [(i.case, i.reasons) for i in b.items]
    assert [i.case for i in a.items] != [i.case for i in c.items]


def test_audit_sample_is_uniform() -> None:
    records = plain(20)
    counts: Counter[str] = Counter()
    for seed in range(2000):
        counts.update(i.case for i in select_review_slice(records, budget=5, seed=seed,
                                                          audit_share=1.0).items)
    # Each case: 2000 draws at p = 0.25, sd ≈ 19; 5 sd either side.
    assert all(abs(counts[f"c{i:03d}"] - 500) < 100 for i in range(20))


def test_cases_without_output_are_not_eligible_and_bad_budgets_fail() -> None:
    records = [*plain(3), replace(record("none"), output=None)]
    review = select_review_slice(records, budget=1.0 - 1e-9, seed=0)
    assert review.population == 3 and "none" not in {i.case for i in review.items}
    assert select_review_slice([], budget=5, seed=0).items == ()
    with pytest.raises(ValueError, match="review budget"):
        select_review_slice(records, budget=0, seed=0)
    with pytest.raises(ValueError, match="audit_share"):
        select_review_slice(records, budget=1, seed=0, audit_share=2)


# Export and import ---------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "plain", "=1+1", "+x", "-1", "@SUM(A1)", "\tx", "'=x", "''@y", "'quoted", "a=b"]
)
def test_formula_guard_is_reversible(text: str) -> None:
    guarded = guard_cell(text)
    assert unguard_cell(guarded) == text
    assert guarded[:1] not in ("=", "+", "-", "@", "\t", "\r")


def review_of(records: list[CaseRecord]) -> ReviewSlice:
    return select_review_slice(records, budget=len(records), seed=0, audit_share=1.0)


def test_csv_export_has_what_a_labeller_needs(tmp_path: Path) -> None:
    records = [record("=HYPERLINK(evil)", judge(score=3.5, samples=[3, 4]),
                      output="-5 is the answer, see <b>|x|</b>\nline two")]
    cases = {"=HYPERLINK(evil)": Case(id="=HYPERLINK(evil)", input="what?", context="ctx",
                                      expected="-5")}
    path = export_review(review_of(records), tmp_path / "r.csv", cases_by_id=cases)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[-4:] == ["label_faith", "annotator", "notes", "label_help"]
    assert not any(h.startswith("judge_") for h in header)
    assert row["case"] == "'=HYPERLINK(evil)" and row["expected"] == "'-5"
    assert row["output"] == "'-5 is the answer, see <b>|x|</b>\nline two"
    assert row["input"] == "what?" and row["context"] == "ctx"
    assert row["output_hash"] == output_hash(str(records[0].output))
    assert row["audit"] == "true" and row["inclusion_probability"] == "1"
    assert "repeats faith" in row["why_selected"]
    assert row["label_faith"] == "" and "passes at >= 4" in row["label_help"]
    # Every field is quoted, so a spreadsheet keeps leading zeros and long text as text.
    assert raw.decode("utf-8-sig").split("\r\n", 1)[0].startswith('"dataset","case"')


def test_verdicts_are_shown_only_when_asked(tmp_path: Path) -> None:
    records = [record("a", judge(score=2))]
    path = export_review(review_of(records), tmp_path / "r.jsonl", show_verdicts=True)
    row = json.loads(path.read_text(encoding="utf-8"))
    assert row["judge_faith"] == "failed 2" and "fine" in row["judge_faith_reason"]
    assert row["label_faith"] is None and row["audit"] is True
    hidden = json.loads(export_review(review_of(records), tmp_path / "h.jsonl").read_text())
    assert "judge_faith" not in hidden and "judge_faith_reason" not in hidden


def fill_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> None:
    """Do what a labeller does in a spreadsheet: fill cells, save as CSV."""
    text = path.read_bytes().decode("utf-8-sig")
    exported = list(csv.DictReader(text.splitlines(keepends=True)))
    header = list(exported[0])
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, header, delimiter=delimiter)
        writer.writeheader()
        for extra in rows:
            base = next(r for r in exported if unguard_cell(r["case"]) == extra["case"])
            writer.writerow({**base, **{k: v for k, v in extra.items() if k != "case"}})


def two_records() -> list[CaseRecord]:
    return [record("=cmd", judge(score=5)), record("b", judge(score=2), variant="control")]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_round_trip_with_several_annotators(tmp_path: Path, delimiter: str) -> None:
    records = two_records()
    path = export_review(review_of(records), tmp_path / "r.csv")
    fill_csv(path, [
        {"case": "=cmd", "label_faith": "pass", "annotator": "ann", "notes": "=looks fine"},
        {"case": "=cmd", "label_faith": "4,5", "annotator": "bob"},
        {"case": "b", "label_faith": " FAIL ", "annotator": "ann"},
        {"case": "b", "label_faith": "", "annotator": "bob"},
    ], delimiter)
    labels = import_labels(path)
    assert [(x.case, x.variant, x.passed, x.score, x.annotator) for x in labels] == [
        ("=cmd", "default", True, None, "ann"),
        ("=cmd", "default", None, 4.5, "bob"),
        ("b", "control", False, None, "ann"),
    ]
    assert labels[0].notes == "=looks fine"  # the notes cell was not guarded, kept as written
    assert labels[0].output_hash == output_hash(str(records[0].output))
    assert labels[2].source == f"{path}:4"
    assert match_labels(labels, records).summary() == "labels: 3 current, 0 stale"


def test_jsonl_round_trip(tmp_path: Path) -> None:
    records = two_records()
    path = export_review(review_of(records), tmp_path / "r.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["case"] == "=cmd"  # no spreadsheet guard in JSONL
    rows[0].update(label_faith=5, annotator="ann")
    rows[1].update(label_faith="fail", annotator="ann")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    labels = import_labels(path)
    assert [(x.case, x.passed, x.score) for x in labels] == [("=cmd", None, 5.0),
                                                             ("b", False, None)]


def test_labels_go_stale_when_the_output_changes(tmp_path: Path) -> None:
    records = two_records()
    path = export_review(review_of(records), tmp_path / "r.csv")
    fill_csv(path, [{"case": "=cmd", "label_faith": "pass", "annotator": "a"},
                    {"case": "b", "label_faith": "fail", "annotator": "a"}])
    labels = import_labels(path)
    changed = [records[0], replace(records[1], output="a better answer")]
    match = match_labels(labels, changed)
    assert [x.case for x in match.current] == ["=cmd"] and [x.case for x in match.stale] == ["b"]
    assert match.summary().startswith("labels: 1 current, 1 stale (the output changed")
    gone = match_labels(labels, changed[:1])
    assert len(gone.unknown) == 1 and "1 for cases not in this run" in gone.summary()


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


HEADER = '"case","variant","output_hash","output","label_faith","annotator"\n'


def test_bad_label_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", HEADER + '"a","default","h","two\nlines","pass","x"\n'
                 '"b","default","h","o","maybe","x"\n')
    with pytest.raises(ReviewFileError, match=r"r\.csv:4: column 'label_faith': 'maybe' is not"):
        import_labels(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (HEADER + '"a","default","","o","pass","x"\n', r":2: column 'output_hash' is empty"),
        (HEADER + '"a","default","h","o","pass","x"\n"a","default","h","o","fail","x"\n',
         r":3: column 'label_faith': annotator 'x' already labelled this output at .*:2"),
        (HEADER + '"a","default","h","o","pass","x","extra"\n', r":2: 7 cells but 6 columns"),
        (HEADER + '"a","default","h","o","inf","x"\n', r":2: column 'label_faith': 'inf'"),
        ("", r":1: the file is empty"),
    ],
)
def test_bad_csv_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ReviewFileError, match=match):
        import_labels(write(tmp_path, "r.csv", text))


def test_bad_encoding_and_jsonl(tmp_path: Path) -> None:
    latin = write(tmp_path, "r.csv", HEADER + '"café","default","h","o","pass","x"\n', "cp1252")
    with pytest.raises(ReviewFileError, match="save it from the spreadsheet as 'CSV UTF-8'"):
        import_labels(latin)
    good = json.dumps({"case": "a", "variant": "default", "output_hash": "h"})
    with pytest.raises(ReviewFileError, match=r"r\.jsonl:2: not valid JSON"):
        import_labels(write(tmp_path, "r.jsonl", good + "\n{oops\n"))
    with pytest.raises(ReviewFileError, match=r"r\.jsonl:1: each line must be a JSON object"):
        import_labels(write(tmp_path, "r.jsonl", "[1]\n"))
    nested = json.dumps({"case": "a", "variant": "v", "output_hash": "h", "label_f": [1]})
    with pytest.raises(ReviewFileError, match=r"r\.jsonl:1: column 'label_f'"):
        import_labels(write(tmp_path, "r.jsonl", nested + "\n"))


def test_export_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "r.csv"
    export_review(review_of(two_records()), target)
    export_review(review_of(two_records()), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.csv"]


class _Row:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.case, self.variant = data["case"], data["variant"]

    def model_dump(self) -> dict[str, Any]:
        return self.data


def test_command_line_export_and_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from pytest_llmfunnel.report.review_import import import_review
    from pytest_llmfunnel.review.label_files import export_from_results

    monkeypatch.chdir(tmp_path)
    rows = [{"id": f"c{i}", "input": f"question {i}", "output": f"answer to c{i}"}
            for i in range(40)]
    Path("data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    records = []
    for i in range(40):
        rec = record_data(f"c{i}", judge(score=5 if i % 3 else 2))
        rec.update(path="data.jsonl", fingerprint=Case(id="x", input=f"question {i}").fingerprint())
        records.append(rec)
    records[1]["fingerprint"] = "edited since"
    results = SimpleNamespace(cases=[_Row(r) for r in records],
                              flips=[_Row({"case": c, "variant": "default"}) for c in ("c1", "c4")])
    count = export_from_results(results, "r.csv", budget=20, seed=0)
    exported = list(csv.DictReader(Path("r.csv").read_text(encoding="utf-8-sig").splitlines()))
    # A targeted case drawn into the audit sample frees a slot that is filled by chance.
    assert count == len(exported) == 20
    by_case = {unguard_cell(r["case"]): r for r in exported}
    assert "flip" in by_case["c4"]["why_selected"]
    shown = [r for c, r in by_case.items() if c != "c1"]
    assert all(r["input"] == f"question {r['case'][1:]}" for r in shown)
    assert by_case["c1"]["input"] == ""  # its row changed since the run: no stale input shown
    fill_csv(Path("r.csv"), [{"case": c, "label_faith": "pass", "annotator": "a"}
                             for c in by_case])
    text = import_review(Path("r.csv"), results)
    # Every label says pass while the judge fails a third: people disagree, said first.
    assert text.startswith("warning: people disagree with the judge 'faith': accuracy 6")
    assert f"\nlabels: {count} current, 0 stale\njudge calibration" in text
    audit = sum(r["audit"] == "true" for r in exported)
    assert "pass rates of the judged outputs" in text
    assert f"{audit} of 40 outputs labelled" in text


def compared(case: str, variant: str, pair: tuple[str, str], score: float,
             samples: list[float]) -> CaseRecord:
    """A record holding a comparison (or its mirror, on the other variant's record)."""
    stage = {**pairwise(samples), "score": score, "pair": list(pair)}
    return record(case, stage, variant=variant, output=f"{variant} answer to {case}")


def ab_records(n: int, disagree: Collection[int] = frozenset()) -> list[CaseRecord]:
    rows = []
    for i in range(n):
        views = [1.0, -1.0] if i in disagree else [1.0, 1.0]
        score = 0.0 if i in disagree else 1.0
        rows.append(compared(f"c{i}", "control", ("control", "treatment"), score, views))
        rows.append(compared(f"c{i}", "treatment", ("control", "treatment"), -score,
                             [-v for v in views]))
    return rows


def test_a_comparison_is_targeted_and_exported_once_not_once_per_variant() -> None:
    records = ab_records(20, disagree={3, 7})
    review = select_review_slice(records, budget=10, seed=0, audit_share=0.0)
    # Only the records the comparisons were made from can be chosen: 20, not 40.
    assert review.population == 20
    assert {i.variant for i in review.items} == {"control"}
    targeted = [i.case for i in review.targeted_items if any("orders" in r for r in i.reasons)]
    assert sorted(targeted) == ["c3", "c7"]


def test_a_budget_of_every_case_exports_every_case_as_the_audit_sample() -> None:
    records = [record(f"c{i}", judge(score=4.0 if i % 2 else 5.0, samples=[3.0, 5.0]))
               for i in range(50)]
    review = select_review_slice(records, budget=50, seed=3)
    assert len(review.items) == 50 and review.audit_size == 50
    assert all(i.audit and i.inclusion_probability == 1.0 for i in review.items)


def test_flagged_cases_drawn_into_the_audit_sample_leave_no_empty_slots() -> None:
    # Every case is flagged, so every audit draw removes a candidate from the targeted list.
    records = [record(f"c{i}", judge(samples=[3.0, 5.0])) for i in range(100)]
    for seed in range(10):
        review = select_review_slice(records, budget=40, seed=seed)
        assert len(review.items) == 40 and review.audit_size == 20


def test_comparison_rows_round_trip_with_winner_labels(tmp_path: Path) -> None:
    records = ab_records(4)
    review = select_review_slice(records, budget=4, seed=0)
    path = export_review(review, tmp_path / "r.csv")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["kind"] for r in rows] == ["comparison"] * 4
    assert rows[0]["compared_with"] == "treatment" and rows[0]["output_compared"]
    for row, winner in zip(rows, ["control", "Treatment", "tie", "control"], strict=True):
        row["label_versus"] = winner
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    labels = import_labels(path)
    assert [(x.score, x.comparison) for x in labels] == [(1.0, True), (-1.0, True),
                                                         (0.0, True), (1.0, True)]
    assert match_labels(labels, records).summary() == "labels: 4 current, 0 stale"
    rows[0]["label_versus"] = "the first one"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ReviewFileError, match=r"r\.csv:2: column 'label_versus': "
                       r"'the first one' is not a comparison label"):
        import_labels(path)
