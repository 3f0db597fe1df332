"""The honest ranking's three outcomes, on simulated variants with known answers."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from pytest_llmfunnel import stats
from pytest_llmfunnel.gate.paired_tests import binary_test
from pytest_llmfunnel.report.variants import variant_lines, variants_markdown
from pytest_llmfunnel.variants.outcomes import paired_probe
from pytest_llmfunnel.variants.ranking import VariantRanking, rank_variants
from tests.support.variant_records import pairwise_records, variant

QUALITY = "quality pass rate"
PROMOTION = "promotion rate"
RATES = {"baseline": 0.70, "better": 0.85, "equal": 0.70, "worse": 0.50, "unsure": 0.63}


def simulate(n: int, seed: int = 7, noise: float = 0.03) -> list:  # type: ignore[type-arg]
    """One latent difficulty per case; a variant passes below its rate, its judge flips at noise."""
    rng = random.Random(seed)
    outcomes: dict[str, list[str]] = {v: [] for v in RATES}
    for _ in range(n):
        u = rng.random()
        for v, rate in RATES.items():
            outcomes[v].append("pass" if (u < rate) != (rng.random() < noise) else "fail")
    return [r for v, o in outcomes.items() for r in variant(v, o)]


def only(rankings: list[VariantRanking]) -> VariantRanking:
    assert len(rankings) == 1
    return rankings[0]


@pytest.fixture(scope="module")
def at_200() -> VariantRanking:
    return only(rank_variants(simulate(200), control="baseline"))


@pytest.fixture(scope="module")
def at_5000() -> VariantRanking:
    return only(rank_variants(simulate(5000), control="baseline"))


def test_each_variant_gets_its_known_outcome_at_200_cases(at_200: VariantRanking) -> None:
    got = {v.variant: (v.outcome, v.online) for v in at_200.variants}
    assert got == {
        "baseline": ("control", "yes (control)"),
        "better": ("non-inferior", "yes"),
        "equal": ("non-inferior", "yes"),
        "worse": ("clearly worse", "no"),
        "unsure": ("undecided", "only if cheap"),
    }
    assert at_200.variants[0].variant == "baseline"  # the named control leads
    assert "clearly worse than baseline: quality pass rate: worse beyond the margin" in (
        at_200.result("worse").reason)
    assert "cannot decide at this size against baseline" in at_200.result("unsure").reason
    # Only a non-inferior variant is promoted offline; undecided is not "discarded" in words.
    assert at_200.candidates == ("baseline", "better", "equal")


def test_the_undecided_variant_decides_with_5000_cases(
    at_200: VariantRanking, at_5000: VariantRanking,
) -> None:
    unsure = next(c for c in at_200.result("unsure").comparisons if c.metric == QUALITY)
    assert unsure.verdict is not None and unsure.verdict.decide_at is not None
    assert 200 < unsure.verdict.decide_at < 5000  # the size it names is one that decides
    assert at_5000.result("unsure").outcome == "clearly worse"
    assert at_5000.result("equal").outcome == "non-inferior"
    q = next(c for c in at_5000.result("equal").comparisons if c.metric == QUALITY).verdict
    assert q is not None and q.margin == pytest.approx(0.02)  # 5000 cases resolve the tolerance


def nam_margin_and_cases(q: float, n: int, level: float, tol: float) -> tuple[float, int]:
    """Closed forms (Nam 1997, no corrections) for the margin n cases resolve and for the cases
    the tolerance needs, when nothing changed and a share q of the pairs is discordant."""
    za, zb = stats.norm_ppf(1 - level), stats.norm_ppf(0.8)

    def sd0(m: float) -> float:  # null SD at Δ = -m: Tango's restricted MLE, per case
        a, b, c = 2.0, -q + 2.0 * (-m), -(q / 2) * (-m) * (1 + m)
        p = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
        return math.sqrt(2 * p - m * (1 + m))

    m = 0.1
    for _ in range(200):
        m = (za * sd0(m) + zb * math.sqrt(q)) / math.sqrt(n)
    return m, math.ceil(((za * sd0(tol) + zb * math.sqrt(q)) / tol) ** 2)


def test_stated_margin_and_cases_for_the_tolerance_match_the_closed_form(
    at_200: VariantRanking,
) -> None:
    k = 2 * 4  # two gated metrics for each of four variants: the Bonferroni level of the MDE
    for name in ("equal", "unsure", "worse"):
        v = next(c for c in at_200.result(name).comparisons if c.metric == QUALITY).verdict
        assert v is not None and v.flips is not None
        q = sum(v.flips) / 200
        margin, cases = nam_margin_and_cases(q, 200, 0.05 / k, 0.02)
        assert v.margin > v.tolerance == 0.02
        assert v.margin == pytest.approx(margin, rel=0.06)
        assert v.tighter == pytest.approx(cases, rel=0.06)


def test_holm_runs_across_every_comparison_of_the_dataset(at_200: VariantRanking) -> None:
    comps = [c for v in at_200.variants for c in v.comparisons]
    assert len(comps) == 8
    raw = []
    for c in comps:
        v = c.verdict
        assert v is not None and v.flips is not None
        worse, better = v.flips
        diffs = [-1.0] * worse + [1.0] * better + [0.0] * (200 - worse - better)
        raw.append(binary_test(diffs, 200, v.margin).p_noninferior)
    assert [c.verdict.p_noninferior for c in comps if c.verdict] == pytest.approx(
        stats.holm(raw))
    # The unadjusted p-value alone would have been smaller for all but the largest.
    assert sum(a < b for a, b in zip(raw, stats.holm(raw), strict=True)) >= 1


def test_best_on_what_says_clearly_ahead_or_tied_within_noise(at_200: VariantRanking) -> None:
    lead = {x.metric: x for x in at_200.leaders}
    assert lead[QUALITY].variant == "better" and lead[QUALITY].clear
    assert not lead[PROMOTION].clear  # every variant promotes every case: a tie


def test_a_pairwise_win_rate_is_a_gated_metric_that_can_rule_a_variant_out() -> None:
    # Equal on every pass rate, but the pairwise judge prefers a in 60 of 70 decisive cases.
    ranking = only(rank_variants(pairwise_records({"a/b": [1.0] * 60 + [-1.0] * 10
                                                   + [0.0] * 30}, 100), control="a"))
    name = "pref win rate vs a"
    assert name in [m.name for m in ranking.metrics]
    assert ranking.value("b", name) == pytest.approx(10 / 70)
    b = ranking.result("b")
    assert b.outcome == "clearly worse" and name in b.reason
    v = next(c for c in b.comparisons if c.metric == name).verdict
    assert v is not None and v.diff == pytest.approx(10 / 70 - 0.5)
    k = 3  # promotion rate, quality pass rate, win rate
    za, zb = stats.norm_ppf(1 - 0.05 / k), stats.norm_ppf(0.8)
    assert v.margin == pytest.approx((za + zb) * 0.5 / math.sqrt(70))
    lead = {x.metric: x for x in ranking.leaders}
    assert lead[name].variant == "a" and lead[name].clear


def test_a_named_control_and_the_default_control() -> None:
    records = simulate(200)
    default = only(rank_variants(records))
    assert default.control == "better" and default.variants[0].variant == "better"
    named = only(rank_variants(records, control="worse"))
    assert named.control == "worse" and named.result("better").outcome == "non-inferior"
    # A name the dataset does not have: compared with the best, and the note says so.
    unknown = only(rank_variants(records, control="nobody"))
    assert unknown.control == "better"
    assert "no variant is named 'nobody': compared with the best, better" in unknown.note


HOSTILE = "x|y <b>\x1b[31m"


def test_the_table_in_the_terminal_and_markdown_answers_online_experiment() -> None:
    records = [r for r in simulate(200) if r.variant != "unsure"]
    for r in simulate(200):
        if r.variant == "unsure":
            records.append(replace(r, variant=HOSTILE))
    ranking = only(rank_variants(records, control="baseline"))
    lines = variant_lines([ranking], width=80)
    assert all(len(line) <= 80 for line in lines) and not any("\x1b" in x for x in lines)
    text = "\n".join(lines)
    assert "online?" in text and "only if cheap" in text
    md = variants_markdown([ranking])
    assert "<b>" not in md and "\x1b" not in md and "x&#124;y &#60;b&#62;" in md
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0].rstrip(" |").endswith("online experiment?")
    assert len({row.count("|") for row in rows}) == 1
    by_name = {row.split(" | ")[1]: row for row in rows[2:]}
    assert by_name["worse"].endswith("| no |")
    assert by_name["equal"].endswith("| yes |")
    assert any(row.endswith("| only if cheap |") for row in rows)


def test_the_numbers_docs_variants_quotes() -> None:
    # docs/variants.md: 200 cases, 20 discordant pairs each way, two gated metrics.
    probe = paired_probe(QUALITY, "binary", [1.0] * 20 + [0.0] * 20 + [1.0] * 160,
                         [0.0] * 20 + [1.0] * 20 + [1.0] * 160)
    assert round(probe.margin_mde(0.05 / 2) * 100, 1) == 9.4
    assert probe.needed(0.05 / 2, 0.0, 0.02, False) == 3989


@pytest.mark.parametrize(("flips", "decided"), [(15, "non-inferior"), (28, "clearly worse")])
def test_the_cases_named_to_decide_do_decide_at_the_same_rates(flips: int, decided: str) -> None:
    # b fails flips of 1000 cases a passes: 1.5 points (within 2) or 2.8 points (beyond 2).
    def ranking(n: int, k: int) -> VariantRanking:
        return only(rank_variants(variant("a", ["pass"] * n)
                                  + variant("b", ["fail"] * k + ["pass"] * (n - k))))

    b = ranking(1000, flips).result("b")
    assert b.outcome == "undecided"
    v = next(c for c in b.comparisons if c.metric == QUALITY).verdict
    assert v is not None and v.decide_at is not None and v.decide_at > 1000
    # The same rates at the size named: the observed difference is now decided.
    n = v.decide_at
    assert ranking(n, round(flips * n / 1000)).result("b").outcome == decided


def test_a_margin_past_a_whole_pass_rate_is_capped_at_one() -> None:
    # Two cases that both flip: the smallest margin this size resolves is 100
    # points, and just past it the test refused the margin (-1.000001).
    from pytest_llmfunnel.variants.outcomes import decide_family

    probe = paired_probe("judge pass rate", "binary", [1.0, 1.0], [0.0, 0.0])
    (verdict,) = decide_family([probe], [0.02], 0.05)
    assert verdict.margin <= 1.0
    assert not verdict.noninferior
