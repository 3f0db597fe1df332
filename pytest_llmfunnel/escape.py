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
* :func:`json_text` - JSON a person may open (results, review files);
* :func:`guard_cell` - a CSV cell a spreadsheet must not run as a formula.

Inline Markdown is escaped with numeric character references rather than
backslashes: a reference is always literal text after parsing, it is never a
table delimiter, and it cannot be undone by a preceding backslash.

References do not stop what GitHub links by itself: cmark-gfm's autolink
extension turns bare ``https://``, ``www.`` and e-mail addresses into links,
and GitHub resolves ``#123``, ``org/repo#1``, ``GH-1`` and ``@user`` in the
rendered text. :func:`unlink` puts a WORD JOINER (U+2060) at the one place
that breaks each pattern: before the ``:`` of a scheme, between ``www`` and
its dot, after ``@``, between ``#`` and a digit, between ``GH`` and ``-``.
It is invisible, so the comment reads exactly
as the text was written; unlike a zero-width space it adds no line-break
opportunity, and unlike a ZERO WIDTH JOINER it never combines with its
neighbours (emoji sequences). A copied case id or reason pastes with the
joiner in it, which a search still finds by its visible parts; a copied link
does not work until it is retyped, which is the point.

:func:`clean` removes, for every renderer, what a terminal or a reader must
never receive from untrusted text: C0 and C1 controls and the escape
sequences they start (CSI, OSC, OSC 8 hyperlinks, DCS...), bidirectional
controls, Unicode tag characters (U+E0000-U+E007F, used to smuggle hidden
text), and other invisible format characters (zero-width space, word joiner,
BOM). ZERO WIDTH (NON-)JOINER are kept where they do work, between two
non-ASCII characters (emoji sequences, Persian and Indic words); between ASCII
letters they only hide things, and go. :func:`json_text` keeps the text but
writes those characters, and U+2028/U+2029, as JSON escapes.
"""

from __future__ import annotations

import re
import unicodedata

# Re-exported: the renderers cut untrusted text with the one truncation helper.
from pytest_llmfunnel.display import ELLIPSIS as ELLIPSIS
from pytest_llmfunnel.display import truncate as truncate

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
# Tag characters, including the unassigned ones of the block.
_TAGS = range(0xE0000, 0xE0080)
_JOINERS = "\u200c\u200d"
_WORD_JOINER = "\u2060"
# What GitHub would link or resolve; a word joiner goes after each match
# (before it for the colon of a scheme). Matches consume text rather than
# test every position with look-behinds: about 1.5 times faster.
_LIVE = re.compile(
    r"""
      @                     # @user, @org/team, e-mail addresses
    | \#(?=\d)              # #123, org/repo#1
    | \bGH(?=-\d)           # GH-1
    | \bwww(?=\.)           # www.example.com
    | :(?=/)                # http://, https://, ftp://, any scheme
    | \b(?:mailto|xmpp)(?=:)
    """,
    re.VERBOSE | re.IGNORECASE,
)

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
    s = _ESCAPES.sub("", s)
    out = []
    for i, ch in enumerate(s):
        if ch in "\n\t":
            out.append(ch if keep_newlines else " ")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ch in _JOINERS:
            if _joins(s, i):
                out.append(ch)
        elif unicodedata.category(ch) not in ("Cc", "Cf") and ord(ch) not in _TAGS:
            out.append(ch)  # other spaces, private use, unassigned: visible or harmless
    return "".join(out)


def _joins(s: str, i: int) -> bool:
    """Whether the joiner at ``s[i]`` sits between two visible non-ASCII characters."""
    before, after = s[i - 1 : i], s[i + 1 : i + 2]
    return all(c and not c.isascii() and c.isprintable() for c in (before, after))


def json_text(text: str) -> str:
    """JSON text with C1 controls, format characters and line separators written as escapes.

    ``text`` is the output of :func:`json.dumps` with ``ensure_ascii=False``:
    such characters can only stand inside its strings, where ``\\uXXXX``
    means the same, so :func:`json.loads` gives back the very same value.
    """
    return "".join(_json_escape(ch) if _json_unsafe(ch) else ch for ch in text)


def _json_unsafe(ch: str) -> bool:
    return not ch.isprintable() and ch not in "\n " and (
        unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or ord(ch) in _TAGS
    )


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def one_line(text: object) -> str:
    """Cleaned text with every run of whitespace collapsed to one space."""
    return " ".join(clean(text).split())


def strip_escapes(line: str) -> str:
    """A line we laid out ourselves, minus any escape sequence or control character.

    Unlike :func:`terminal_text` this keeps spacing (table columns) as it is.
    """
    return clean(line)


def terminal_text(text: object, limit: int | None = 120) -> str:
    """Untrusted text as one inert terminal line of at most ``limit`` characters."""
    return truncate(one_line(text), limit)


def unlink(text: str) -> str:
    """``text`` with a word joiner wherever GitHub would make a link, reference or mention."""
    return _LIVE.sub(_join, text)


def _join(match: re.Match[str]) -> str:
    found = match.group(0)
    return _WORD_JOINER + found if found == ":" else found + _WORD_JOINER


def md_text(text: object, limit: int | None = 300) -> str:
    """Untrusted text as inert inline Markdown: no links, images, HTML, code, table breaks,
    references or mentions.

    The text is collapsed to one line and truncated *before* escaping, so a
    cut never splits a character reference.
    """
    return unlink(truncate(one_line(text), limit)).translate(_MD_TABLE)


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
    return unlink(truncate(one_line(text), limit)).translate(_HTML_TABLE)


_FORMULA = re.compile(r"^'*[=+\-@\t\r]")  # what a spreadsheet may run as a formula
_GUARDED = re.compile(r"^'+[=+\-@\t\r]")


def guard_cell(text: str) -> str:
    """A spreadsheet cell: ``'`` before text a spreadsheet would run as a formula (reversible)."""
    return "'" + text if _FORMULA.match(text) else text


def unguard_cell(text: str) -> str:
    """Undo :func:`guard_cell`: drop one leading ``'`` before a formula character."""
    return text[1:] if _GUARDED.match(text) else text

