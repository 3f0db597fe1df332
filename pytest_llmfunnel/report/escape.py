"""Making untrusted text safe for each place a report puts it.

Model outputs, judge reasons, case ids, tags and stage names are untrusted: an
output can contain terminal escape sequences that repaint a CI log, or
Markdown and HTML that turn a pull-request comment into a phishing link, an
image that pings a server, or a table that swallows the verdict. Every
renderer passes such text through exactly one function of this module, chosen
by context:

* :func:`terminal_text` - one line for a terminal;
* :func:`strip_escapes` - a line we built ourselves (a table row) that may
  contain untrusted fragments; removes sequences without touching layout;
* :func:`md_text` / :func:`md_cell` - inline Markdown (a paragraph, a table cell);
* :func:`md_code_block` - a fenced block the text cannot close;
* :func:`html_text` - text inside an HTML element such as ``<summary>``;
* :func:`mermaid_label` - a label inside a Mermaid chart.

Inline Markdown is escaped with numeric character references rather than
backslashes: a reference is always literal text after parsing, it is never a
table delimiter, and it cannot be undone by a preceding backslash.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"

# ESC-introduced sequences: CSI, OSC/DCS/SOS/PM/APC strings (ended by BEL or
# ST, or unterminated), then any other two-byte escape; and their 8-bit C1 forms.
_ESCAPES = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?                      # CSI ... final byte
    | \x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?  # OSC / DCS / SOS / PM / APC
    | \x1b[ -/]*[0-~]?                              # other escapes (nF, Fp, Fe, Fs)
    | \x9b[0-?]*[ -/]*[@-~]?                        # 8-bit CSI
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x9c)?  # 8-bit string commands
    """,
    re.VERBOSE,
)
# Bidirectional overrides and isolates can make text read differently from
# what it is ("Trojan source"); zero-width characters hide content.
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0xFEFF], None
)
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_WORD_JOINER = "\u2060"

# Characters with a meaning inside a line of Markdown (GitHub flavour: tables,
# strikethrough, math, issue links) or HTML, written as numeric references.
# Line-start syntax (``-``, ``+``, ``=``, ``1.``) is left alone: renderers
# always put escaped text after a prefix of their own.
_MD_SPECIAL = "\\`*_[]()!|~<>&#$"
_MD_TABLE = str.maketrans({c: f"&#{ord(c)};" for c in _MD_SPECIAL})
# Inside HTML, quotes too; the Markdown characters stay escaped so the text
# is also inert should a renderer parse Markdown inside the element.
_HTML_TABLE = str.maketrans({c: f"&#{ord(c)};" for c in _MD_SPECIAL + "\"'"})


def clean(text: object, *, keep_newlines: bool = False) -> str:
    """Text without escape sequences, control or invisible characters, or lone surrogates.

    Newlines (CR, CRLF and Unicode separators become ``\\n``) and tabs are kept
    with ``keep_newlines``, turned into spaces otherwise.
    """
    s = text if isinstance(text, str) else str(text)
    s = s.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> "?"
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace(
        "\u2029", "\n"
    )
    s = _ESCAPES.sub("", s).translate(_INVISIBLE)
    out = []
    for ch in s:
        if ch in "\n\t":
            out.append(ch if keep_newlines else " ")
        elif unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: object) -> str:
    """Cleaned text with every run of whitespace collapsed to one space."""
    return " ".join(clean(text).split())


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to at most ``limit`` characters, the last one an ellipsis."""
    if limit is None or len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    return text[: limit - 1] + ELLIPSIS


def strip_escapes(line: str) -> str:
    """A line we laid out ourselves, minus any escape sequence or control character.

    Unlike :func:`terminal_text` this keeps spacing (table columns) as it is.
    """
    return clean(line)


def terminal_text(text: object, limit: int | None = 120) -> str:
    """Untrusted text as one inert terminal line of at most ``limit`` characters."""
    return truncate(one_line(text), limit)


def _unmention(text: str) -> str:
    # GitHub notifies @users and @org/teams named in a comment; a word joiner
    # after the @ keeps the text readable but stops the mention.
    return _MENTION.sub("@" + _WORD_JOINER, text)


def md_text(text: object, limit: int | None = 300) -> str:
    """Untrusted text as inert inline Markdown: no links, images, HTML, code or table breaks.

    The text is collapsed to one line and truncated *before* escaping, so a
    cut never splits a character reference.
    """
    return _unmention(truncate(one_line(text), limit).translate(_MD_TABLE))


def md_cell(text: object, limit: int | None = 300) -> str:
    """Untrusted text for a Markdown table cell (one line, ``|`` escaped)."""
    return md_text(text, limit)


def longest_run(text: str, char: str) -> int:
    """Length of the longest run of ``char`` in ``text``."""
    best = run = 0
    for ch in text:
        run = run + 1 if ch == char else 0
        best = max(best, run)
    return best


def md_code_block(text: object, limit: int | None = 1000, info: str = "text") -> str:
    """Untrusted text as a fenced code block whose fence no line of the text can close.

    The fence is one backtick longer than the longest backtick run in the
    text (at least three); a truncated text says how long it was.
    """
    body = clean(text, keep_newlines=True).rstrip("\n")
    total = len(body)
    body = truncate(body, limit)
    fence = "`" * max(3, longest_run(body, "`") + 1)
    safe_info = re.sub(r"[^A-Za-z0-9_+-]", "", info)
    block = f"{fence}{safe_info}\n{body}\n{fence}"
    if len(body) < total:
        block += f"\n\n(truncated: {total:,} characters in all)"
    return block


def html_text(text: object, limit: int | None = 300) -> str:
    """Untrusted text inside an HTML element: one line, every markup character escaped."""
    return _unmention(truncate(one_line(text), limit).translate(_HTML_TABLE))


def mermaid_label(text: object, limit: int = 16) -> str:
    """A short chart label made only of characters Mermaid cannot misread.

    Quotes, brackets, backticks and semicolons would end a label or a
    statement, so anything outside a small safe set becomes ``_``.
    """
    safe = re.sub(r"[^A-Za-z0-9 _./%-]", "_", one_line(text))
    return truncate(safe, limit).replace(ELLIPSIS, "_") or "_"
