"""docs/ledger.md's walk-through runs as the page shows it, on the A/B example's ledger."""

from __future__ import annotations

import re
import shlex
import shutil
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
        assert command.startswith("$ llmfunnel ledger "), command
        out.append((command[2:], printed))
    return out


def test_the_walkthrough_commands_print_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(EXAMPLES / "ab_variants" / "ledger.jsonl", tmp_path / "ledger.jsonl")
    monkeypatch.chdir(tmp_path)
    found = steps()
    assert [shlex.split(c)[2] for c, _ in found] == ["show", "record-online", "calibrate"]
    for command, printed in found:
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
    assert len(written.splitlines()) == 2  # control and treatment
