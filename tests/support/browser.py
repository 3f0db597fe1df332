"""A real browser's view of a Markdown report: GitHub's renderer, GitHub-like CSS, Chromium.

The report goes through ``cmark-gfm`` with GitHub's extensions
(:func:`tests.support.hostile.render_gfm`) into a page styled like a GitHub
comment (:data:`GITHUB_CSS`: its table, code block and font rules). Headless
Chromium then loads the page at a given width: a script at the end of the page
measures what the eye would see and writes it, as JSON, into the page itself,
which ``--dump-dom`` hands back; ``--screenshot`` keeps a picture of it.

What the script measures (see :func:`measure`): the page's visible text per
block (``innerText``, so what CSS hides is not there), each table's and code
block's ``scrollWidth`` against its ``clientWidth`` (GitHub gives both
``overflow: auto``, so a wider content means a horizontal scroll bar), the
page's own width, and the width of each box-drawing glyph the forest plot
uses, in its code font, against a plain letter: a text plot lines up only
when every glyph takes one cell.

Chromium is found on ``PATH`` (``chromium``, ``chromium-browser``,
``google-chrome``) or at ``LLMFUNNEL_CHROMIUM``; no browser is downloaded.
Not imported from ``conftest.py``: the tests that need it import it.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.hostile import render_gfm

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1",
)
TIMEOUT = 180.0  # seconds; generous, for a machine many test runs share
# The rules of GitHub's Markdown stylesheet that decide widths: the comment
# column, the fonts, tables (block, max-content, capped at 100% and scrolling)
# and code blocks (scrolling, 85% monospace).
GITHUB_CSS = """
body { margin: 0; background: #fff; }
.markdown-body { box-sizing: border-box; max-width: 980px; margin: 0 auto; padding: 45px;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
  sans-serif; font-size: 16px; line-height: 1.5; color: #1f2328; word-wrap: break-word; }
.markdown-body table { display: block; width: max-content; max-width: 100%; overflow: auto;
  border-spacing: 0; border-collapse: collapse; margin: 0 0 16px; }
.markdown-body td, .markdown-body th { padding: 6px 13px; border: 1px solid #d1d9e0; }
.markdown-body th { font-weight: 600; }
.markdown-body tr:nth-child(2n) { background: #f6f8fa; }
.markdown-body code, .markdown-body pre { font-family: ui-monospace, SFMono-Regular,
  "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 85%; }
.markdown-body pre { padding: 16px; overflow: auto; line-height: 1.45; background: #f6f8fa;
  border-radius: 6px; margin: 0 0 16px; }
.markdown-body pre code { font-size: 100%; padding: 0; background: transparent;
  white-space: pre; }
.markdown-body details { margin: 0 0 16px; }
"""
# Runs when the page is parsed: measures, then writes the JSON into the page.
SCRIPT = """
(function () {
  function box(el) {
    return {tag: el.tagName.toLowerCase(), text: el.innerText,
            scroll: el.scrollWidth, client: el.clientWidth};
  }
  var root = document.querySelector('.markdown-body');
  var blocks = Array.prototype.map.call(
    root.querySelectorAll(':scope > p, :scope > h2, :scope > h3, :scope > ul, :scope > pre,'
      + ' :scope > table, :scope > blockquote, :scope > details'), box);
  var pre = root.querySelector('pre') || root;
  var probe = document.createElement('span');
  probe.style.whiteSpace = 'pre';
  probe.style.position = 'absolute';
  probe.style.fontFamily = getComputedStyle(pre).fontFamily;
  probe.style.fontSize = getComputedStyle(pre).fontSize;
  document.body.appendChild(probe);
  var glyphs = {};
  GLYPHS.split('').forEach(function (g) {
    probe.textContent = new Array(41).join(g);
    glyphs[g] = probe.getBoundingClientRect().width / 40;
  });
  probe.remove();
  var out = {viewport: window.innerWidth, page: document.documentElement.scrollWidth,
             blocks: blocks, glyphs: glyphs};
  var sink = document.createElement('script');
  sink.type = 'application/json';
  sink.id = 'measured';
  sink.textContent = JSON.stringify(out).replace(/</g, '\\\\u003c');
  document.body.appendChild(sink);
})();
"""
PLOT_GLYPHS = "x0●━┫┣┆│┿◀▶┼─−±"


def find_chromium() -> str | None:
    """The Chromium to drive, or None when this machine has none."""
    given = os.environ.get("LLMFUNNEL_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def github_page(markdown: str, title: str = "report") -> str:
    """``markdown`` rendered as GitHub renders a comment, in a page that measures itself."""
    body = render_gfm(markdown)
    script = SCRIPT.replace("GLYPHS", json.dumps(PLOT_GLYPHS))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{GITHUB_CSS}</style></head>\n"
        f"<body><article class='markdown-body'>\n{body}</article>\n"
        f"<script>{script}</script></body></html>\n"
    )


@dataclass(frozen=True)
class Block:
    """One top-level block of the rendered comment, as the browser laid it out."""

    tag: str
    text: str
    scroll: int
    client: int

    @property
    def overflows(self) -> bool:
        return self.scroll > self.client


@dataclass(frozen=True)
class Measured:
    """What the page measured at one window width."""

    viewport: int
    page: int  # the document's scrollWidth
    blocks: tuple[Block, ...]
    glyphs: dict[str, float]  # glyph -> width in px in the code font


def _run(chromium: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, check=False,
        )


def measure(chromium: str, page: Path, width: int = 1000, height: int = 2000) -> Measured:
    """Load ``page`` at ``width`` px and read back what its script measured."""
    done = _run(chromium, [f"--window-size={width},{height}", "--dump-dom", page.as_uri()],
                page.parent)
    start = done.stdout.find('id="measured">')
    if done.returncode != 0 or start < 0:
        raise AssertionError(
            f"Chromium did not return the measured page (exit {done.returncode}):\n"
            + done.stderr[-2000:]
        )
    end = done.stdout.index("</script>", start)
    data: dict[str, Any] = json.loads(done.stdout[start + 14 : end])  # raw text: no entities
    return Measured(
        viewport=int(data["viewport"]), page=int(data["page"]),
        blocks=tuple(Block(b["tag"], b["text"], int(b["scroll"]), int(b["client"]))
                     for b in data["blocks"]),
        glyphs={k: float(v) for k, v in data["glyphs"].items()},
    )


def screenshot(chromium: str, page: Path, out: Path, width: int = 1000,
               height: int = 2000) -> None:
    """A PNG of ``page`` at ``width`` x ``height`` px."""
    done = _run(chromium, [f"--window-size={width},{height}", f"--screenshot={out}",
                           page.as_uri()], page.parent)
    if done.returncode != 0 or not out.exists():
        raise AssertionError(
            f"Chromium took no screenshot (exit {done.returncode}):\n" + done.stderr[-2000:]
        )


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct bytes in the pixel data) of an 8-bit PNG, by the stdlib.

    The number of distinct bytes tells a blank page (one or two) from a drawn one.
    """
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, bytearray()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(bytes(idat))
    return width, height, len(set(pixels))
