"""A corpus of hostile text, and the checks every renderer's output must pass.

Model outputs, judge and check reasons, tags, case ids, stage, metric,
variant, funnel and dataset names are untrusted. Each entry of :data:`CORPUS`
is one way such text could do harm in a report: a live link or image in the
pull-request comment, raw HTML, a broken table, a notification (``@user``,
``#123``), or a terminal escape that recolours the log, hides text or plants an
OSC 8 hyperlink. The tests put :data:`ALL` (every entry at once) into every
field a report shows and check the output with the parser people use:

* Markdown through GitHub's own renderer (``cmark-gfm`` with the ``autolink``,
  ``table`` and ``tagfilter`` extensions): :func:`markdown_problems`;
* terminal output through the characters pytest wrote: :func:`terminal_problems`;
* JSON through ``json.loads``, JUnit XML through ``xml.etree``.

Not imported from ``conftest.py``: the tests that need it import it.
"""

from __future__ import annotations

import html
import re
import unicodedata

CORPUS: dict[str, str] = {
    # Links GitHub makes by itself (autolink extension) or from Markdown syntax.
    "http": "http://evil.example/login?next=1",
    "https": "https://evil.example",
    "www": "www.evil.example",
    "www-upper": "WWW.EVIL.EXAMPLE/path",
    "ftp": "ftp://evil.example/file",
    "email": "victim@evil.example",
    "mailto": "mailto:victim@evil.example",
    "xmpp": "xmpp:victim@evil.example",
    "javascript": "javascript:alert(1)",
    "md-link": "[click me](https://evil.example)",
    "md-image": "![pixel](https://evil.example/p.png)",
    "md-ref-link": "[click][r1]\n\n[r1]: https://evil.example",
    "autolink-url": "<https://evil.example>",
    "autolink-email": "<victim@evil.example>",
    # Raw HTML and entities.
    "img": '<img src="https://evil.example/p.png" onerror=alert(1)>',
    "details": "<details open><summary>hidden</summary>",
    "close-details": "</details></summary>",
    "script": "<script>alert(1)</script>",
    "comment": "<!-- hidden -->",
    "entities": "&lt;b&gt; &amp; &#60;i&#62; &#x3C;u&#x3E;",
    # Markdown structure.
    "pipes": "a|b \\| c",
    "newlines": "line one\nline two\r\nline three\rfour",
    "backticks": "`code` and ``code``",
    "fence": "```\nfenced\n```\n~~~",
    "heading": "# Heading\n## Sub",
    "emphasis": "*bold* _it_ ~~gone~~ $x^2$",
    "html-block-break": "\n\n<div>\n\n",
    # References and mentions GitHub resolves after rendering.
    "issue": "see #123",
    "cross-repo": "fixed in org/repo#1",
    "gh-ref": "GH-1 and gh-42",
    "mention": "ping @octocat",
    "team": "cc @org/team",
    # Terminal control.
    "sgr": "\x1b[31mred\x1b[0m",
    "clear": "\x1b[2J\x1b[H",
    "osc8-bel": "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "osc8-st": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "title": "\x1b]0;owned\x07",
    "c0": "bell\x07 back\x08 nul\x00 vt\x0b ff\x0c del\x7f",
    "c1": "csi\x9b31m nel\x85 osc\x9d0;x\x9c",
    "bidi": "\u202eevil\u202c \u2066iso\u2069 \u200fmark \u061c",
    "tags": "smuggled\U000e0041\U000e0042\U000e007f \U000e0001\U000e0000",
    "zero-width": "pay\u200bpal w\u2060j bom\ufeff zwj\u200dx zwnj\u200cy",
    "separators": "line\u2028sep\u2029para",
}

#: Every entry at once, with a long tail (truncation must not leave half an escape).
ALL = " ".join(CORPUS.values()) + " " + "L" * 2_000

