"""``llmfunnel ledger show``, ``record-online`` and ``calibrate``, run in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_llmfunnel.cli import main
from pytest_llmfunnel.ledger.files import read_ledgers
from tests.support.paths import DATA, REPO

FIXTURE = DATA / "ledger" / "calibration.jsonl"
EXAMPLE = REPO / "examples" / "ab_variants" / "ledger.jsonl"


def test_show_reads_several_files_and_counts_a_run_found_twice_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "artifact.jsonl"
    shutil.copy(EXAMPLE, copy)
    assert main(["ledger", "show", str(EXAMPLE), str(copy), "--variant", "treatment"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "test_ab_variants.py::test_helpdesk_variant [treatment]: 3 runs"
    assert [line.split()[0] for line in out[3:6]] == ["1d9e6b2f", "8f3c5a7d", "f61d0a4c"]
    assert out[-2:] == ["  relevance pass rate     ▁▅█", "  faithfulness pass rate  ▁▆█"]


def test_show_names_a_damaged_line_on_stderr_and_shows_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + '{"kind": "run", "run_id": "x',
                    encoding="utf-8")
    assert main(["ledger", "show", str(path), "--last", "1"]) == 0
    captured = capsys.readouterr()
    lines = len(EXAMPLE.read_text(encoding="utf-8").splitlines())
    assert captured.err.startswith(f"llmfunnel: warning: {path}:{lines + 1}: not JSON")
    assert "line skipped" in captured.err
    assert "[treatment]: 1 run" in captured.out


def test_record_online_appends_one_line_that_calibrate_then_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.jsonl"
    shutil.copy(FIXTURE, path)
    before = read_ledgers([path])
    code = main(["ledger", "record-online", "v6", "--experiment", "exp-10", "--metric", "csat",
                 "--effect", "0.02", "--ci", "0.01", "0.03", "--decision", "win",
                 "--ledger", str(path)])
    assert code == 0
    assert capsys.readouterr().out == f"recorded win of v6 in exp-10 (csat +0.02) in {path}\n"
    after = read_ledgers([path])
    (new,) = [o for o in after.online if o not in before.online]
    assert (new.variant, new.effect, new.low, new.high, new.decision) == (
        "v6", 0.02, 0.01, 0.03, "win")
    assert main(["ledger", "calibrate", str(path)]) == 0
    out = capsys.readouterr().out
    # v6 was not promoted offline and has now won once online.
    assert "not promoted offline, won online: 1 of 3 (33%)" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--effect", "0.5", "--ci", "0.1", "0.2"], "does not hold the effect 0.5"),
    (["--effect", "nan"], "take finite numbers"),
])
def test_record_online_refuses_numbers_that_cannot_be_right(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = tmp_path / "ledger.jsonl"
    code = main(["ledger", "record-online", "v1", "--experiment", "e", "--metric", "m",
                 "--decision", "flat", "--ledger", str(path), *args])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not path.exists()


def test_without_a_file_the_commands_say_what_to_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ledger", "calibrate"]) == 1
    assert "no ledger file: name one, or set LLM_FUNNEL_LEDGER" in capsys.readouterr().err
    assert main(["ledger", "record-online", "v", "--experiment", "e", "--metric", "m",
                 "--effect", "0", "--decision", "flat"]) == 1
    assert "pass --ledger PATH, or set LLM_FUNNEL_LEDGER" in capsys.readouterr().err
    assert main(["ledger", "show", "absent.jsonl"]) == 1
    assert "no such ledger file" in capsys.readouterr().err


def test_the_ledger_file_may_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_FUNNEL_LEDGER", str(FIXTURE))
    assert main(["ledger", "calibrate"]) == 0
    assert "promoted offline, won online:     2 of 4 (50%)" in capsys.readouterr().out
