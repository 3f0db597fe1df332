"""The A/B example's whole loop: live prompt variants, their ranking, the shipped ledger.

The calibration's answers on the shipped ledger (``examples/ab_variants/ledger.jsonl``),
worked out by hand from its lines:

| experiment | variant | online | offline (ledger schema) |
| exp-concise | concise | flat | not promoted (1: discarded) |
| exp-steps | steps | win | promoted (1: candidate) |
| exp-friendly | friendly | flat | not promoted (1: discarded) |
| exp-cite-policy | cite-policy | win | promoted (1: best) |
| exp-short-links | short-links | loss | not promoted (1: discarded) |
| exp-matching | matching | win | non-inferior to first-sentence (2) |

so 3 of 3 promoted variants won and 0 of 3 others did. exp-matching's offline
differences come from the same run's control (first-sentence): relevance
0.966667 - 0.7 = +0.266667 (the run of 2026-06-01, the latest before the outcome).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_llmfunnel.cli import main
from pytest_llmfunnel.ledger.calibrate import calibrate
from pytest_llmfunnel.ledger.files import read_ledgers
from tests.support.examples import run_example
from tests.support.paths import EXAMPLES

LEDGER = EXAMPLES / "ab_variants" / "ledger.jsonl"


def test_calibrate_on_the_shipped_ledger_gives_the_known_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ledger", "calibrate", str(LEDGER)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("calibration against online outcomes: 6 experiments, "
                        "6 matched to an offline run")
    assert "promoted offline, won online:     3 of 3 (100%)" in lines
    assert "not promoted offline, won online: 0 of 3 (0%)" in lines
    [row] = [line for line in lines if line.startswith("exp-matching ")]
    assert row.split()[-4:] == ["win", "non-inferior", "within", "22.8pt"]
    result = calibrate(read_ledgers([LEDGER]))
    by = {m.online.experiment: m for m in result.matched}
    assert {e for e, m in by.items() if m.offline and m.offline.promoted} == {
        "exp-steps", "exp-cite-policy", "exp-matching"}
    matching = by["exp-matching"]
    assert matching.offline is not None and matching.offline.schema_ == 2
    assert matching.offline.outcome == "non-inferior" and matching.offline.time.startswith(
        "2026-06-01")
    assert matching.diffs["relevance pass rate"] == pytest.approx(0.966667 - 0.7)
    assert matching.offline.margin == pytest.approx(0.227573)
    old = by["exp-steps"].offline
    assert old is not None and old.schema_ == 1 and old.ranking == "candidate"


def test_the_live_prompts_are_ranked_and_recorded_per_variant(tmp_path: Path) -> None:
    args = ("test_live_prompts.py", "--llm-funnel-variant-control=first-sentence")
    result = run_example("ab_variants", tmp_path, *args, columns=100)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert " 100 passed, 20 llm-failed in " in out.strip().splitlines()[-1]
    said = " ".join(out.split())
    assert "matching: non-inferior: non-inferior to first-sentence on every gated metric" in said
    assert ("pairwise_helpfulness: matching wins 16, first-sentence wins 0, ties 44" in said)
    # A rerun takes every answer from the recorded outputs and every verdict from the cache.
    again = run_example("ab_variants", tmp_path, *args, "--llm-funnel-cache=replay-only")
    assert again.returncode == 0, again.stdout + again.stderr
    assert " 100 passed, 20 llm-failed in " in again.stdout.strip().splitlines()[-1]


def test_recording_an_outcome_then_calibrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(LEDGER, tmp_path / "ledger.jsonl")
    monkeypatch.chdir(tmp_path)
    # An experiment on the production prompt against itself that came out flat.
    assert main(["ledger", "record-online", "first-sentence", "--experiment", "exp-aa",
                 "--metric", "ticket resolution rate", "--effect", "0.001",
                 "--decision", "flat", "--ledger", "ledger.jsonl"]) == 0
    capsys.readouterr()
    assert main(["ledger", "calibrate", "ledger.jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("calibration against online outcomes: 7 experiments")
    # first-sentence was the control of its run: promoted offline, flat online.
    assert "promoted offline, won online:     3 of 4 (75%)" in lines
