"""docs/ledger.md's walk-through runs as the page shows it, on the A/B example's ledger."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pytest_llmfunnel.cli import main
from tests.support.examples import run_example
from tests.support.paths import EXAMPLES, REPO

PAGE = REPO / "docs" / "ledger.md"
CONSOLE = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)


def steps() -> list[tuple[str, list[str]]]:
    """Each console block of the page: its command and the lines it prints."""
    out = []
    for block in CONSOLE.findall(PAGE.read_text(encoding="utf-8")):
        command, *printed = block.rstrip("\n").split("\n")
        assert command.startswith(("$ llmfunnel ledger ", "$ pytest --llm-funnel ")), command
        out.append((command[2:], printed))
    return out


def test_the_walkthrough_commands_print_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The loop in order: a pytest run of the example (the lines shown are among
    the lines it prints), then the ledger commands (exactly what they print)."""
    found = steps()
    assert [shlex.split(c)[:3] for c, _ in found] == [
        ["pytest", "--llm-funnel", "test_live_prompts.py"], ["llmfunnel", "ledger", "show"],
        ["llmfunnel", "ledger", "record-online"], ["llmfunnel", "ledger", "calibrate"]]
    (command, shown), *ledger_steps = found
    result = run_example("ab_variants", tmp_path, *shlex.split(command)[2:])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert shown and all(line in lines for line in shown), result.stdout
    folder = tmp_path / "ab_variants"
    assert len((folder / "today.jsonl").read_text().splitlines()) == 2
    assert (folder / "ledger.jsonl").read_bytes() == (
        EXAMPLES / "ab_variants" / "ledger.jsonl").read_bytes()
    monkeypatch.chdir(folder)
    for command, printed in ledger_steps:
        assert main(shlex.split(command)[1:]) == 0, command
        captured = capsys.readouterr()
        assert captured.err == ""
        assert captured.out.splitlines() == printed, command


@pytest.mark.slow
def test_keeping_a_ledger_prints_the_line_the_page_shows(tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    (shown,) = re.findall(r"\(`(run ledger: .*?)`\)", text)
    result = run_example("ab_variants", tmp_path, "--llm-funnel-ledger", ".llmfunnel/ledger.jsonl")
    assert result.returncode == 0, result.stdout + result.stderr
    assert shown in result.stdout.splitlines()
    written = (tmp_path / "ab_variants" / ".llmfunnel" / "ledger.jsonl").read_text()
    # control and treatment, and the live prompts first-sentence and matching
    assert len(written.splitlines()) == 4
