"""Ranking a dataset's output variants: who is best, who deserves an online experiment, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate import margin
from pytest_llmfunnel.report.variants import variant_lines, variants_markdown
from pytest_llmfunnel.variants.ranking import VariantRanking, rank_variants
from tests.support.variant_records import ids, pairwise_records, rec, variant

QUALITY = "quality pass rate"
PROMOTION = "promotion rate"


def only(rankings: list[VariantRanking]) -> VariantRanking:
    assert len(rankings) == 1
    return rankings[0]


def comparison(ranking: VariantRanking, name: str, metric: str) -> Any:
    return next(c for c in ranking.result(name).comparisons if c.metric == metric)


def am_lower_bound(worse: int, better: int, n: int, level: float) -> float:
    """The gate's binary non-inferiority bound: Tango's score bound (tested in test_margin.py)."""
    return margin.tango_lower(better, worse, n, level)


def test_a_clearly_better_variant_makes_the_other_clearly_worse_naming_the_metric() -> None:
    control = ["pass"] * 100 + ["fail"] * 100
    treatment = ["pass"] * 180 + ["fail"] * 20  # passes every case control passes, and 80 more
    ranking = only(rank_variants(variant("control", control) + variant("treatment", treatment)))
    assert ranking.primary == QUALITY
    assert [v.variant for v in ranking.variants] == ["treatment", "control"]
    assert ranking.best.status == "best" and "highest quality pass rate (90.0%)" in (
        ranking.best.reason)
    assert ranking.value("treatment", QUALITY) == 0.9
    assert ranking.value("control", QUALITY) == 0.5
    assert ranking.value("control", "quality mean score") == pytest.approx(3.5)
    ctl = ranking.result("control")
    assert ctl.status == "discarded" and ctl.outcome == "clearly worse" and ctl.online == "no"
    assert ranking.candidates == ("treatment",)
    q = comparison(ranking, "control", QUALITY)
    assert not q.shown and q.decision.n == 200 and q.decision.flips == (80, 0)
    assert q.decision.diff == pytest.approx(-0.4)
    # Two gated comparisons; quality's p-value is the larger, so Holm tests it at α/1.
    assert q.decision.level == pytest.approx(0.05)
    assert q.decision.bound == pytest.approx(am_lower_bound(80, 0, 200, 0.05), abs=1e-9)
    assert ctl.reason.startswith("clearly worse than treatment: quality pass rate: worse beyond "
                                 "the margin: diff -40.0pt")
    assert q.verdict is not None and f"upper bound {q.verdict.upper * 100:+.1f}pt" in ctl.reason
    # Both variants promote every case: that metric is shown non-inferior and not a reason.
    assert comparison(ranking, "control", PROMOTION).shown
    assert PROMOTION not in ctl.reason
    # Mean scores are shown but never decide: no comparison is made on them.
    assert not next(m for m in ranking.metrics if m.name == "quality mean score").gated
    assert "quality mean score" not in [c.metric for c in ctl.comparisons]


def test_two_equal_variants_with_many_cases_are_both_candidates() -> None:
    base = ["pass"] * 400 + ["fail"] * 200
    other = list(base)
    for i in range(3):  # three flips each way: equal pass rates, not identical outcomes
        other[i], other[400 + i] = "fail", "pass"
    ranking = only(rank_variants(variant("b", other) + variant("a", base)))
    assert ranking.value("a", QUALITY) == ranking.value("b", QUALITY) == pytest.approx(400 / 600)
    assert ranking.best.variant == "a"
    assert "tied with b on quality pass rate" in ranking.best.reason
    assert "first by name" in ranking.best.reason
    b = ranking.result("b")
    assert b.status == "candidate" and ranking.candidates == ("a", "b")
    q = comparison(ranking, "b", QUALITY)
    assert q.shown and q.decision.flips == (3, 3) and q.decision.diff == 0.0
    assert q.decision.bound == pytest.approx(am_lower_bound(3, 3, 600, q.decision.level), 1e-9)
    assert q.decision.bound > -0.02
    # The reason shows the bound that came closest to the margin.
    assert f"lower bound {q.decision.bound * 100:+.1f}pt above -2.0pt" in b.reason
    assert "margin 2.0pt (the tolerance)" in b.reason


def test_equal_variants_with_ten_cases_are_non_inferior_only_within_a_wide_margin() -> None:
    outcomes = ["pass"] * 7 + ["fail"] * 3
    records = variant("a", outcomes) + variant("b", outcomes)
    b = only(rank_variants(records)).result("b")
    # Ten identical pairs show non-inferiority, but only within the margin ten cases resolve.
    assert b.outcome == "non-inferior"
    q = comparison(only(rank_variants(records)), "b", QUALITY).verdict
    assert q is not None and q.margin > 0.25 and q.tighter is not None and q.tighter > 100
    assert "(the smallest 10 cases resolve; the tolerance 2.0pt needs about" in b.reason
    # The same data with a margin wider than what ten cases can resolve: shown non-inferior.
    wide = only(rank_variants(records, tolerances={PROMOTION: 0.5, QUALITY: 0.5}))
    assert wide.result("b").status == "candidate"
    q = comparison(wide, "b", QUALITY)
    assert q.decision.bound == pytest.approx(am_lower_bound(0, 0, 10, q.decision.level), 1e-9)


def test_a_bound_that_clears_the_margin_counts_even_with_few_cases() -> None:
    records = [rec(c, "a", style="failed" if i < 20 else "passed") for i, c in enumerate(ids(30))]
    records += [rec(c, "b", style="passed") for c in ids(30)]
    ranking = only(rank_variants(records, tolerances={PROMOTION: 0.5, QUALITY: 0.5}))
    assert ranking.primary == QUALITY  # a judge's pass rate, not the scorer's
    assert [m.name for m in ranking.metrics] == [PROMOTION, QUALITY, "quality mean score",
                                                 "style pass rate"]
    style = comparison(ranking, "b", "style pass rate")
    # b is 20 cases better: its lower bound clears the margin by far.
    assert style.decision.decision == "ok" and style.decision.tolerance > 0.02
    assert style.shown and style.decision.p_adjusted < 0.05
    assert style.decision.bound == pytest.approx(
        am_lower_bound(0, 20, 30, style.decision.level), 1e-9)
    assert ranking.result("b").status == "candidate"


def test_cases_dropped_at_a_check_fail_the_later_stages() -> None:
    a = ["pass"] * 300
    b = ["drop"] * 30 + ["pass"] * 270
    ranking = only(rank_variants(variant("a", a) + variant("b", b)))
    # Over every case, not the promoted slice (where b would score 100%).
    assert ranking.value("b", QUALITY) == pytest.approx(0.9)
    assert ranking.value("b", PROMOTION) == pytest.approx(0.9)
    assert ranking.value("b", "quality mean score") == pytest.approx((270 * 5 + 30 * 1) / 300)
    q = comparison(ranking, "b", QUALITY)
    assert q.decision.n == 300 and q.decision.flips == (30, 0)
    reason = ranking.result("b").reason
    assert ranking.result("b").status == "discarded"
    assert "promotion rate: worse beyond the margin: diff -10.0pt" in reason
    assert "quality pass rate: worse beyond the margin: diff -10.0pt" in reason


def test_stage_errors_are_left_out_of_both_sides_and_a_failed_target_is_a_fail() -> None:
    b = variant("b", ["error"] * 12 + ["pass"] * 288)
    b[12] = rec(ids(300)[12], "b", error="timed out")
    ranking = only(rank_variants(variant("a", ["pass"] * 300) + b))
    quality = next(m for m in ranking.metrics if m.name == QUALITY)
    assert quality.n == 288
    assert ranking.value("b", QUALITY) == pytest.approx(287 / 288)
    assert ranking.value("a", QUALITY) == 1.0
    q = comparison(ranking, "b", QUALITY)
    assert q.errors == 12 and q.decision.n == 288 and q.decision.flips == (1, 0)
    promo = comparison(ranking, "b", PROMOTION)
    assert promo.errors == 0 and promo.decision.n == 300
    assert ranking.value("b", PROMOTION) == pytest.approx(299 / 300)


def test_holm_runs_across_every_variant_of_the_dataset() -> None:
    base = ["pass"] * 500 + ["fail"] * 100
    records = variant("a", base)
    for name, flips in (("b", 1), ("c", 2)):
        other = list(base)
        for i in range(flips):
            other[i] = "fail"
        records += variant(name, other)
    ranking = only(rank_variants(records))
    gated = [c for v in ranking.variants for c in v.comparisons if c.gated]
    assert len(gated) == 4
    pvalues = [c.decision.p_value for c in gated]
    assert [c.decision.p_adjusted for c in gated] == pytest.approx(stats.holm(pvalues))
    levels = sorted(c.decision.level for c in gated)
    assert levels == pytest.approx([0.05 / k for k in (4, 3, 2, 1)])
    assert ranking.candidates == ("a", "b", "c")


def test_cases_not_run_for_every_variant_are_left_out_and_listed() -> None:
    records = variant("a", ["pass"] * 20) + variant("b", ["pass"] * 20)[:-1]
    ranking = only(rank_variants(records))
    assert ranking.cases == 19 and ranking.unpaired == ("c019",)
    assert any("1 case left out" in line and "c019" in line for line in variant_lines([ranking]))


def test_nothing_to_rank_without_a_second_variant() -> None:
    assert rank_variants(variant("default", ["pass"] * 5)) == []
    assert variant_lines([]) == [] and variants_markdown([]) == ""


def test_pairwise_counts_and_win_rate_break_a_tie() -> None:
    ranking = only(rank_variants(pairwise_records({"b/a": [-1.0] * 5 + [0.0] * 3 + [1.0] * 2},
                                                 10)))
    assert ranking.best.variant == "a"  # tied on every pass rate; a wins more comparisons
    assert "ahead on the mean pref score (+0.30 vs -0.30)" in ranking.best.reason
    assert len(ranking.pairwise) == 1
    p = ranking.pairwise[0]
    assert (p.stage, p.variant, p.opponent) == ("pref", "a", "b")
    assert (p.wins, p.ties, p.losses, p.errors) == (5, 3, 2, 0)
    assert p.win_rate == pytest.approx(5 / 7)
    assert p.interval == pytest.approx(stats.wilson_interval(5, 7, 0.95))
    # Pairwise stages are not pass-rate or mean-score metrics.
    assert [m.name for m in ranking.metrics] == [PROMOTION, QUALITY, "quality mean score",
                                                 "pref win rate vs a"]
    text = "\n".join(variant_lines([ranking]))
    assert "pref: a wins 5, b wins 2, ties 3; a's win rate 71%" in text


def test_pairwise_with_three_variants_counts_each_comparison_once() -> None:
    scores: dict[str, Sequence[float | None]] = {
        "a/b": [1.0] * 4 + [-1.0] * 6,
        "a/c": [0.0] * 9 + [None],
    }
    ranking = only(rank_variants(pairwise_records(scores, 10)))
    assert [v.variant for v in ranking.variants] == ["b", "c", "a"]
    got = {(p.stage, p.variant, p.opponent): (p.wins, p.ties, p.losses, p.errors)
           for p in ranking.pairwise}
    assert got == {("pref", "b", "a"): (6, 0, 4, 0), ("pref", "c", "a"): (0, 9, 0, 1)}
    # The judge met the control b only with a: c has no win rate against b, and is not held
    # undecided for want of one (its pass rates, equal to b's, decide).
    assert ranking.control == "b"
    assert [c.metric for c in ranking.result("c").comparisons] == [PROMOTION, QUALITY]
    assert "pref win rate vs b" in [c.metric for c in ranking.result("a").comparisons]


def test_a_pairwise_judge_preferring_another_variant_is_noted() -> None:
    records = pairwise_records({"a/b": [-1.0] * 40}, 40)
    for i in range(1, 8, 2):  # b fails four cases at the quality judge
        r = records[i]
        records[i] = replace(r, stages=(r.stages[0], replace(r.stages[1], status="failed",
                                                             score=2.0), *r.stages[2:]))
    ranking = only(rank_variants(records))
    assert ranking.best.variant == "a"
    assert "pref prefers b to a (b wins 40 of 40" in ranking.note
    assert "the ranking follows quality pass rate" in ranking.note


HOSTILE = "a|b <script>alert(1)</script>\x1b[31m"


def hostile_rankings() -> list[VariantRanking]:
    names = ["control", HOSTILE, "\x1b[2J" + "very-long-variant-name-" * 3, "v4", "v5", "v6"]
    worse = ["pass"] * 30 + ["fail"] * 10
    records = [r for name in names
               for r in variant(name, ["pass"] * 40 if name == "control" else worse)]
    return rank_variants(records)


@pytest.mark.parametrize("width", [80, 60])
def test_terminal_lines_fit_the_width_and_are_inert(width: int) -> None:
    lines = variant_lines(hostile_rankings(), width=width)
    assert lines and all(len(line) <= width for line in lines)
    assert not any("\x1b" in line for line in lines)
    text = " ".join(line.strip() for line in lines)  # undo the wrapping
    assert ("a|b <script>alert(1)</script>: undecided: cannot decide at this size against "
            "control") in text
    # Six variants do not fit one table: the columns continue in a second one.
    assert sum(line.startswith("metric") for line in lines) >= 2


def test_markdown_escapes_variant_names_and_keeps_the_table_intact() -> None:
    md = variants_markdown(hostile_rankings())
    assert "<script>" not in md and "\x1b" not in md
    assert "a&#124;b &#60;script&#62;" in md
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 6
    assert len({row.count("|") for row in rows}) == 1
    assert "Worth an online experiment: **control** (control); only if cheap" in md
    assert ("- ❔ **a&#124;b &#60;script&#62;alert&#40;1&#41;&#60;/script&#62;** (undecided): "
            "cannot decide at this size") in md
