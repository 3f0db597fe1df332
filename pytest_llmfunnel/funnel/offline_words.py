"""The words the offline reference judge's rules compare: content words and their stems.

Shared by the rubric rules (:mod:`pytest_llmfunnel.funnel.offline_judge`,
whose docstring explains *content words*) and the RAG rules
(:mod:`pytest_llmfunnel.funnel.offline_rag`).
"""

from __future__ import annotations

import re

# A word list reads better as one string than as 200 quoted items.
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while
    who whom why will with within without would you your yours yourself via per upon
    may might must shall let lets get gets got getting go goes going make makes made
    want wants need needs know like also still even well really simply already
    d ll m re s t ve don doesn didn isn aren wasn weren won wouldn couldn shouldn haven hasn
    hi hello hey please thanks thank sorry happy glad help sure yes ok okay
    one way thing things something anything ask asking happen happens long much many often
    soon able possible exactly actually currently now right""".split()  # noqa: SIM905
)
# Procedural verbs of instructions ("click", "open", "follow the steps"): they tell
# the user what to do rather than state a fact a context could support.
INSTRUCTION_WORDS = frozenset(
    """click clicking tap press open select choose enter type follow step steps use using
    check try find see look visit head contact""".split()  # noqa: SIM905
)
IGNORED = STOPWORDS | INSTRUCTION_WORDS
#: Stripped in this order, longest first; at most one per word.
SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")
#: How every reasoning string starts, so no reader mistakes it for an LLM's.
PREFIX = "offline reference judge (rule-based, not an LLM)"

_WORD = re.compile(r"[^\W_]+")
_DOUBLED = re.compile(r"([b-df-hj-np-tv-z])\1$")


def words(text: str) -> list[str]:
    """Lowercased runs of letters and digits."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A light stem: one common suffix off, then a final "e" and a doubled consonant."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= (4 if suffix == "ly" else 3):
            if suffix == "s" and word.endswith("ss"):
                continue
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return _DOUBLED.sub(r"\1", word) if len(word) > 3 else word


def content_tokens(text: str) -> list[str]:
    """The stems of the non-stop words, in order, with repeats."""
    return [stem(w) for w in words(text) if w not in IGNORED]


def content_words(text: str) -> set[str]:
    return set(content_tokens(text))
