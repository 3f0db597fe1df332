"""The shipped demo regression explains itself from the terminal alone.

``LLMFUNNEL_DEMO_REGRESSION=1 pytest --llm-funnel examples/support`` fails the
build on faithfulness. A new user reading only the terminal must be able to
name the three cases that hurt faithfulness most and why: each appears, with
its judge's reason, above the verdict line. Which three are worst is taken
from the run's own JSON results (baseline score minus current score), not
from the terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.examples import run_example
from tests.support.paths import REPO


def worst_faithfulness_drops(results: Path) -> list[tuple[float, str, str]]:
    """(drop, case, current reason) of every case faithfulness passed before and fails now."""
    drops = []
    for case in json.loads(results.read_text(encoding="utf-8"))["cases"]:
        now = {s["stage"]: s for s in case["stages"]}.get("faithfulness")
        base = {s["stage"]: s for s in (case["baseline"] or {"stages": []})["stages"]}.get(
            "faithfulness"
        )
        if now is None or base is None:
            continue
        if base["status"] == "passed" and now["status"] == "failed":
            drops.append((base["score"] - now["score"], case["case"], now["reason"]))
    return sorted(drops, key=lambda d: (-d[0], d[1]))


def test_the_terminal_names_the_three_worst_faithfulness_cases_and_why(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    run = run_example("support", tmp_path, f"--llm-funnel-json={results}",
                      LLMFUNNEL_DEMO_REGRESSION="1")
    assert run.returncode == 1, run.stdout
    lines = run.stdout.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("llm-funnel gate FAILED"))
    assert "faithfulness pass rate" in " ".join(lines[verdict:verdict + 3])
    drops = worst_faithfulness_drops(results)
    assert len(drops) >= 3
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("why ") and "faithfulness pass rate regressed" in line)
    assert start < verdict
    section = lines[start:verdict]
    listed = [line.split()[1].split("/", 1)[1] for line in section
              if line.startswith("  ") and line.split()[0].rstrip(".").isdigit()]
    # The first three listed are three of the largest drops (ties go by case id) ...
    by_case = {case: (drop, reason) for drop, case, reason in drops}
    assert sorted(by_case[c][0] for c in listed[:3]) == sorted(d for d, _, _ in drops[:3])
    # ... each shown with its judge's whole reason, wrapped but never cut.
    text = " ".join(" ".join(section).split())
    for case in listed[:3]:
        reason = " ".join(by_case[case][1].split())
        assert f"support/{case} faithfulness: pass → fail" in text
        assert f"why: {reason} input:" in text, case


def readme_regression_block() -> list[str]:
    """The README's abridged terminal block of the demo regression."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```text\n")[1:]]
    [block] = [b for b in blocks if "llm-funnel gate FAILED" in b]
    return block.splitlines()


def test_the_readmes_regression_block_matches_the_demo_output(tmp_path: Path) -> None:
    """Each part of the README's block (between its ``...`` elisions) is in the real output,
    in order, the same words whatever the width."""
    run = run_example("support", tmp_path, LLMFUNNEL_DEMO_REGRESSION="1")
    output = " ".join(run.stdout.split())
    parts: list[list[str]] = []
    current: list[str] = []
    for line in readme_regression_block():
        if line.strip() == "...":
            parts.append(current)
            current = []
        else:
            current.append(line)
    parts.append(current)
    at = 0
    for part in parts:
        words = " ".join(" ".join(part).split())
        found = output.find(words, at)
        assert found >= 0, f"the README's block is stale: not in the output:\n{words}"
        at = found + len(words)
