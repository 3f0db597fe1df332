"""``llmfunnel ledger calibrate`` on a shipped ledger whose answers were worked out by hand.

tests/data/ledger/calibration.jsonl: six variants, each one offline run
(helpfulness pass rate difference against the baseline; promotion rate
difference 0) and one online outcome on ``csat``; plus an outcome for a
variant no run measured.

| variant | offline diff | promoted | online effect | online |
| v1 | +0.10 | yes | +0.030 | win  |
| v2 | +0.05 | yes | +0.010 | win  |
| v3 | +0.02 | yes | -0.005 | flat |
| v4 | -0.01 | yes | +0.002 | flat |
| v5 | -0.04 | no  | -0.020 | loss |
| v6 | -0.08 | no  | -0.010 | loss |
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmfunnel.ledger.calibrate import MIN_EXPERIMENTS, calibrate, calibration_lines, match
from pytest_llmfunnel.ledger.entries import OnlineEntry
from pytest_llmfunnel.ledger.files import Ledger, read_ledgers
from tests.support.paths import DATA

FIXTURE = DATA / "ledger" / "calibration.jsonl"


def test_promoted_variants_that_won_and_the_rest() -> None:
    result = calibrate(read_ledgers([FIXTURE]))
    assert len(result.matched) == 7
    assert [m.online.variant for m in result.unmatched] == ["v9"]
    # Promoted: v1..v4, of which v1 and v2 won; not promoted: v5, v6, neither won.
    assert [m.online.variant for m in result.promoted] == ["v1", "v2", "v3", "v4"]
    assert [m.online.variant for m in result.not_promoted] == ["v5", "v6"]
    lines = list(calibration_lines(result))
    assert "promoted offline, won online:     2 of 4 (50%)" in lines
    assert "not promoted offline, won online: 0 of 2 (0%)" in lines
    assert lines[-1] == ("note: exp-9 (v9): no offline run of this variant in the ledger; "
                         "left out")


def test_rank_correlation_and_the_two_by_two_per_metric() -> None:
    result = calibrate(read_ledgers([FIXTURE]))
    helpful = next(c for c in result.metrics if c.metric == "helpfulness pass rate")
    # Ranks (offline, online): v1 (6,6) v2 (5,5) v3 (4,3) v4 (3,4) v5 (2,1) v6 (1,2):
    # sum d^2 = 4, rho = 1 - 6*4/(6*35) = 31/35.
    assert helpful.correlation.rho == pytest.approx(31 / 35)
    assert helpful.correlation.low == pytest.approx(0.0664, abs=1e-4)
    # Up (diff > 0): v1 win, v2 win, v3 flat; not up: v4 flat, v5 loss, v6 loss.
    assert (helpful.up_win, helpful.up_other, helpful.down_win, helpful.down_other) == (2, 1, 0, 3)
    assert helpful.agreement == pytest.approx(5 / 6)
    assert helpful.says == "predicts online wins"
    # The promotion rate never moved: nothing to rank on, every experiment "not up".
    flat = next(c for c in result.metrics if c.metric == "promotion rate")
    assert flat.correlation.rho is None and flat.says == "no spread to rank on"
    assert (flat.up_win, flat.up_other, flat.down_win, flat.down_other) == (0, 0, 2, 4)


def test_with_few_experiments_nothing_is_said_either_way() -> None:
    ledger = read_ledgers([FIXTURE])
    few = Ledger(runs=ledger.runs, online=ledger.online[: MIN_EXPERIMENTS - 1])
    result = calibrate(few)
    helpful = next(c for c in result.metrics if c.metric == "helpfulness pass rate")
    assert helpful.says.startswith("too few experiments to say")
    assert any("these shares say little" in line for line in calibration_lines(result))


def test_with_a_control_the_offline_difference_is_taken_against_it_in_the_same_run() -> None:
    ledger = read_ledgers([FIXTURE])
    # Pretend v1 and v2 ran in one run (v2's run id), and the experiment compared them.
    v1 = next(r for r in ledger.runs if r.variant == "v1")
    v2 = next(r for r in ledger.runs if r.variant == "v2")
    v1_same_run = v1.model_copy(update={"run_id": v2.run_id, "time": v2.time})
    outcome = OnlineEntry(run_id="o", time="2027-01-01T00:00:00Z", variant="v1",
                          experiment="e", metric="csat", effect=0.01, decision="win",
                          control="v2")
    got = match(outcome, [v1, v2, v1_same_run])
    assert got.offline is v1_same_run  # the latest run of v1 at or before the outcome
    # v1 helpfulness 0.80 minus v2's 0.75, not v1's stored difference against the baseline.
    assert got.diffs["helpfulness pass rate"] == pytest.approx(0.05)


def test_no_outcome_yet_says_how_to_record_one(tmp_path: Path) -> None:
    lines = list(calibration_lines(calibrate(Ledger())))
    assert lines[0] == "calibration against online outcomes: 0 experiments, 0 matched to an " \
        "offline run"
    assert "llmfunnel ledger record-online VARIANT" in lines[1]
