"""Two live prompt variants and the small offline target that answers with them.

A real target would send the variant's prompt to a model; this one is a
deterministic stand-in, so the example runs offline and gives the same
answers everywhere: it answers from the case's policy passage, picking the
sentences the variant's ``pick`` setting asks for.

* ``first-sentence`` answers with the passage's first sentence, whatever was
  asked (the old prompt: "answer in one sentence from the policy");
* ``matching`` answers with the sentences that share the most words with the
  question (the new prompt: "answer with the policy sentences that address
  the question").

Edit a variant's settings and rerun: only that variant's answers are produced
again (the others come from the recorded outputs), and only they are judged.
"""

from __future__ import annotations

import re

from pytest_llmfunnel import Case, Variant

LIVE_CONTROL = "first-sentence"
LIVE_VARIANTS: dict[str, dict[str, object]] = {
    LIVE_CONTROL: {
        "prompt": "Answer in one sentence from the policy.",
        "pick": "first",
        "sentences": 1,
    },
    "matching": {
        "prompt": "Answer with the policy sentences that address the question.",
        "pick": "matching",
        "sentences": 2,
    },
}

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")
_SMALL = frozenset("a an and are as at be by can do does for from how i in is it my of on or "
                   "the to we what when where which who why with you your".split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _SMALL}


def answer(case: Case, variant: Variant) -> str:
    """The variant's answer to ``case``: sentences of its policy passage."""
    sentences = _SENTENCE.split(case.context or "")
    count = int(variant["sentences"])
    if variant["pick"] == "first":
        return " ".join(sentences[:count])
    asked = _words(case.input if isinstance(case.input, str) else "")
    ranked = sorted(range(len(sentences)),
                    key=lambda i: (-len(asked & _words(sentences[i])), i))
    return " ".join(sentences[i] for i in sorted(ranked[:count]))