# --- terminal --------------------------------------------------------------------

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def bad_terminal_char(ch: str) -> bool:
    """A character that must never reach a terminal: a control, bidi, tag or invisible one."""
    code = ord(ch)
    if ch == "\n":
        return False
    return (
        code < 0x20 or 0x7F <= code <= 0x9F
        or ch in _BIDI
        or 0xE0000 <= code <= 0xE007F
        or ch in "\u2028\u2029\u200b\u2060\ufeff"
        or (unicodedata.category(ch) == "Cf" and ch not in "\u200c\u200d")
    )


def terminal_problems(text: str) -> list[str]:
    """Each forbidden character in ``text`` with a little context; [] when inert."""
    problems = []
    for i, ch in enumerate(text):
        if bad_terminal_char(ch):
            problems.append(f"U+{ord(ch):04X} in {text[max(0, i - 20):i + 20]!r}")
    for m in re.finditer(r"[\u200c\u200d]", text):
        before, after = text[m.start() - 1:m.start()], text[m.end():m.end() + 1]
        if before.isascii() or after.isascii():
            where = text[max(0, m.start() - 9):m.end() + 9]
            problems.append(f"joiner U+{ord(m.group()):04X} next to ASCII: {where!r}")
    return problems


# --- Markdown through cmark-gfm ----------------------------------------------------


def render_gfm(markdown: str) -> str:
    """HTML as GitHub's cmark-gfm makes it (autolink, table, tagfilter).

    Raw HTML is kept (``UNSAFE``), as on GitHub, whose sanitiser runs afterwards
    and allows ``<img>``, ``<details>`` and links: so any raw tag shows here.
    """
    import cmarkgfm
    from cmarkgfm.cmark import Options

    html: str = cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE,
        extensions=["autolink", "table", "tagfilter"],
    )
    return html


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)([^>]*)>|<!--.*?-->", re.S)
_CODE = re.compile(r"<pre[^>]*>.*?</pre>|<code>.*?</code>", re.S)
# What GitHub turns into a link or a notification after rendering (outside code).
_REFERENCES = {
    "mention": re.compile(r"(?<![\w`])@[A-Za-z0-9]"),
    "issue": re.compile(r"(?<!&)#\d"),
    "gh-ref": re.compile(r"\bGH-\d", re.I),
    "url": re.compile(r"\b(?:https?|ftp)://|\b(?:mailto|xmpp):", re.I),
    "www": re.compile(r"\bwww\.", re.I),
    "email": re.compile(r"[\w.+-]@[\w-]+\.\w"),
}


def skeleton(html_text: str) -> list[str]:
    """The sequence of tags (and comments) in rendered HTML, attributes included."""
    return [m.group(0) if m.group(0).startswith("<!--") else f"<{m.group(1)}{m.group(2)}"
            + (m.group(3).strip() and " " + m.group(3).strip()) + ">"
            for m in _TAG.finditer(html_text)]


def visible_text(html_text: str) -> str:
    """The text GitHub's reference and mention filters would see: outside code, unescaped."""
    return html.unescape(_TAG.sub(" ", _CODE.sub(" ", html_text)))


def markdown_problems(markdown: str, benign: str | None = None) -> list[str]:
    """What in ``markdown`` would be live or broken on GitHub; [] when inert.

    ``benign`` is the same report rendered with harmless text in every field:
    the hostile one must have exactly its structure (no extra link, image,
    emphasis, heading, HTML element, table row or cell).
    """
    rendered = render_gfm(markdown)
    problems = []
    tags = skeleton(rendered)
    for tag in tags:
        name = tag.lstrip("</").split(" ")[0].rstrip(">").lower()
        if name in ("a", "img", "script", "iframe", "style", "input", "div", "h1"):
            problems.append(f"live element {tag}")
    if benign is not None:
        expected = skeleton(render_gfm(benign))
        if tags != expected:
            extra = [t for t in tags if t not in expected] or tags[len(expected):]
            problems.append(f"structure differs from the benign report: {extra[:5]}")
    text = visible_text(rendered)
    for kind, rx in _REFERENCES.items():
        for m in rx.finditer(text):
            problems.append(f"{kind}: {text[max(0, m.start() - 20):m.end() + 20]!r}")
    problems += [f"character {p}" for p in terminal_problems(rendered.replace("\u2060", ""))]
    return problems
