"""Invisible characters and look-alike letters: how text hides from a pattern.

Two Unicode tricks let a hostile output say one thing to a model and another
to a regular expression:

* **invisible characters** split a word ("Ig<U+200B>nore") or carry a whole
  hidden message: the tag characters U+E0020-U+E007E mirror printable ASCII,
  and models read them although nothing is shown;
* **look-alike letters** spell a word with letters of another script
  ("Ign\\u043ere" with a Cyrillic o) or with styled forms (full-width,
  mathematical bold, small capitals).

:data:`INVISIBLE_CLASS` lists the invisible characters once for both uses: the
judge prompt shows each as a visible escape (:mod:`pytest_llmfunnel.funnel.prompts`), and
:func:`reveal` drops them (decoding tag characters into the ASCII they
mirror) before a check matches words in the :func:`skeleton`.

:data:`CONFUSABLES` is a small, deliberate table in the spirit of the Unicode
confusables skeleton (UTS #39), kept to what is needed to match Latin words:

* Cyrillic letters that look like Latin ones (``а е о р с у х і ј ѕ ԁ ԛ ԝ ү
  һ ӏ`` and their capitals, plus ``в к м н т п г`` whose capital or small
  form is the look-alike). Each upper/lower pair maps to one Latin pair, so a
  pattern written in Cyrillic, passed through the same table, still matches
  Cyrillic text case-insensitively;
* Greek letters that look like Latin ones (``Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ`` and
  ``α ε ι κ ο ρ τ υ χ γ ν η ω ϲ ϳ``);
* Latin small capitals and IPA letters (``ᴀ ʙ ᴄ … ɪ ɴ ʀ …``, ``ı ȷ ɑ ɡ``) and
  Armenian ``օ ս``;
* colons and slashes that look like ``:`` and ``/`` (``∶ ꞉ ː ⁄ ∕``).

Full-width forms, mathematical alphanumerics (``𝐈𝐠𝐧𝐨𝐫𝐞``), circled and
other compatibility letters need no table: NFKC, applied first, maps them to
plain letters. The full UTS #39 table would also fold whole scripts (and
mangle legitimate Greek or Russian text) and needs a data dependency; this
one covers the letters an attacker uses to spell English keywords.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "CONFUSABLES",
    "INVISIBLE_CLASS",
    "reveal",
    "skeleton",
    "to_skeleton_letters",
]

#: Invisible characters, as the body of a regex character class: soft hyphen,
#: combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer
#: inherent vowels, Mongolian selectors and vowel separator, zero-width
#: space/joiners and LRM/RLM, bidi embeddings, overrides and isolates, word
#: joiner and invisible operators, variation selectors (both blocks), the
#: byte-order mark, shorthand format controls, musical format controls and
#: the tag characters.
INVISIBLE_CLASS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
# Arabic short-vowel marks and the tatweel stretch a word without changing it;
# both are optional in writing, so patterns are written without them.
_ARABIC_MARKS = "\u0640\u064b-\u065f\u0670"
_DROPPED = re.compile(f"[{INVISIBLE_CLASS}{_ARABIC_MARKS}]")

# Tag characters U+E0020-U+E007E mirror ASCII 0x20-0x7E; U+E0001 and U+E007F
# (language tag, cancel tag) carry nothing and are dropped with the rest.
_TAG_TO_ASCII = {cp: chr(cp - 0xE0000) for cp in range(0xE0020, 0xE007F)}

_PAIRS = {
    # Cyrillic upper/lower pairs -> Latin upper/lower pairs
    "Аа": "Aa", "Вв": "Bb", "Ее": "Ee", "Кк": "Kk", "Мм": "Mm", "Нн": "Hh", "Оо": "Oo",
    "Рр": "Pp", "Сс": "Cc", "Тт": "Tt", "Уу": "Yy", "Хх": "Xx", "Ѕѕ": "Ss", "Іі": "Ii",
    "Јј": "Jj", "Ԁԁ": "Dd", "Ԛԛ": "Qq", "Ԝԝ": "Ww", "Үү": "Yy", "Һһ": "Hh", "Ӏӏ": "Il",
    "Пп": "Nn", "Гг": "Rr",
    # Greek
    "Αα": "Aa", "Εε": "Ee", "Ιι": "Ii", "Κκ": "Kk", "Οο": "Oo", "Ρρ": "Pp", "Ττ": "Tt",
    "Υυ": "Yu", "Χχ": "Xx", "Ηη": "Hn", "Νν": "Nv", "Ϲϲ": "Cc",
}
_SINGLES = {
    "Β": "B", "Ζ": "Z", "Μ": "M", "γ": "y", "ω": "w", "ϳ": "j",
    # Latin small capitals and IPA letters
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",
    "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",
    "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g",
    # Armenian
    "օ": "o", "ս": "u",
    # punctuation
    "∶": ":", "꞉": ":", "ː": ":", "⁄": "/", "∕": "/",
}
#: Look-alike letter -> the Latin letter it imitates (see the module docstring).
CONFUSABLES: dict[str, str] = {
    **{src[i]: dst[i] for src, dst in _PAIRS.items() for i in (0, 1)},
    **_SINGLES,
}
_LETTERS = str.maketrans(CONFUSABLES)


def to_skeleton_letters(text: str) -> str:
    """Only the look-alike letters of ``text`` replaced (one character for one)."""
    return text.translate(_LETTERS)


def reveal(text: str) -> str:
    """``text`` with nothing hidden: NFKC, tag characters decoded, invisibles dropped.

    Tag characters become the ASCII they mirror, so a hidden message becomes
    visible text; every other invisible character is removed, and so are
    Arabic short-vowel marks and the tatweel.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TAG_TO_ASCII)
    return _DROPPED.sub("", text)


def skeleton(text: str) -> str:
    """``text`` as a pattern should see it: :func:`reveal`, then look-alikes made Latin.

    The letter mapping replaces one character by one, so a position in the
    skeleton is the same position in ``reveal(text)``.
    """
    return to_skeleton_letters(reveal(text))
