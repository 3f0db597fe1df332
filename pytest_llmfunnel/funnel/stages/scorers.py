"""Built-in scorers: local, free numbers over an output and the case's ``expected``.

A scorer only measures unless ``threshold`` is set; then a score below the
threshold fails the case and stops its promotion. Scorers that compare with
``case.expected`` raise a ``ValueError`` for a case without one, which the
stage reports as an error result naming the case (never a silent 0).
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.stages.base import Scorer
from pytest_llmfunnel.models import Case

__all__ = [
    "lcs_length",
    "length_ratio",
    "rouge_l",
    "rouge_l_score",
    "scorer",
    "token_f1",
    "token_f1_score",
]

ScoreFn = Callable[[Case, Any], float | Awaitable[float]]

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_WORDS = re.compile(r"\w+")


class _FnScorer(Scorer):
    """A scorer whose logic is a closure; the factories below build these."""

    def __init__(self, name: str, fn: ScoreFn, *, threshold: float | None, must: bool) -> None:
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, numbers.Real)
            or not math.isfinite(threshold)
        ):
            raise ValueError(
                f"scorer {name!r}: threshold must be a finite number, got {threshold!r}"
            )
        super().__init__(name, threshold=threshold, must=must)
        self._fn = fn

    def score(self, case: Case, output: str) -> float | Awaitable[float]:
        return self._fn(case, output)

    def __repr__(self) -> str:
        return f"<Scorer {self.name!r} threshold={self.threshold!r}>"


def _expected(case: Case, scorer_name: str) -> str:
    if case.expected is None:
        raise ValueError(f"{scorer_name} needs an 'expected' value; case {case.id!r} has none")
    return case.expected


def _squad_tokens(text: str) -> list[str]:
    """SQuAD answer normalisation: lowercase, drop punctuation and articles, split.

    Punctuation is every Unicode ``P*`` character (the official script strips
    ASCII punctuation only; for ASCII text the two agree), so curly quotes in
    model output do not cost tokens.
    """
    lowered = text.lower()
    no_punct = "".join(ch for ch in lowered if not unicodedata.category(ch).startswith("P"))
    return _ARTICLES.sub(" ", no_punct).split()


def token_f1_score(prediction: str, reference: str) -> float:
    """Bag-of-tokens F1 between two texts after SQuAD normalisation.

    Both empty after normalisation gives 1.0; exactly one empty gives 0.0.
    """
    pred, ref = _squad_tokens(prediction), _squad_tokens(reference)
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(
    *, name: str | None = None, threshold: float | None = None, must: bool = False
) -> Scorer:
    """SQuAD-style token F1 of the output against ``case.expected``."""
    scorer_name = name or "token_f1"

    def fn(case: Case, output: str) -> float:
        return token_f1_score(output, _expected(case, scorer_name))

    return _FnScorer(scorer_name, fn, threshold=threshold, must=must)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, in O(len(a)*len(b)) time.

    The DP keeps one row over the shorter sequence, so memory is
    O(min(len(a), len(b))).
    """
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0  # row[j-1] of the previous row
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(above, row[j - 1])
            diagonal = above
    return row[-1]


def rouge_l_score(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (beta=1) over lowercase word tokens.

    Both texts without words gives 1.0 (nothing to recall, nothing wrong);
    exactly one gives 0.0.
    """
    pred, ref = _WORDS.findall(prediction.lower()), _WORDS.findall(reference.lower())
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(
    *, name: str | None = None, threshold: float | None = None, must: bool = False
) -> Scorer:
    """ROUGE-L F-measure of the output against ``case.expected``."""
    scorer_name = name or "rouge_l"

    def fn(case: Case, output: str) -> float:
        return rouge_l_score(output, _expected(case, scorer_name))

    return _FnScorer(scorer_name, fn, threshold=threshold, must=must)


def length_ratio(
    unit: Literal["chars", "words"] = "chars",
    *,
    name: str | None = None,
    threshold: float | None = None,
    must: bool = False,
) -> Scorer:
    """``len(output) / len(expected)`` in characters or whitespace-separated words.

    ``threshold`` gates from below only (an output that is too short); an upper
    bound belongs in a check such as ``max_chars`` or ``check(...)``. An empty
    ``expected`` with an empty output scores 1.0; with a non-empty one the ratio
    is undefined and the case gets an error result.
    """
    if unit not in ("chars", "words"):
        raise ValueError(f"length_ratio(): unit must be 'chars' or 'words', got {unit!r}")
    scorer_name = name or f"length_ratio({unit})"

    def size(text: str) -> int:
        return len(text) if unit == "chars" else len(text.split())

    def fn(case: Case, output: str) -> float:
        reference = size(_expected(case, scorer_name))
        produced = size(output)
        if reference == 0:
            if produced == 0:
                return 1.0
            raise ValueError(
                f"{scorer_name}: case {case.id!r} has an empty 'expected' ({unit}), "
                "so the ratio is undefined"
            )
        return produced / reference

    return _FnScorer(scorer_name, fn, threshold=threshold, must=must)


def scorer(
    fn: Callable[[Case, Any], object],
    name: str | None = None,
    threshold: float | None = None,
    must: bool = False,
    *,
    structured: bool = False,
) -> Scorer:
    """Turn ``fn(case, output) -> float`` into a scorer.

    ``fn`` may be ``async def``: the funnel awaits it, and the scorers of
    different cases run concurrently. ``output`` is the output's text; with
    ``structured=True`` it is the whole :class:`~pytest_llmfunnel.output.Output`.
    The default name is the function's ``__name__``; pass ``name=`` for lambdas.
    A return value that is not a real number (``None``, a string, a bool) is an
    error result naming the scorer; so is NaN or infinity.
    """
    if not callable(fn):
        raise TypeError(f"scorer() needs a callable fn(case, output), got {fn!r}")
    default = getattr(fn, "__name__", type(fn).__name__)
    scorer_name = name or ("scorer" if default == "<lambda>" else default)

    def number(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"scorer {scorer_name!r} returned {type(value).__name__} "
                f"({truncate(repr(value), 40)}); return a float "
                "(a pass/fail belongs in check())"
            )
        return float(value)

    async def later(pending: Awaitable[object]) -> float:
        return number(await pending)

    async def awaited(case: Case, output: Any) -> float:
        # fn is called only when awaited: a coroutine never awaited is never made
        return number(await fn(case, output))  # type: ignore[misc]

    def wrapped(case: Case, output: Any) -> float | Awaitable[float]:
        value = fn(case, output)
        return later(value) if inspect.isawaitable(value) else number(value)

    chosen = awaited if inspect.iscoroutinefunction(fn) else wrapped
    made = _FnScorer(scorer_name, chosen, threshold=threshold, must=must)
    made.structured = structured
    return made
