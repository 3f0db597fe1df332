"""The offline reference judge: transparent rules in place of an LLM.

With no judge endpoint configured, judge stages are still answered, by this
rule-based backend. It is not an LLM and does not pretend to be one: its
``identity`` says so on every verdict, and every answer's reasoning names the
rule and the numbers that produced it. It reads the plain case fields from
``request.subject`` (never the prompt), costs nothing and is deterministic.

Words are lowercased runs of letters and digits; *content words* are those not
in a short English stop-word list. Each rule gives a value in [0, 1]:

relevance
    share of the input's distinct content words that the output mentions.
faithfulness
    share of the output's distinct content words that occur in the context.
correctness
    token F1 between output and expected (SQuAD-style: lowercase words,
    articles dropped, counted with multiplicity).
coherence
    1, minus the share of sentences that repeat an earlier sentence, minus
    0.25 if sentences average more than 35 words, minus 0.25 if a text of more
    than 8 words stops mid-sentence (no closing punctuation).
tone
    1, minus 0.4 per rude word or phrase, minus 0.3 for shouting (at least
    three all-caps words of 4+ letters making up 30% of the words), minus 0.2
    for runs of ``!!`` or ``??``; never below 0.
any other criterion
    the relevance rule.

An output without content words scores 0 on every rule. The value is mapped
onto the request's scale as ``low + value * (high - low)``, rounded to two
decimals; the scale ``(0, 1)`` is taken as pass/fail (1 when value >= 0.5).

A pairwise request (``subject.output_b`` set) applies the criterion's rule to
both outputs; the one ahead by more than 0.05 wins, otherwise it is a tie.
Since the rule ignores the order shown, both orders always agree.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

from pytest_llmfunnel.backend import Completion, JudgeCallError, JudgeRequest, JudgeSubject
from pytest_llmfunnel.models import Usage

# A word list reads better as one string than as 130 quoted items.
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours""".split()  # noqa: SIM905
)
ARTICLES = frozenset({"a", "an", "the"})
RUDE_MARKERS = (
    "stupid",
    "idiot",
    "idiotic",
    "dumb",
    "moron",
    "pathetic",
    "loser",
    "shut up",
    "damn",
    "crap",
    "screw you",
    "how dare you",
    "what is wrong with you",
)
PAIRWISE_MARGIN = 0.05
LONG_SENTENCE_WORDS = 35

_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLEAN_END = tuple(".!?…\"')]}*`")
_RUDE = re.compile(r"\b(?:" + "|".join(re.escape(m) for m in RUDE_MARKERS) + r")\b", re.I)

#: A rule: (subject, output) -> (value in [0, 1], explanation).
Rule = Callable[[JudgeSubject, str], tuple[float, str]]


