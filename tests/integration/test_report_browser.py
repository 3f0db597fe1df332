"""The pull-request report as a reader sees it: GitHub's renderer, then a real Chromium.

Each report is rendered by ``cmark-gfm`` with GitHub's extensions into a page
with GitHub's width rules, loaded by headless Chromium at 1000 px (see
:mod:`tests.support.browser`). Checked: the verdict, the forest plot (line for
line, as the report wrote it) and the next step are on the page in that order;
neither the page nor the plot scrolls sideways; every glyph of the plot takes
one cell of the code font, so its columns line up; a screenshot is drawn.

Skipped, with the reason, only where no Chromium can be found (CI installs it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_llmfunnel.report.markdown import render_markdown
from pytest_llmfunnel.report.results_json import load_results
from tests.support.browser import (
    PLOT_GLYPHS,
    Measured,
    find_chromium,
    github_page,
    measure,
    png_size_and_colours,
    screenshot,
)
from tests.support.paths import DOCS, GOLDEN

WIDTH = 1000
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (chromium, chromium-browser or google-chrome on PATH, or "
    "LLMFUNNEL_CHROMIUM): the report is not checked in a browser; `apt-get install "
    "chromium` enables it",
)
PLOT_START = "change = current − baseline"


def golden_report() -> str:
    """The golden results' report: a regressed, an ok and a not comparable gated metric."""
    return render_markdown(load_results(GOLDEN / "results.json"))


def sample_report() -> str:
    """The shipped demo regression's report, as CI would post it (docs/sample-report.md)."""
    return (DOCS / "sample-report.md").read_text(encoding="utf-8")


def plot_of(markdown: str) -> str:
    """The forest plot's text as the report wrote it, from its code block."""
    found = re.search(r"^(`{3,})text\n(" + PLOT_START + r".*?)\n\1$", markdown, re.S | re.M)
    assert found, "the report has no forest plot"
    return found.group(2)


def load(markdown: str, tmp_path: Path, name: str) -> tuple[Path, Measured]:
    assert CHROMIUM is not None
    page = tmp_path / f"{name}.html"
    page.write_text(github_page(markdown, name), encoding="utf-8")
    return page, measure(CHROMIUM, page, WIDTH)


def index_of(measured: Measured, tag: str, starts: str) -> int:
    return next(i for i, b in enumerate(measured.blocks)
                if b.tag == tag and b.text.lstrip().startswith(starts))


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "report", "verdict"),
    [
        ("golden", golden_report, "❌ Regression in 1 of 3 gated metrics"),
        ("sample", sample_report, "❌ Regression in 2 of 3 gated metrics"),
    ],
    ids=["golden", "sample"],
)
def test_the_report_reads_in_order_and_fits_at_1000_px(
    tmp_path: Path, name: str, report: Callable[[], str], verdict: str
) -> None:
    markdown = report()
    _, seen = load(markdown, tmp_path, name)
    assert seen.viewport == WIDTH
    # Text: the verdict, the plot exactly as written, then what to do next.
    first = index_of(seen, "p", verdict)
    plot = index_of(seen, "pre", PLOT_START)
    last = index_of(seen, "p", "Next:")
    assert first < plot < last
    assert seen.blocks[plot].text.rstrip("\n") == plot_of(markdown)
    # Layout: no sideways scrolling of the page or the plot; the tables that fit, fit.
    assert seen.page <= WIDTH
    assert not seen.blocks[plot].overflows, seen.blocks[plot]
    tables = [b for b in seen.blocks if b.tag == "table"]
    assert tables
    assert not [b for b in tables if b.overflows]
    # Every glyph of the plot is one cell wide in the code font: across an
    # 80-column line the drift stays under half a cell.
    cell = seen.glyphs["x"]
    off = {g: w for g, w in seen.glyphs.items() if abs(w - cell) * 80 > cell / 2}
    assert not off, f"glyphs wider or narrower than a cell ({cell:.2f} px): {off}"
    assert set(PLOT_GLYPHS) <= set(seen.glyphs)


@needs_chromium
@pytest.mark.slow
def test_the_demo_regressions_funnel_and_quality_tables_fit_at_1000_px(tmp_path: Path) -> None:
    """The two tables a reviewer reads first, in GitHub's 890 px comment column."""
    _, seen = load(sample_report(), tmp_path, "sample")
    heads = [(b, b.text.split("\n", 1)[0].split("\t")) for b in seen.blocks if b.tag == "table"]
    funnel = [b for b, head in heads if "stage" in head and "passed" in head]
    quality = [b for b, head in heads if "metric" in head and "decision" in head]
    assert funnel and quality, [b.text[:40] for b in seen.blocks if b.tag == "table"]
    for block in (*funnel, *quality):
        assert block.client <= 890
        assert not block.overflows, (block.scroll, block.client, block.text[:80])


@needs_chromium
@pytest.mark.slow
def test_a_screenshot_of_the_report_at_1000_px(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "golden.html"
    page.write_text(github_page(golden_report()), encoding="utf-8")
    shot = tmp_path / "golden.png"
    screenshot(CHROMIUM, page, shot, WIDTH, 1600)
    width, height, colours = png_size_and_colours(shot)
    assert (width, height) == (WIDTH, 1600)
    assert colours > 16, "the screenshot is blank"


def test_the_page_measures_what_the_report_holds(tmp_path: Path) -> None:
    """Without a browser: the page holds GitHub's rendering and the measuring script."""
    page = github_page(golden_report())
    assert "<pre><code class=\"language-text\">" + PLOT_START in page
    assert "<table>" in page and "id = 'measured'" in page
    assert "max-width: 980px" in page and "overflow: auto" in page
