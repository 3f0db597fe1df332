"""The regression gate over a session's records: pairing, survivorship, errors, judges, flips."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from pytest_llmfunnel.gate import margin
from pytest_llmfunnel.gate.baseline_build import baseline_from_records
from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.gate.compare import GateResult, compare
from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.record import CaseRecord
from tests.support.sample_records import as_record

DS = "tests/test_qa.py::test_qa"
J1 = "offline-reference-judge v1 faithfulness"
J2 = "gpt-4o-mini faithfulness rubric v2"
SCALES = {"faithfulness": (1.0, 5.0)}
N = 200


def rec(case: str, score: float | None = 5.0, **kw: Any) -> CaseRecord:
    """:func:`rec_data` as a record."""
    return as_record(rec_data(case, score, **kw))


def rec_data(
    case: str, score: float | None = 5.0, *, promoted: bool = True, dataset: str = DS,
    fp: str | None = None, tags: Sequence[str] = (), judge: str = J1,
    baseline: dict[str, Any] | None = None, variant: str = "default",
) -> dict[str, Any]:
    """A record as the funnel makes it: check → measured scorer → judge (1–5, passes at 4).

    ``score=None`` is a judge error; ``promoted=False`` drops the case at the check.
    """
    stages: list[dict[str, Any]] = [
        {"stage": "not_empty", "kind": "check", "gating": True,
         "status": "passed" if promoted else "failed", "score": None,
         "reason": "" if promoted else "output is empty", "judge": None},
    ]
    if promoted:
        stages.append({"stage": "length", "kind": "scorer", "gating": False,
                       "status": "measured", "score": 10.0, "reason": "", "judge": None})
        status = "error" if score is None else "passed" if score >= 4 else "failed"
        stages.append({"stage": "faithfulness", "kind": "judge", "gating": False,
                       "status": status, "score": score, "reason": f"judged {score}",
                       "judge": judge})
    return {
        "dataset": dataset, "path": "tests/qa.jsonl", "case": case, "variant": variant,
        "fingerprint": fp or f"fp-{case}", "tags": list(tags), "output": f"output of {case}",
        "promoted": promoted, "dropped_at": None if promoted else "not_empty", "error": None,
        "stages": stages, "baseline": baseline,
    }


def ids(n: int = N) -> list[str]:
    return [f"c{i:03d}" for i in range(n)]


def make_baseline(records: Iterable[CaseRecord]) -> Baseline:
    return baseline_from_records(records, scales=SCALES)


def by_metric(result: GateResult, dataset: str = DS) -> dict[str, GateDecision]:
    return {d.metric: d for d in result.decisions if d.dataset == dataset}


def run(current: Iterable[CaseRecord], base: Baseline | None, **kw: Any) -> GateResult:
    return compare(list(current), {DS: base}, **kw)


STEADY = make_baseline(rec(c) for c in ids())


def test_unchanged_rerun_is_ok_with_every_metric_and_no_flips() -> None:
    result = run([rec(c) for c in ids()], STEADY)
    decisions = by_metric(result)
    assert sorted(decisions) == [
        "faithfulness mean score", "faithfulness pass rate", "length mean score",
        "promotion rate",
    ]
    assert all(d.decision == "ok" and d.n == N for d in decisions.values())
    gated = {m for m, d in decisions.items() if d.gated}
    assert gated == {"promotion rate", "faithfulness pass rate"}
    assert not result.fails
    (ds,) = result.datasets
    assert (ds.paired, ds.flips, ds.changed, ds.new, ds.removed) == (N, (), (), (), ())
    assert "Regression gate passed: 2 gated metrics over 1 eval test," in result.message()


def test_injected_regression_is_caught_with_the_tolerance_test_and_sorted_flips() -> None:
    current = [
        rec(c, 1.0 if i < 10 else 3.5 if i < 30 else 5.0) for i, c in enumerate(ids())
    ]
    result = run(current, STEADY)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.decision == "regressed" and d.fails and d.flips == (30, 0)
    # Tango's score test of "the drop is at most 2 points": 30 of 30 discordant worse.
    assert d.p_value == pytest.approx(margin.tango_p_below(0, 30, 200, -0.02), rel=1e-12)
    # Holm over the two gated metrics of the session: the smaller p-value is doubled.
    assert d.p_adjusted == pytest.approx(2 * d.p_value)
    assert d.baseline_mean == 1.0 and d.current_mean == pytest.approx(170 / 200)
    assert by_metric(result)["promotion rate"].decision == "ok"
    assert result.fails
    flips = result.datasets[0].flips
    assert len(flips) == 30 and {f.direction for f in flips} == {"worse"}
    # the 5 → 1 drops come before the 5 → 3.5 drops
    assert [f.after for f in flips[:10]] == [1.0] * 10 and flips[10].after == 3.5
    top = flips[0]
    assert (top.case, top.stage, top.before, top.reason) == ("c000", "faithfulness", 5.0,
                                                              "judged 1.0")
    assert top.output_excerpt == "output of c000" and top.severity == 1.0
    message = result.message()
    assert "faithfulness pass rate: regressed" in message
    assert "--llm-funnel-update-baseline" in message and "Inspect the flipped cases" in message


def test_noise_only_flips_both_ways_is_ok() -> None:
    current = [rec(c, 3.0 if i < 3 else 5.0) for i, c in enumerate(ids())]
    base = make_baseline(rec(c, 3.0 if 3 <= i < 5 else 5.0) for i, c in enumerate(ids()))
    result = run(current, base)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.decision == "ok" and d.flips == (3, 2)
    assert not result.fails
    flips = result.datasets[0].flips
    assert [f.direction for f in flips] == ["worse"] * 3 + ["better"] * 2


def test_survivorship_dropped_cases_count_as_fails_on_every_later_stage() -> None:
    # 40 current cases drop at the check; every promoted survivor passes the judge.
    current = [rec(c, promoted=i >= 40) for i, c in enumerate(ids())]
    result = run(current, STEADY)
    decisions = by_metric(result)
    judge = decisions["faithfulness pass rate"]
    assert judge.current_mean == pytest.approx(160 / 200) and judge.n == N
    assert judge.decision == "regressed" and judge.flips == (40, 0)
    assert decisions["promotion rate"].decision == "regressed"
    score = decisions["faithfulness mean score"]  # dropped cases get the scale minimum
    assert score.current_mean == pytest.approx((160 * 5.0 + 40 * 1.0) / 200)
    flips = [f for f in result.datasets[0].flips if f.metric == "faithfulness pass rate"]
    assert flips[0].after is None and flips[0].reason == ""
    promo = [f for f in result.datasets[0].flips if f.metric == "promotion rate"]
    assert promo[0].stage == "not_empty" and promo[0].reason == "output is empty"


def test_baseline_side_is_reevaluated_when_the_record_carries_it() -> None:
    # A stricter check now drops 40 cases; re-run on the baseline's outputs it drops
    # the same 40, so the change applies to both sides alike and nothing regressed.
    def reeval(case: str, promoted: bool) -> dict[str, Any]:
        r = rec_data(case, promoted=promoted)
        return {k: v for k, v in r.items() if k not in ("dataset", "path", "tags", "baseline")}

    current = [
        rec(c, promoted=i >= 40, baseline=reeval(c, i >= 40)) for i, c in enumerate(ids())
    ]
    result = run(current, STEADY)
    decisions = by_metric(result)
    assert decisions["promotion rate"].baseline_mean == pytest.approx(0.8)
    assert all(d.decision == "ok" for d in decisions.values())
    assert result.datasets[0].flips == ()


def test_changed_new_and_removed_cases_are_listed_and_not_paired() -> None:
    current = [rec(c, 1.0 if i < 5 else 5.0, fp="edited" if i < 5 else None)
               for i, c in enumerate(ids()[:-2])]
    current += [rec("new-1", 1.0), rec("c000", variant="control")]
    result = run(current, STEADY)
    (ds,) = result.datasets
    assert ds.changed == ("c000", "c001", "c002", "c003", "c004")
    assert ds.new == ("c000[control]", "new-1")
    assert ds.removed == ("c198", "c199")
    assert ds.paired == N - 5 - 2
    d = by_metric(result)["faithfulness pass rate"]
    assert d.n == ds.paired and d.flips == (0, 0) and d.decision == "ok"


def test_judge_errors_are_left_out_of_both_sides() -> None:
    current = [rec(c, None if i < 3 else 1.0 if i < 5 else 5.0) for i, c in enumerate(ids())]
    base = make_baseline(rec(c, None if i == 199 else 5.0) for i, c in enumerate(ids()))
    result = run(current, base, max_error_share=0.05)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.n == N - 4 and d.flips == (2, 0)
    assert d.decision == "ok"
    assert "4 pairs with stage errors left out (counted as fails, the decision is the same)" in (
        d.reason)
    assert by_metric(result)["promotion rate"].n == N  # judge errors do not touch promotion


def test_errors_that_could_hide_a_drop_make_the_metric_not_comparable() -> None:
    # 6 pass→fail flips alone do not show a drop past 2 points; with the 4 errored
    # pairs counted as fails (10 of 200) they do, so the errors decide.
    current = [rec(c, None if i < 3 else 1.0 if i < 9 else 5.0) for i, c in enumerate(ids())]
    base = make_baseline(rec(c, None if i == 199 else 5.0) for i, c in enumerate(ids()))
    result = run(current, base, max_error_share=0.05)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.n == N - 4 and d.flips == (6, 0)
    assert d.decision == "not comparable" and d.fails and result.fails
    assert "4 pairs with stage errors could hide a drop: counted as fails, the metric " \
        "regresses" in d.reason
    assert d.bound > -0.02  # the paired cases alone do not decide


def test_unpaired_cases_that_could_hide_a_drop_make_the_metric_not_comparable() -> None:
    # Three real flips, and the cases that failed most stopped being run or changed input.
    current = [rec(c, 1.0 if i < 3 else 5.0, fp="edited" if i < 8 else None)
               for i, c in enumerate(ids()) if not 8 <= i < 12]
    result = run(current, STEADY)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.n == N - 12 and d.flips == (0, 0)  # the 3 flipped cases are among the changed
    assert d.decision == "not comparable" and result.fails
    assert "12 unpaired baseline cases (changed or not run) could hide a drop" in d.reason
    # A few unpaired cases that cannot change the decision leave it alone.
    few = run([rec(c) for i, c in enumerate(ids()) if i != 7], STEADY)
    d = by_metric(few)["faithfulness pass rate"]
    assert d.decision == "ok" and "1 unpaired baseline case " in d.reason
    assert few.warnings == ()


def test_cases_left_out_on_purpose_are_neither_paired_nor_counted_as_fails() -> None:
    # A -k run of 40 of the 200 cases: the other 160 were deselected, not lost.
    current = [rec(c) for c in ids()[:40]]
    result = run(current, STEADY, dataset_ids={DS: ids()})
    d = by_metric(result)["faithfulness pass rate"]
    assert d.n == 40 and d.decision != "not comparable" and not result.fails
    assert "unpaired baseline cases" not in d.reason and result.warnings == ()
    # Cases gone from the dataset could hide a drop: the same run, with only its 40 left.
    gone = run(current, STEADY, dataset_ids={DS: ids()[:40]})
    assert by_metric(gone)["faithfulness pass rate"].decision == "not comparable"


def test_a_run_of_one_variant_gates_that_variant_alone() -> None:
    # The baseline holds two variants of each case; `-k new` ran only "new".
    both = [rec(c, variant=v) for c in ids()[:60] for v in ("old", "new")]
    baseline = make_baseline(both)
    current = [rec(c, variant="new") for c in ids()[:60]]
    result = run(current, baseline, dataset_ids={DS: ids()[:60]})
    assert not result.fails and result.warnings == ()
    assert all("unpaired" not in d.reason for d in result.decisions)


def test_a_large_unpaired_share_is_a_warning_with_the_number() -> None:
    current = [rec(c) for c in ids()] + [rec(f"new{i:02d}") for i in range(30)]
    result = run(current, STEADY)
    assert not result.fails  # new cases have no baseline value to drop from
    (warning,) = result.warnings
    assert warning.startswith(f"{DS}: 30 of 230 cases (13%) are unpaired")
    assert "--llm-funnel-update-baseline" in warning


def test_judge_errors_above_the_share_make_the_metric_not_comparable() -> None:
    current = [rec(c, None if i < 6 else 5.0) for i, c in enumerate(ids())]
    result = run(current, STEADY, max_error_share=0.02)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.decision == "not comparable" and d.fails and math.isnan(d.p_value)
    assert "6 of 200 pairs (3.0%) have stage errors" in d.reason
    assert "--llm-funnel-max-error-share" in d.reason
    assert result.fails and "not comparable" in result.message()
    assert by_metric(result)["promotion rate"].decision == "ok"


def test_changed_judge_without_reevaluated_baseline_is_not_comparable() -> None:
    result = run([rec(c, judge=J2) for c in ids()], STEADY)
    d = by_metric(result)["faithfulness pass rate"]
    assert d.decision == "not comparable" and d.fails
    assert d.reason.startswith(f"judge changed: {J1} → {J2}; re-judge the baseline outputs")
    assert "update the baseline" in d.reason
    assert by_metric(result)["faithfulness mean score"].decision == "not comparable"
    assert by_metric(result)["length mean score"].decision == "ok"


def test_changed_judge_with_rejudged_baseline_is_compared() -> None:
    def rejudged(case: str) -> dict[str, Any]:
        return rec_data(case, judge=J2) | {"baseline": None}

    current = [rec(c, judge=J2, baseline=rejudged(c)) for c in ids()]
    result = run(current, STEADY)
    assert all(d.decision == "ok" for d in result.decisions)
    assert not result.fails


def test_new_stage_missing_from_the_baseline_is_not_comparable() -> None:
    current = []
    for c in ids():
        r = rec_data(c)
        r["stages"].append({"stage": "tone", "kind": "judge", "gating": False,
                            "status": "passed", "score": 5.0, "reason": "", "judge": J1})
        current.append(as_record(r))
    d = by_metric(run(current, STEADY))["tone pass rate"]
    assert d.decision == "not comparable" and "'tone' is not in the baseline" in d.reason


def test_missing_baseline_fails_and_says_how_to_create_it() -> None:
    result = run([rec(c) for c in ids(10)], None)
    assert result.fails and result.missing_baselines == (DS,)
    assert result.decisions == ()
    assert f"{DS}: no baseline file yet; create it with --llm-funnel-update-baseline" in (
        result.message()
    )


def test_eval_tests_without_a_configured_baseline_are_not_gated() -> None:
    result = compare([rec(c) for c in ids(10)], {}, alpha=0.05)
    assert not result.fails and result.decisions == () and result.datasets == ()


def test_holm_runs_once_across_every_eval_test_of_the_session() -> None:
    other = "tests/test_other.py::test_other"
    regressed = [rec(c, 1.0 if i < 30 else 5.0) for i, c in enumerate(ids())]
    steady = [rec(c, dataset=other) for c in ids()]
    result = compare(
        regressed + steady,
        {DS: STEADY, other: make_baseline(steady)},
    )
    d = by_metric(result)["faithfulness pass rate"]
    assert d.decision == "regressed"
    p = margin.tango_p_below(0, 30, 200, -0.02)
    assert d.p_adjusted == pytest.approx(4 * p)  # 2 eval tests x 2 gated metrics
    assert {x.dataset for x in result.decisions} == {DS, other}
    assert [x.dataset for x in result.datasets] == sorted([DS, other])


def test_tolerance_per_metric_overrides_the_default() -> None:
    current = [rec(c, 1.0 if i < 30 else 5.0) for i, c in enumerate(ids())]
    result = run(current, STEADY, tolerances={"faithfulness pass rate": 0.5})
    d = by_metric(result)["faithfulness pass rate"]
    assert d.decision == "ok" and d.tolerance == 0.5
    assert "no drop beyond the tolerance shown" in d.reason


def test_tag_breakdown_shows_where_the_drop_is() -> None:
    current = [rec(c, 1.0 if i < 30 else 5.0, tags=["billing"] if i < 50 else ["shipping"])
               for i, c in enumerate(ids())]
    tags = {(t.tag, t.metric): t for t in run(current, STEADY).datasets[0].tags}
    billing = tags[("billing", "faithfulness pass rate")]
    assert (billing.n, billing.baseline_mean, billing.current_mean) == (50, 1.0, 0.4)
    shipping = tags[("shipping", "faithfulness pass rate")]
    assert (shipping.n, shipping.current_mean) == (150, 1.0)
    assert ("billing", "faithfulness mean score") not in tags  # measured-only: no breakdown


def test_scorer_with_threshold_is_gated_on_its_pass_rate() -> None:
    def with_threshold(r: dict[str, Any], value: float) -> CaseRecord:
        for s in r["stages"]:
            if s["stage"] == "length":
                s.update(status="passed" if value >= 5 else "failed", score=value)
        return as_record(r)

    base = make_baseline(with_threshold(rec_data(c), 10.0) for c in ids())
    current = [with_threshold(rec_data(c), 2.0 if i < 40 else 10.0)
               for i, c in enumerate(ids())]
    decisions = by_metric(run(current, base))
    assert "length mean score" not in decisions
    d = decisions["length pass rate"]
    assert d.gated and d.decision == "regressed" and d.flips == (40, 0)


def test_non_inferiority_mode_passes_an_unchanged_run_and_fails_a_clear_drop() -> None:
    ok = run([rec(c) for c in ids()], STEADY, mode="non-inferiority")
    assert not ok.fails
    assert by_metric(ok)["promotion rate"].test == "tango-score"
    bad = run([rec(c, 1.0 if i < 30 else 5.0) for i, c in enumerate(ids())], STEADY,
              mode="non-inferiority")
    d = by_metric(bad)["faithfulness pass rate"]
    # 30 flips in 200 cases make the interval too wide to show non-inferiority at 2%
    assert d.fails and d.decision == "not comparable" and "too few cases" in d.reason
    assert bad.fails


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        run([rec("c000")], STEADY, mode="bogus")
