"""The offline reference judge's rules for the whole-conversation judges.

Like the other offline rules (:mod:`pytest_llmfunnel.funnel.offline_judge`),
these are simple, predictable and not an LLM; every reasoning starts with
:data:`~pytest_llmfunnel.funnel.offline_words.PREFIX` and names what it found,
by turn. They read the conversation's messages from the request's subject,
never the prompt. Each answers pass (1) or fail (0).

Turns
    a user message opens turn k (1, 2, ...); the assistant messages after it
    are turn k's reply.
*Content words*, *stems*
    as in :mod:`pytest_llmfunnel.funnel.offline_words`.

goal completed
    ``G`` the goal's content words, ``A`` those of every assistant reply;
    pass when the replies take up at least :data:`GOAL_SHARE` (60%) of ``G``.
consistent
    each sentence of a reply is a statement: its *figures* (runs of digits)
    and its content words less the figures. Two statements of different
    turns are about the same thing when they share at least
    :data:`SAME_THING` (50%) of their content words (Jaccard); they
    contradict when both hold figures and the figures differ, or when exactly
    one of them is negated (holds a word of :data:`NEGATIONS`). Pass when no
    two statements contradict.
remembers facts
    a *fact* is a token of a user message holding a digit (an order number,
    a date, an amount) or an e-mail address, *labelled* by the nearest
    content word before it in that message ("order" in "my order number is
    48213"). A later reply forgets it when it asks a question (holds "?")
    that names the label but not the fact, or gives another fact-shaped
    value within :data:`NEAR` (3) tokens after the label (a different value). Pass when no fact is
    forgotten; with no facts, pass (nothing to retain).
"""

from __future__ import annotations

import re
from itertools import combinations

from pytest_llmfunnel.funnel.offline_words import PREFIX, content_words, stem, words
from pytest_llmfunnel.funnel.stages.conversation_judges import ConversationSubject
from pytest_llmfunnel.output import Message

GOAL_SHARE = 0.6
SAME_THING = 0.5
NEAR = 3
NEGATIONS = frozenset({"not", "no", "never", "cannot", "can't", "won't", "don't", "doesn't",
                       "isn't", "aren't", "unable", "nothing"})
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_FACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|#?[A-Za-z]*\d[\w-]*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_LABEL_SKIP = frozenset({"number", "no", "id", "is", "was", "it", "its", "my", "the", "a", "of",
                         "num", "nr", "code", "reference", "ref"})


def _turns(messages: tuple[Message, ...]) -> list[tuple[int, str, str]]:
    """``(turn, user message, reply)`` for each turn."""
    turns: list[tuple[int, str, list[str]]] = []
    for message in messages:
        if message.role == "user":
            turns.append((len(turns) + 1, message.content, []))
        elif message.role == "assistant" and turns:
            turns[-1][2].append(message.content)
    return [(n, user, "\n".join(replies)) for n, user, replies in turns]


def goal_completed(subject: ConversationSubject) -> tuple[bool, str]:
    goal = content_words(subject.goal or "")
    if not goal:
        return False, "the goal has no content words to look for"
    said: set[str] = set()
    for _, _, reply in _turns(subject.messages):
        said |= content_words(reply)
    taken = goal & said
    share = len(taken) / len(goal)
    missing = ", ".join(sorted(goal - said)[:5])
    text = (f"the replies take up {len(taken)} of {len(goal)} ({share:.0%}) of the goal's "
            f"content words (pass from {GOAL_SHARE:.0%})")
    return share >= GOAL_SHARE, text + (f"; not taken up: {missing}" if missing else "")


def _statements(subject: ConversationSubject) -> list[tuple[int, str]]:
    found = []
    for number, _, reply in _turns(subject.messages):
        found += [(number, s.strip()) for s in _SENTENCE.split(reply) if s.strip()]
    return found


def consistent(subject: ConversationSubject) -> tuple[bool, str]:
    statements = _statements(subject)
    for (turn_a, a), (turn_b, b) in combinations(statements, 2):
        if turn_a == turn_b:
            continue
        words_a, words_b = content_words(_FIGURE.sub(" ", a)), content_words(_FIGURE.sub(" ", b))
        if not words_a or not words_b:
            continue
        overlap = len(words_a & words_b) / len(words_a | words_b)
        if overlap < SAME_THING:
            continue
        figures_a, figures_b = set(_FIGURE.findall(a)), set(_FIGURE.findall(b))
        negated_a = bool(NEGATIONS.intersection(words(a)))
        negated_b = bool(NEGATIONS.intersection(words(b)))
        why = ""
        if figures_a and figures_b and figures_a != figures_b:
            why = (f"figures {', '.join(sorted(figures_a))} vs "
                   f"{', '.join(sorted(figures_b))}")
        elif negated_a != negated_b:
            why = "one is negated, the other not"
        if why:
            return False, (f"turn {turn_a} {a!r} and turn {turn_b} {b!r} are about the same "
                           f"thing ({overlap:.0%} shared words) but differ: {why}")
    return True, f"no two of the {len(statements)} statements of different turns contradict"


def _facts(user: str) -> list[tuple[str, str]]:
    """``(label stem, fact)`` for each fact in one user message."""
    facts = []
    for match in _FACT.finditer(user):
        before = [w for w in words(user[:match.start()]) if w not in _LABEL_SKIP]
        label = next((stem(w) for w in reversed(before) if content_words(w)), "")
        if label:
            facts.append((label, match.group().lstrip("#")))
    return facts


def _values_after(reply: str, label: str) -> list[str]:
    """Fact-shaped tokens among the :data:`NEAR` tokens after the label in ``reply``."""
    tokens = re.findall(r"[\w.@+#-]+", reply)
    found = []
    for index, token in enumerate(tokens):
        if stem(token.lower().strip(".")) == label:
            found += [t.strip(".").lstrip("#") for t in tokens[index + 1:index + 1 + NEAR]
                      if _FACT.fullmatch(t.strip("."))]
    return found


def remembers_facts(subject: ConversationSubject) -> tuple[bool, str]:
    turns = _turns(subject.messages)
    known: list[tuple[int, str, str]] = []  # (turn given, label stem, fact)
    for number, user, reply in turns:
        for given, label, fact in known:
            stems = {stem(w) for w in words(reply)}
            if label not in stems or fact.lower() in reply.lower():
                continue
            if "?" in reply:
                return False, (f"turn {number} asks again about the {label} the user gave in "
                               f"turn {given} ({fact})")
            others = _values_after(reply, label)
            if others:
                return False, (f"turn {number} gives the {label} as {others[0]}, but the user "
                               f"said {fact} in turn {given}")
        known += [(number, label, fact) for label, fact in _facts(user)]
    if not known:
        return True, "the user gave no facts (numbers, identifiers, e-mail addresses) to retain"
    listed = ", ".join(f"{label} {fact}" for _, label, fact in known[:5])
    return True, f"no later reply asks again for or changes the user's facts ({listed})"


RULES = {
    "goal_completed": goal_completed,
    "consistency": consistent,
    "knowledge_retention": remembers_facts,
}


def answer(subject: ConversationSubject) -> dict[str, object]:
    """The pass/fail answer of the rule for the subject's judge kind."""
    passed, text = RULES[subject.kind](subject)
    score = 1 if passed else 0
    return {"reasoning": f"{PREFIX}, {subject.kind} rule: {text} -> score {score}",
            "score": score}
