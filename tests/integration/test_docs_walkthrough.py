"""The user documentation stays true to the code.

Every option of ``config.OPTIONS`` is in the configuration table with its
spellings; every flag, ini key and environment variable any page names
exists; every relative link (and its anchor) resolves; the CI workflow parses
and carries the report's real marker; code blocks compile; and the getting
started walk-through produces the output it shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO

ROOT = REPO
DOCS = ROOT / "docs"
# A backtick fence's info string holds no backtick (CommonMark), so ```` `x` ```` is no fence.
FENCE = re.compile(r"^(```+|~~~+)[ \t]*([\w+-]*)[^\n`]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code_blocks(text: str, language: str | None = None) -> list[str]:
    """The fenced code blocks of a Markdown text, optionally of one language."""
    return [body for _, lang, body in FENCE.findall(text) if language in (None, lang)]


def workflow() -> tuple[str, dict[Any, Any]]:
    """The GitHub Actions workflow block of docs/ci.md, as text and parsed."""
    yaml = pytest.importorskip("yaml")
    blocks = [b for b in code_blocks(read(DOCS / "ci.md"), "yaml") if "runs-on:" in b]
    assert len(blocks) == 1, "docs/ci.md should hold exactly one GitHub Actions workflow"
    parsed = yaml.safe_load(blocks[0])
    assert isinstance(parsed, dict)
    return blocks[0], parsed


def walkthrough(pytester: pytest.Pytester) -> str:
    """Write the getting-started dataset and test into ``pytester``; return the page."""
    text = read(DOCS / "getting-started.md")
    (dataset,) = code_blocks(text, "json")
    (test,) = [b for b in code_blocks(text, "python") if "llm_dataset" in b]
    pytester.makefile(".jsonl", cases=dataset)
    pytester.makepyfile(test_answers=test)
    return text


def shown_table(text: str) -> list[str]:
    """The funnel table lines of the first run shown on the page."""
    console = next(b for b in code_blocks(text, "console") if "llm-funnel" in b)
    lines = console.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test_answers.py::"))
    end = lines.index("", start)
    return lines[start:end]


def test_the_walkthrough_run_shows_what_the_page_shows(pytester: pytest.Pytester) -> None:
    text = walkthrough(pytester)
    skipped = pytester.runpytest("-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=3)

    first = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")
    assert first.ret == 0
    first.stdout.re_match_lines([r"=+ 2 passed, 1 llm-failed in [\d.]+s =+"])
    assert "2 passed, 1 llm-failed in" in text
    table = shown_table(text)
    assert len(table) == 7
    first.stdout.fnmatch_lines([re.sub(r"([*?\[])", r"[\1]", line) for line in table])
    first.stdout.fnmatch_lines(["  made-up-discount  faithfulness: failed (score 1)*"])

    again = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider")
    # Every verdict from the cache: 3 hits, 0 misses, 0 requests sent.
    again.stdout.re_match_lines(
        [r"faithfulness +3 +2 +1 +0 +3 +0 +0 ", r"relevance +3 +3 +0 +0 +3 +0 +0 "]
    )
    assert "the `hits` column now shows 3 for each judge and `sent` 0" in text

    selected = pytester.runpytest("--llm-funnel", "-p", "no:cacheprovider", "-k", "returns")
    assert selected.parseoutcomes() == {"passed": 1, "deselected": 2}


def test_the_walkthrough_dry_run_prints_what_the_page_shows(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = walkthrough(pytester)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")  # a configured endpoint; nothing is sent
    (shown,) = [b for b in code_blocks(text, "text") if b.startswith("dry run:")]
    result = pytester.runpytest(
        "--llm-funnel", "-p", "no:cacheprovider", "--llm-funnel-dry-run",
        "--llm-funnel-price-in", "0.15", "--llm-funnel-price-out", "0.60",
    )
    assert result.ret == 0
    for line in shown.splitlines():
        assert line in result.stdout.lines


def test_the_walkthrough_baseline_steps_print_what_the_page_shows(
    pytester: pytest.Pytester,
) -> None:
    text = walkthrough(pytester)
    (ini,) = [b for b in code_blocks(text, "ini") if "llm_funnel_baseline_dir" in b]
    pytester.makeini(ini)
    (missing,) = [b for b in code_blocks(text, "text") if "no baseline file yet" in b]
    (update,) = [b for b in code_blocks(text, "console") if "baseline written" in b]
    (passed,) = [b for b in code_blocks(text, "text") if "gate passed" in b]
    args = ("--llm-funnel", "-p", "no:cacheprovider")

    first = pytester.runpytest(*args)
    assert first.ret == 1
    first.stdout.fnmatch_lines(missing.splitlines())

    written = pytester.runpytest(*args, "--llm-funnel-update-baseline")
    assert written.ret == 0
    shown = [line for line in update.splitlines() if not line.startswith(("$", "..."))]
    written.stdout.fnmatch_lines(shown)
    assert (pytester.path / "llm-baselines" / "test_answers__test_answers.jsonl").is_file()

    gated = pytester.runpytest(*args)
    assert gated.ret == 0
    gated.stdout.fnmatch_lines(passed.splitlines())
