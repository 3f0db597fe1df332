"""The offline reference judge: transparent rules in place of an LLM.

With no judge endpoint configured, judge stages are still answered, by this
rule-based backend. It is not an LLM and does not pretend to be one: its
``identity`` says so on every verdict, and every answer's reasoning starts
with :data:`PREFIX` ("offline reference judge (rule-based, not an LLM)") and
names the rule and the numbers that produced it. It reads the plain case fields from
``request.subject`` (never the prompt), costs nothing and is deterministic.
Its rules are deliberately simple so that a reader can predict every score;
they catch clear failures (off-topic, unsupported, rude, truncated, wrong)
and let clearly good answers through, nothing subtler.

Words (the names below are in :mod:`pytest_llmfunnel.funnel.offline_words`)
    lowercased runs of letters and digits. *Content words* are words not in
    :data:`STOPWORDS` (function words, contraction pieces, conversational
    filler such as "please" or "happy", generic question words such as "long"
    or "happen") nor in :data:`INSTRUCTION_WORDS` (procedural verbs such as
    "click" or "open"), each reduced to a *stem*: one suffix
    of :data:`SUFFIXES` is stripped when at least 3 letters remain (4 for "ly";
    "ies"/"ied" become "y"; a final "s" after "s" is kept), then a final "e" is dropped
    from a stem longer than 3 letters and a final doubled consonant is
    undoubled. So "refunds", "refunded" and "refunding" are all "refund".
    Negation ("no", "not") is a stop word: the rules cannot see it.

Each rule gives a value v in [0, 1]; ``Q``, ``A``, ``C`` and ``E`` are the sets
of distinct content words of the input (question), the output (answer), the
context and the expected answer:

relevance
    recall ``r = |Q ∩ A| / |Q|`` (how many of the question's key terms the
    answer takes up), saturating: ``v = min(1, r / 0.4)``. Questions have few
    key terms and good answers paraphrase, so taking up 40% earns full marks
    and 30% reaches the default threshold (4 of 1-5); the rule is there to
    catch answers about something else, which share none or almost none. With
    no content words in the question, v = 0.5.
faithfulness
    support share ``s = |N ∩ C| / |N|`` over the answer's new words
    ``N = A - Q`` (words that merely repeat the question claim nothing);
    ``v = s``, so 75% support scores 4 on 1-5. An answer with no new words
    gets v = 0.5: there is nothing to check, and the rule does not vouch for it.
    With no case context, ``C`` is the words of the output's retrieved chunks.
correctness
    over content words counted with multiplicity, recall ``R`` of the
    expected answer's words in the output and token F1; ``v = 0.75 R +
    0.25 F1``. A complete but wordier answer passes (R = 1, F1 = 0.5 gives
    0.875); one that misses half the expected words does not.
coherence
    ``1 - repeated/sentences``, minus 0.25 if sentences average more than 35
    words, minus 0.5 if a text of more than 8 words stops mid-sentence (no
    closing punctuation); never below 0.
tone
    1, minus 0.4 per rude or dismissive phrase of :data:`RUDE_MARKERS`, minus
    0.3 for shouting (at least three all-caps words of 4+ letters making up
    30% of the words), minus 0.2 for runs of ``!!`` or ``??``; never below 0.
any other criterion (``overall``, custom rubrics)
    the mean of relevance, coherence and tone, plus faithfulness when the
    request shows a context and correctness when it shows an expected answer.

An output without content words scores 0 on every rule. The value is mapped
onto the request's scale as ``low + v * (high - low)``, rounded to two
decimals; the scale ``(0, 1)`` is taken as pass/fail (1 when v >= 0.5).

A pairwise request (``subject.output_b`` set) applies the criterion's rule to
both outputs; the one ahead by more than 0.05 wins, otherwise it is a tie.
Since the rule ignores the order shown, both orders always agree.

A RAG judge's request (its subject a ``RagSubject``) is answered by the rules
of :mod:`pytest_llmfunnel.funnel.offline_rag`, per claim, chunk or statement,
in the structured form that judge asks for; a whole-conversation judge's (a
``ConversationSubject``) by those of :mod:`pytest_llmfunnel.funnel.offline_conversation`.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Callable

from pytest_llmfunnel.funnel import offline_conversation, offline_rag
from pytest_llmfunnel.funnel.backend import Completion, JudgeCallError, JudgeRequest, JudgeSubject
from pytest_llmfunnel.funnel.offline_words import PREFIX, content_tokens, words

# Re-exported: the rules are written in these words, and readers look for them here.
from pytest_llmfunnel.funnel.offline_words import content_words as content_words
from pytest_llmfunnel.funnel.offline_words import stem as stem
from pytest_llmfunnel.funnel.rag_answers import RagSubject
from pytest_llmfunnel.funnel.stages.conversation_judges import ConversationSubject
from pytest_llmfunnel.models import Usage

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
    "calm down",
    "deal with it",
    "not our problem",
    "not my problem",
    "as i already said",
    "read the manual",
    "figure it out yourself",
)
RELEVANCE_SATURATION = 0.4
CORRECTNESS_RECALL_WEIGHT = 0.75
PAIRWISE_MARGIN = 0.05
LONG_SENTENCE_WORDS = 35

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLEAN_END = tuple(".!?…\"')]}*`")
_RUDE = re.compile(r"\b(?:" + "|".join(re.escape(m) for m in RUDE_MARKERS) + r")\b", re.I)

#: A rule: (subject, output) -> (value in [0, 1], explanation).
Rule = Callable[[JudgeSubject, str], tuple[float, str]]


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})"


def _listed(label: str, items: set[str], limit: int = 5) -> str:
    shown = sorted(items)[:limit]
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return f"; {label}: {', '.join(shown)}{more}" if shown else ""


def relevance(subject: JudgeSubject, output: str) -> tuple[float, str]:
    asked, said = content_words(subject.input), content_words(output)
    if not asked:
        return 0.5, "the input has no content words to compare with; neutral value"
    taken = asked & said
    recall = len(taken) / len(asked)
    value = min(1.0, recall / RELEVANCE_SATURATION)
    text = (
        f"the output takes up {_share(len(taken), len(asked))} key terms of the input "
        f"(full marks from {RELEVANCE_SATURATION:.0%})"
    )
    return value, text + _listed("not taken up", asked - said)


def faithfulness(subject: JudgeSubject, output: str) -> tuple[float, str]:
    chunks = subject.structured.context if subject.structured is not None else ()
    grounds = [subject.context] if subject.context is not None else [c.text for c in chunks]
    if not grounds:
        raise JudgeCallError("missing_field", "the offline faithfulness rule needs a context")
    new = content_words(output) - content_words(subject.input)
    if not new:
        return 0.5, "the output adds no words beyond the question; nothing to check, neutral"
    supported = new & set().union(*(content_words(text) for text in grounds))
    value = len(supported) / len(new)
    text = (
        f"{_share(len(supported), len(new))} of the output's new content words are in the context"
    )
    return value, text + _listed("unsupported", new - supported)


def correctness(subject: JudgeSubject, output: str) -> tuple[float, str]:
    if subject.expected is None:
        raise JudgeCallError(
            "missing_field", "the offline correctness rule needs an expected answer"
        )
    got, want = Counter(content_tokens(output)), Counter(content_tokens(subject.expected))
    if not want:
        return 0.5, "the expected answer has no content words to compare with; neutral value"
    common = sum((got & want).values())
    if common == 0:
        return 0.0, "no content words in common with the expected answer" + _listed(
            "missing", set(want)
        )
    precision, recall = common / sum(got.values()), common / sum(want.values())
    f1 = 2 * precision * recall / (precision + recall)
    value = CORRECTNESS_RECALL_WEIGHT * recall + (1 - CORRECTNESS_RECALL_WEIGHT) * f1
    return value, (
        f"recall of the expected answer's words {recall:.2f}, token F1 {f1:.2f} "
        f"(precision {precision:.2f})" + _listed("missing", set(want - got))
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
    value = max(0.0, 1.0 - repeated / count - 0.25 * long - 0.5 * cut)
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
    found = [f"rude or dismissive: {', '.join(rude)}"] if rude else []
    found += [f"shouting ({len(caps)} all-caps words)"] if shouting else []
    found += ["piled-up !! or ??"] if piled else []
    return value, "markers found: " + "; ".join(found) if found else "no rude or shouting markers"


def overall(subject: JudgeSubject, output: str) -> tuple[float, str]:
    parts: list[tuple[str, Rule]] = [
        ("relevance", relevance),
        ("coherence", coherence),
        ("tone", tone),
    ]
    if subject.context is not None:
        parts.append(("faithfulness", faithfulness))
    if subject.expected is not None:
        parts.append(("correctness", correctness))
    values = {name: rule(subject, output)[0] for name, rule in parts}
    shown = ", ".join(f"{name} {value:.2f}" for name, value in values.items())
    return statistics.fmean(values.values()), f"mean of the rules ({shown})"


RULES: dict[str, Rule] = {
    "relevance": relevance,
    "faithfulness": faithfulness,
    "correctness": correctness,
    "coherence": coherence,
    "tone": tone,
}


def evaluate(subject: JudgeSubject, output: str) -> tuple[float, str, str]:
    """``(value in [0, 1], rule name, explanation)`` for one output."""
    name = subject.criterion.lower()
    rule = RULES.get(name, overall)
    name = name if name in RULES else "overall"
    if not content_words(output):
        return 0.0, name, "the output has no content words"
    value, text = rule(subject, output)
    return value, name, text


def to_scale(value: float, low: float, high: float) -> float:
    """Map a rule value onto the scale; ``(0, 1)`` is treated as pass/fail."""
    if (low, high) == (0.0, 1.0):
        return 1.0 if value >= 0.5 else 0.0
    return round(low + value * (high - low), 2)


class OfflineReferenceJudge:
    """A :class:`~pytest_llmfunnel.funnel.backend.JudgeBackend` answering by documented rules.

    The version in ``model`` is part of every cache key, so answers recorded
    under older rules are not replayed as if these rules had given them.
    """

    identity = "offline-reference-judge v2 (rule-based, not an LLM)"
    base_url = "offline://reference"
    model = "offline-reference-v2"
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
        if isinstance(subject, RagSubject):
            answer = self._rag(subject)
        elif isinstance(subject, ConversationSubject):
            answer = offline_conversation.answer(subject)
        elif subject.output_b is not None:
            answer = self._pairwise(subject)
        else:
            answer = self._rubric(subject)
        return Completion(
            content=json.dumps(answer, ensure_ascii=False),
            finish_reason="stop",
            usage=Usage(),
            model=self.model,
        )

    def _rubric(self, subject: JudgeSubject) -> dict[str, object]:
        value, rule, text = evaluate(subject, subject.output)
        score = to_scale(value, subject.scale_min, subject.scale_max)
        reasoning = f"{PREFIX}, {rule} rule: {text} -> score {score:g}"
        return {"reasoning": reasoning, "score": score}

    def _rag(self, subject: RagSubject) -> dict[str, object]:
        return offline_rag.answer(subject)

    def _pairwise(self, subject: JudgeSubject) -> dict[str, object]:
        assert subject.output_b is not None
        value_a, rule, text_a = evaluate(subject, subject.output)
        value_b, _, text_b = evaluate(subject, subject.output_b)
        if abs(value_a - value_b) <= PAIRWISE_MARGIN:
            winner = "tie"
        else:
            winner = "A" if value_a > value_b else "B"
        reasoning = (
            f"{PREFIX}, {rule} rule, pairwise: "
            f"A {value_a:.2f} ({text_a}); B {value_b:.2f} ({text_b}) -> {winner}"
        )
        return {"reasoning": reasoning, "winner": winner}