def words(text: str) -> list[str]:
    """Lowercased runs of letters and digits."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS}


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})"


def relevance(subject: JudgeSubject, output: str) -> tuple[float, str]:
    asked, said = content_words(subject.input), content_words(output)
    if not asked:
        return 0.5, "the input has no content words to compare with; neutral value"
    mentioned = len(asked & said)
    value = mentioned / len(asked)
    return value, f"the output mentions {_share(mentioned, len(asked))} content words of the input"


def faithfulness(subject: JudgeSubject, output: str) -> tuple[float, str]:
    if subject.context is None:
        raise JudgeCallError("missing_field", "the offline faithfulness rule needs a context")
    said, known = content_words(output), content_words(subject.context)
    supported = said & known
    value = len(supported) / len(said)
    text = (
        f"{value:.0%} of content words supported by the context ({len(supported)} of {len(said)})"
    )
    unsupported = sorted(said - known)[:5]
    return value, text + (f"; unsupported: {', '.join(unsupported)}" if unsupported else "")


def correctness(subject: JudgeSubject, output: str) -> tuple[float, str]:
    if subject.expected is None:
        raise JudgeCallError(
            "missing_field", "the offline correctness rule needs an expected answer"
        )
    got = Counter(w for w in words(output) if w not in ARTICLES)
    want = Counter(w for w in words(subject.expected) if w not in ARTICLES)
    common = sum((got & want).values())
    if not want:
        value = 1.0 if not got else 0.0
        return value, "the expected answer has no words; only an empty output matches it"
    if common == 0:
        return 0.0, "token F1 vs the expected answer is 0 (no words in common)"
    precision, recall = common / sum(got.values()), common / sum(want.values())
    value = 2 * precision * recall / (precision + recall)
    return value, (
        f"token F1 vs the expected answer is {value:.2f} "
        f"(precision {precision:.2f}, recall {recall:.2f})"
    )


def coherence(subject: JudgeSubject, output: str) -> tuple[float, str]:
    sentences = [s.strip() for s in _SENTENCE_END.split(output.strip()) if s.strip()]
    seen: set[str] = set()
    repeated = 0
    for sentence in sentences:
        key = " ".join(words(sentence))
        repeated += key in seen
        seen.add(key)
    count = len(sentences)
    average = len(words(output)) / count
    long = average > LONG_SENTENCE_WORDS
    cut = len(words(output)) > 8 and not output.rstrip().endswith(_CLEAN_END)
    value = max(0.0, 1.0 - repeated / count - 0.25 * long - 0.25 * cut)
    return value, (
        f"{count} sentence{'s' if count != 1 else ''}, {_share(repeated, count)} repeated, "
        f"{average:.0f} words per sentence{' (too long)' if long else ''}, "
        + ("stops mid-sentence" if cut else "ends cleanly")
    )


def tone(subject: JudgeSubject, output: str) -> tuple[float, str]:
    rude = sorted({m.group().lower() for m in _RUDE.finditer(output)})
    tokens = re.findall(r"[^\W\d_]+", output)
    caps = [t for t in tokens if len(t) >= 4 and t.isupper()]
    shouting = len(caps) >= 3 and len(caps) >= 0.3 * len(tokens)
    piled = bool(re.search(r"[!?]{2,}", output))
    value = max(0.0, 1.0 - 0.4 * len(rude) - 0.3 * shouting - 0.2 * piled)
    found = [f"rude: {', '.join(rude)}"] if rude else []
    found += [f"shouting ({len(caps)} all-caps words)"] if shouting else []
    found += ["piled-up !! or ??"] if piled else []
    return value, "markers found: " + "; ".join(found) if found else "no rude or shouting markers"


RULES: dict[str, Rule] = {
    "relevance": relevance,
    "faithfulness": faithfulness,
    "correctness": correctness,
    "coherence": coherence,
    "tone": tone,
}


def evaluate(subject: JudgeSubject, output: str) -> tuple[float, str, str]:
    """``(value in [0, 1], rule name, explanation)`` for one output."""
    name = subject.criterion.lower() if subject.criterion.lower() in RULES else "relevance"
    if not content_words(output):
        return 0.0, name, "the output has no content words"
    value, text = RULES[name](subject, output)
    return value, name, text


def to_scale(value: float, low: float, high: float) -> float:
    """Map a rule value onto the scale; ``(0, 1)`` is treated as pass/fail."""
    if (low, high) == (0.0, 1.0):
        return 1.0 if value >= 0.5 else 0.0
    return round(low + value * (high - low), 2)


class OfflineReferenceJudge:
    """A :class:`~pytest_llmfunnel.backend.JudgeBackend` answering by documented rules."""

    identity = "offline-reference-judge v1 (rule-based, not an LLM)"
    base_url = "offline://reference"
    model = "offline-reference-v1"
    supports_json_schema = True

    async def complete(self, request: JudgeRequest) -> Completion:
        """Answer from ``request.subject``; the prompt itself is not read."""
        subject = request.subject
        if subject is None:
            raise JudgeCallError(
                "no_subject",
                "the offline reference judge needs the request's subject (the plain case "
                "fields); build requests with the judge stages' requests() method",
            )
        answer = self._pairwise(subject) if subject.output_b is not None else self._rubric(subject)
        return Completion(
            content=json.dumps(answer, ensure_ascii=False),
            finish_reason="stop",
            usage=Usage(),
            model=self.model,
        )

    def _rubric(self, subject: JudgeSubject) -> dict[str, object]:
        value, rule, text = evaluate(subject, subject.output)
        score = to_scale(value, subject.scale_min, subject.scale_max)
        reasoning = f"offline reference judge ({rule} rule): {text} -> score {score:g}"
        return {"reasoning": reasoning, "score": score}

    def _pairwise(self, subject: JudgeSubject) -> dict[str, object]:
        assert subject.output_b is not None
        value_a, rule, text_a = evaluate(subject, subject.output)
        value_b, _, text_b = evaluate(subject, subject.output_b)
        if abs(value_a - value_b) <= PAIRWISE_MARGIN:
            winner = "tie"
        else:
            winner = "A" if value_a > value_b else "B"
        reasoning = (
            f"offline reference judge ({rule} rule, pairwise): A {value_a:.2f} ({text_a}); "
            f"B {value_b:.2f} ({text_b}) -> {winner}"
        )
        return {"reasoning": reasoning, "winner": winner}
