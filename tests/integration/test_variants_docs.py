"""docs/variants.md's walk-through runs as the page shows it, on the A/B example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.support.examples import run_example
from tests.support.paths import REPO

PAGE = REPO / "docs" / "variants.md"


def section(heading: str) -> str:
    """The page's text from ``heading`` to the next heading of its level or above."""
    text = PAGE.read_text(encoding="utf-8")
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2:]
    ends = [m.start() for m in re.finditer(f"^#{{1,{len(level)}}} ", rest, re.M)]
    return rest[: ends[0]] if ends else rest


def blocks(kind: str, heading: str = "## Walk-through: the A/B example") -> list[list[str]]:
    found = re.findall(rf"^```{kind}\n(.*?)^```$", section(heading), re.S | re.M)
    return [text.rstrip("\n").split("\n") for text in found]


def block(kind: str) -> list[str]:
    found = blocks(kind)
    assert len(found) == 1, kind
    return found[0]


def test_the_walkthrough_prints_the_ranking_the_page_shows(tmp_path: Path) -> None:
    (command,) = block("console")
    args = shlex.split(command.removeprefix("$ "))
    assert args[:2] == ["pytest", "--llm-funnel"]
    result = run_example("ab_variants", tmp_path, *args[2:])
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "ab_variants" / "report.md").read_text(encoding="utf-8")
    rows = block("markdown")
    assert rows and all(row in report.splitlines() for row in rows), report
    # What the page says in words is what the report says.
    for said in ("relevance pass rate: treatment highest, clearly ahead of control",
                 "faithfulness pass rate: control highest, tied within noise of treatment",
                 "clearly worse than treatment: relevance pass rate: worse beyond the margin: "
                 "diff -56.7pt",
                 "the tolerance 2.0pt needs about 14307 cases"):
        assert said in report, said
    assert "Worth an online experiment: **treatment** (control)." in report


def test_a_control_named_on_the_command_line_is_the_one_compared_with(tmp_path: Path) -> None:
    result = run_example("ab_variants", tmp_path, "--llm-funnel-report=report.md",
                         "--llm-funnel-variant-control=control")
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "ab_variants" / "report.md").read_text(encoding="utf-8")
    assert "each against the control control on every gated metric" in report
    assert "| 2 | control | 🏆 control |" in report
    # Against the old prompt the new one is far better: non-inferior, and it goes online.
    assert "| 1 | treatment | ✅ non-inferior |" in report
    assert "Worth an online experiment: **control** (control), **treatment**." in report


def test_the_live_variants_walkthrough_prints_what_the_page_shows(tmp_path: Path) -> None:
    """Each command in order, in one copy of the example: the lines shown are among
    the lines it prints (the second run replays the first's recorded outputs)."""
    steps = blocks("console", "### Walk-through: two live prompts")
    assert len(steps) == 2
    for command, *shown in steps:
        args = shlex.split(command.removeprefix("$ "))
        assert args[:3] == ["pytest", "--llm-funnel", "test_live_prompts.py"]
        result = run_example("ab_variants", tmp_path, *args[2:])
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert shown and all(line in lines for line in shown), (shown, result.stdout)
    assert "--llm-funnel-cache=replay-only" in args  # the rerun needed no target or judge
