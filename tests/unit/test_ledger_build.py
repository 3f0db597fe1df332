"""A session's records as ledger entries, the trend table, the sparkline and the report section."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from pytest_llmfunnel.gate.decision import Decision, GateDecision
from pytest_llmfunnel.ledger.build import Decided, RunFacts, interval, run_entries
from pytest_llmfunnel.ledger.entries import RunEntry
from pytest_llmfunnel.ledger.trend import section_text, sparkline, trend_lines
from pytest_llmfunnel.stats import wilson_interval
from pytest_llmfunnel.variants.ranking import rank_variants
from tests.support.ledger_records import FACTS, JUDGE, records
from tests.support.sample_records import DATASET


def decision(metric: str, verdict: Decision, diff: float) -> GateDecision:
    return GateDecision(
        dataset=DATASET, metric=metric, n=10, baseline_mean=0.8, current_mean=0.8 + diff,
        diff=diff, bound=diff - 0.1, p_value=0.5, p_adjusted=0.5, mde=0.2, decision=verdict,
        reason="", test="McNemar", flips=(1, 0), gated=True, level=0.05, tolerance=0.02,
    )


def test_metrics_follow_the_gate_rules_with_their_intervals() -> None:
    (entry,) = run_entries(records(), FACTS, Decided(), lambda p, c: (p * 0.15 + c * 0.6) / 1e6)
    assert [m.name for m in entry.metrics] == [
        "promotion rate", "helpful pass rate", "helpful mean score"]
    promotion, rate, score = entry.metrics
    assert (promotion.value, promotion.n) == (0.9, 10)
    # The dropped case fails the judge it never met: 7 passes of 10, not 7 of 9.
    assert (rate.value, rate.n) == (0.7, 10)
    assert (rate.low, rate.high) == pytest.approx(wilson_interval(7, 10), abs=1e-6)
    # The dropped case scores the floor of the scale (1): (2*2 + 7*4 + 1) / 10.
    assert score.value == pytest.approx(3.3)
    assert score.low is not None and score.high is not None and score.low < 3.3 < score.high
    assert entry.judges == {"helpful": JUDGE}
    assert (entry.cost.requests, entry.cost.prompt_tokens, entry.cost.completion_tokens) == (
        9, 900, 90)
    assert entry.cost.cost == pytest.approx((900 * 0.15 + 90 * 0.6) / 1e6)
    assert (entry.run_id, entry.commit, entry.duration, entry.cases) == ("run-1", "a" * 40,
                                                                         12.5, 10)
    assert entry.decision == "not gated" and entry.promoted is None


def test_a_score_interval_is_students_t() -> None:
    value, low, high = interval([1.0, 2.0, 3.0, 4.0], "score")
    # mean 2.5, sd sqrt(5/3), se 0.645497, t(0.975, 3) from scipy
    half = sps.t.ppf(0.975, 3) * math.sqrt(5 / 3) / 2
    assert (value, low, high) == pytest.approx((2.5, 2.5 - half, 2.5 + half), abs=1e-6)
    assert interval([3.0], "score") == (3.0, None, None)
    assert interval([], "binary") == (None, None, None)


def test_the_gate_decisions_and_a_regression_mark_the_entry_not_promoted() -> None:
    decided = Decided(decisions=[decision("helpful pass rate", "regressed", -0.1),
                                 decision("promotion rate", "ok", 0.0)], gated=True)
    (entry,) = run_entries(records(), FACTS, decided)
    rate = entry.metric("helpful pass rate")
    assert rate is not None
    assert (rate.diff, rate.against, rate.decision) == (-0.1, "baseline", "regressed")
    assert entry.decision == "regressed" and entry.promoted is False
    passed = Decided(decisions=[decision("helpful pass rate", "ok", 0.0)], gated=True)
    assert run_entries(records(), FACTS, passed)[0].promoted is True
    missing = Decided(missing_baselines=[DATASET], gated=True)
    assert run_entries(records(), FACTS, missing)[0].decision == "no baseline"


def test_variants_carry_their_outcome_margin_and_difference_from_the_control() -> None:
    recs = (records("control", fails=1, n=40) + records("candidate", fails=8, n=40)
            + records("close", fails=2, n=40))
    [ranking] = rank_variants(recs, control="control")
    entries = run_entries(recs, FACTS, Decided(rankings=[ranking]))
    by = {e.variant: e for e in entries}
    assert by["control"].outcome == "control" and by["control"].promoted is True
    assert by["candidate"].outcome == "undecided" and by["candidate"].promoted is False
    assert by["close"].outcome == "non-inferior" and by["close"].promoted is True
    assert all(e.ranking is None and e.control == "control" for e in entries)
    rate = by["candidate"].metric("helpful pass rate")
    assert rate is not None and rate.against == "control"
    assert rate.diff == pytest.approx((31 - 38) / 40)
    # Each comparison states the ranking's verdict, margin and the cases it needs.
    verdict = ranking.result("candidate").comparisons[1].verdict
    assert verdict is not None and verdict.metric == "helpful pass rate"
    assert rate.decision == "undecided"
    assert rate.margin == pytest.approx(verdict.margin, abs=1e-6)
    assert (rate.cases_needed, rate.decide_at) == (verdict.tighter, verdict.decide_at)
    assert rate.margin is not None and rate.margin > 0.02  # 40 cases cannot resolve 2 points
    assert by["candidate"].margin == rate.margin
    close = by["close"].metric("helpful pass rate")
    assert close is not None and close.decision == "non-inferior" and close.decide_at is None
    assert by["close"].cases_needed == close.cases_needed
    # The control has nothing to be compared with.
    assert all(m.margin is None for m in by["control"].metrics)
    # Both variants saw the same cases: the same dataset fingerprint.
    assert by["control"].dataset_fingerprint == by["candidate"].dataset_fingerprint


def test_the_sparkline_scales_to_its_range_and_marks_gaps() -> None:
    assert sparkline([0.1, 0.5, None, 0.9]) == "▁▅·█"
    assert sparkline([0.3, 0.3]) == "▄▄"
    assert sparkline([None]) == "·"


def history() -> list[RunEntry]:
    out = []
    for i, fails in enumerate((4, 3, 2), start=1):
        facts = RunFacts(f"run-{i}", f"2026-05-0{i}T09:30:00Z", f"{i}" * 40, "main", 1.0)
        out += run_entries(records(fails=fails), facts, Decided())
    return out


def test_the_trend_is_a_table_per_test_and_a_sparkline_per_gated_metric() -> None:
    lines = list(trend_lines(history(), last=2))
    assert lines[0] == f"{DATASET}: 2 runs"
    assert lines[1].split() == ["commit", "date", "promotion", "rate", "helpful", "pass", "rate",
                                "decision"]
    assert lines[3].split()[:4] == ["22222222", "2026-05-02", "90.0%", "±"]
    assert "60.0% ±" in lines[3] and "70.0% ±" in lines[4]
    assert lines[-1].split() == ["helpful", "pass", "rate", "▁█"]
    assert not any("mean score" in line for line in lines), "only gated metrics"


def test_the_report_section_shows_the_last_runs_and_this_one() -> None:
    current = run_entries(records(fails=1), RunFacts("", "", None, None, 0.0), Decided())
    text = section_text(history(), current, last=3)

    def shown(k: int) -> str:
        low, high = wilson_interval(k, 10)
        return f"{k * 10:.1f}% ± {(high - low) * 50:.1f}"

    # The oldest of the three past runs is left out: two from the ledger, then this one.
    assert text.splitlines() == [
        f"{DATASET}, promotion rate: ▄▄▄ 22222222 {shown(9)}, 33333333 {shown(9)}, "
        f"this run {shown(9)}",
        f"{DATASET}, helpful pass rate: ▁▄█ 22222222 {shown(6)}, 33333333 {shown(7)}, "
        f"this run {shown(8)}",
    ]
