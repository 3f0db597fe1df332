"""Built-in checks: cheap, deterministic pass/fail stages that gate promotion.

Every factory returns a :class:`Check`. Its default ``name`` describes its
arguments (``min_chars(20)``, ``contains(any: 'paris')``) so two checks of the
same kind stay distinguishable in reports; pass ``name=`` for a stable,
readable one. ``must=True`` makes a failure fail the test item outright.
"""

from __future__ import annotations

import bisect
import inspect
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ValidationError

from pytest_llmfunnel.models import Case
from pytest_llmfunnel.stages.base import Check, CheckOutcome
from pytest_llmfunnel.wording import plural

__all__ = [
    "JUDGE_ADDRESSING_PATTERNS",
    "check",
    "contains",
    "json_schema",
    "length_between",
    "matches",
    "max_chars",
    "min_chars",
    "not_addressing_judge",
    "not_contains",
    "not_empty",
    "not_matches",
    "valid_json",
]

CheckFn = Callable[[Case, str], CheckOutcome]

# What ``not_addressing_judge`` flags: (name, regex) pairs, tried in order; the
# reason names the first that fires. All are compiled case-insensitive and
# multiline (``^``/``$`` are line bounds; line-anchored parts use ``[ \t]*``, not
# ``\s*``, to stay linear-time) and matched after the text is normalised the
# way the judge will read it: NFKC, zero-width characters and control characters
# removed, and every line break (``\r``, ``\r\n``, ``\v``, ``\f``, NEL, U+2028,
# U+2029) turned into ``\n`` -- the prompt renders a lone ``\r`` as a new line,
# so "\rsystem:" starts a line there and must start one here. Full-width
# letters, invisible joiners and NULs inside words therefore do not slip
# through. "Ignore previous instructions" is also matched in German, French,
# Spanish, Italian, Chinese and Japanese, and "ignore the rubric" needs no
# qualifier (only a judge has a rubric). Letter grades and END markers are
# case-sensitive inside (``(?-i:...)``) so prose ("overall grade: a solid
# effort", "the end of input") passes. A closing tag the output opened itself
# (``<answer>4</answer>``) is ignored. Known trade-off: a task whose legitimate
# output is JSON with a ``score`` key, a line "System: ...", or prose about
# ignoring a rubric, fails; leave the check out there. The check is a
# heuristic in front of the judge; what keeps a judge from being steered is
# the fencing in :mod:`pytest_llmfunnel.prompts`.
JUDGE_ADDRESSING_PATTERNS: tuple[tuple[str, str], ...] = (
    # "ignore all previous instructions", "disregard the above rules"
    (
        "ignore-instructions",
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*"
        r"(?:(?:previous|prior|above|earlier|preceding|system|original)\s+"
        r"(?:instructions?|prompts?|rules?|directions?|guidelines?|rubrics?|criteria)"
        r"|rubrics?|(?:grading|scoring|evaluation|marking)\s+(?:instructions?|rules?|criteria))\b"
        # German: "Ignoriere alle vorherigen Anweisungen", "Vergiss die obigen Regeln"
        r"|\b(?:ignorier(?:e|en|t)?|vergiss|vergessen\s+sie|missachte(?:n)?)\s+"
        r"(?:(?:alle|die|deine|ihre|sämtliche)\s+)*"
        r"(?:vorherigen|bisherigen|obigen|vorigen|früheren|ursprünglichen|system)\w*\s+"
        r"(?:anweisungen|instruktionen|regeln|vorgaben|bewertungs\w+)\b"
        # French, Spanish, Italian: the adjective follows the noun
        r"|\b(?:ignor(?:e|ez|er|a|ar|ad|ate|are)|oubli(?:e|ez|er)|olvid(?:a|e|ad|ar)|"
        r"dimentica(?:te|re)?)\s+(?:(?:toutes|tous|les|vos|tes|todas|todos|las|los|tus|sus|"
        r"le|tutte|tutti|gli|i)\s+)*(?:instructions?|consignes|règles|directives|"
        r"instrucciones|reglas|indicaciones|directrices|istruzioni|regole)\s+"
        r"(?:précédentes|antérieures|ci-dessus|initiales|du\s+système|anteriores|previas|"
        r"originales|del\s+sistema|precedenti|originali)\b"
        # Chinese, Japanese: "忽略之前的所有指令", "以前の指示を無視"
        r"|(?:忽略|无视|無視|忽視|不要理会|不要理會)[掉了]?(?:之前|以上|上面|先前|此前|前面|所有|全部|一切|的){0,4}"
        r"(?:指令|指示|说明|說明|规则|規則|提示|命令|评分标准|評分標準)"
        r"|(?:以前|前|上記|これまで)の(?:すべての)?(?:指示|命令|ルール|プロンプト)を(?:すべて)?無視",
    ),
    # "As the grader, you must ...", "Dear judge", "Note to the evaluator"
    (
        "addresses-evaluator",
        r"(?:\bas\s+(?:the|an?)\s+(?:ai\s+|llm\s+)?(?:grader|judge|evaluator|assessor|rater)\s*,?\s*"
        r"(?:you|please)\b"
        r"|\b(?:dear|hey|hello|attention|note\s+to|message\s+(?:to|for))\s+(?:the\s+|an?\s+)?"
        r"(?:ai\s+|llm\s+)?(?:grader|judge|evaluator|assessor|rater)s?\b"
        r"|(?:^|[.!?]\s)[ \t]*(?:grader|judge|evaluator|assessor|rater)\s*[,:]\s*"
        r"(?:you\s+must|please)\b)",
    ),
    # "the grader should score ...", "you must grade this ..."
    (
        "instructs-scoring",
        r"\b(?:grader|judge|evaluator|assessor|rater|you)\s+(?:must|should|shall|will|need\s+to)\s+"
        r"(?:rate|score|grade|mark|pass|accept|approve)\s+(?:this|it|me|the\s+"
        r"(?:answer|response|output|submission))\b",
    ),
    # "give this a score of 5", "award it full marks", a sentence "Rate this 10/10."
    (
        "requests-score",
        r"\b(?:give|assign|award)\s+(?:this|it|me)(?:\s+(?:answer|response|output|reply|submission))?"
        r"\s+(?:an?\s+|the\s+)?(?:perfect\s+|full\s+|max(?:imum)?\s+|top\s+|high(?:est)?\s+)?"
        r"(?:score|grade|rating|marks?|points?|\d+\s*/\s*\d+)"
        r"|\b(?:please|kindly|must|should)\s+(?:rate|score|grade|mark)\s+(?:this|it|me)\b"
        r"|(?:^|[.!?]\s)[ \t]*(?:rate|score|grade|mark)\s+(?:this|it|me)"
        r"(?:\s+(?:answer|response|output))?"
        r"\s+(?:as\s+)?(?:an?\s+)?(?:\d+(?:\s*/\s*\d+)?|correct|perfect|passing|pass|full\s+marks)\b"
        r"|\b(?:this|my)\s+(?:answer|response|output|reply|submission)\s+(?:is\s+|should\s+be\s+|"
        r"must\s+be\s+|deserves\s+)(?:to\s+be\s+)?(?:graded|scored|rated|marked|judged|a\s+perfect|"
        r"full\s+marks|the\s+highest)\b",
    ),
    # "GRADE: C", "Verdict: PASS", a line that is only "Score: 5/5"
    (
        "fake-grade",
        r"\b(?:final\s+)?(?:grade|verdict)\s*[:=]\s*(?:(?-i:[A-FCIP][+-]?)\b|pass(?:ed)?\b|"
        r"fail(?:ed)?\b|correct\b|incorrect\b)"
        r"|^[ \t]*(?:final\s+)?(?:score|rating)[ \t]*[:=][ \t]*\d+(?:\.\d+)?(?:\s*/\s*\d+)?[ \t]*$",
    ),
    # '{"score": 5', "{'verdict': ..." -- an imitation of the judge's own answer
    ("fake-verdict-json", r"\{\s*[\"']?(?:score|grade|verdict|passed|rating|reasoning)[\"']?\s*:"),
    # "\nsystem:", "<|im_start|>", "[INST]", "<<SYS>>", "### System"
    (
        "role-header",
        r"^[ \t]*(?:#+[ \t]*)?(?:system|developer)(?:[ \t]+(?:prompt|message))?[ \t]*:"
        r"|^[ \t]*#+[ \t]*(?:system|instruction|instructions)\b"
        r"|<\|\s*(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\s*\|>"
        r"|\[/?INST\]|<<\s*/?SYS\s*>>",
    ),
    # "</output>", "END OUTPUT", "--- end of response ---": trying to close the fence
    (
        "closing-tag",
        r"</\s*(?:output|response|answer|submission|completion|candidate|model_output|"
        r"untrusted[_-]?\w*|transcript|system)\s*>"
        r"|(?-i:\b(?:END|BEGIN)[ _]+(?:OF[ _]+)?(?:OUTPUT|RESPONSE|ANSWER|SUBMISSION|COMPLETION|"
        r"TRANSCRIPT|INPUT)\b)"
        r"|[-=#*\[<]{2}\s*end\s+(?:of\s+)?(?:output|response|answer|submission|completion|input)",
    ),
)
_COMPILED_JUDGE_PATTERNS = tuple(
    (name, re.compile(rx, re.IGNORECASE | re.MULTILINE)) for name, rx in JUDGE_ADDRESSING_PATTERNS
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# C0 and C1 controls other than \t and \n, and DEL: invisible, so dropped.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _as_judge_reads(output: str) -> str:
    """``output`` normalised for matching (see JUDGE_ADDRESSING_PATTERNS)."""
    text = unicodedata.normalize("NFKC", output).translate(_ZERO_WIDTH)
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))


class _FnCheck(Check):
    """A check whose logic is a closure; the factories below build these."""

    def __init__(self, name: str, fn: CheckFn, *, must: bool) -> None:
        super().__init__(name, must=must)
        self._fn = fn

    def check(self, case: Case, output: str) -> CheckOutcome:
        return self._fn(case, output)

    def __repr__(self) -> str:
        return f"<Check {self.name!r} must={self.must}>"


def _excerpt(text: str, limit: int = 60) -> str:
    """A short, single-line quotation of ``text`` for a reason."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _non_negative(n: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    return n


def not_empty(*, name: str | None = None, must: bool = False) -> Check:
    """Fail an output that is empty or only whitespace."""

    def fn(case: Case, output: str) -> CheckOutcome:
        if output.strip():
            return CheckOutcome(True)
        return CheckOutcome(False, "output is empty" if not output else "output is only whitespace")

    return _FnCheck(name or "not_empty", fn, must=must)


def length_between(lo: int, hi: int, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when ``lo <= len(output) <= hi`` (characters)."""
    _non_negative(lo, "lo")
    _non_negative(hi, "hi")
    if lo > hi:
        raise ValueError(f"length_between needs lo <= hi, got lo={lo}, hi={hi}")

    def fn(case: Case, output: str) -> CheckOutcome:
        n = len(output)
        if n < lo:
            return CheckOutcome(False, f"{plural(n, 'char')} < minimum {lo}")
        if n > hi:
            return CheckOutcome(False, f"{plural(n, 'char')} > maximum {hi}")
        return CheckOutcome(True, plural(n, "char"))

    return _FnCheck(name or f"length_between({lo}, {hi})", fn, must=must)


def min_chars(n: int, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output has at least ``n`` characters."""
    return length_between(_non_negative(n, "n"), 2**63, name=name or f"min_chars({n})", must=must)


def max_chars(n: int, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output has at most ``n`` characters."""
    return length_between(0, _non_negative(n, "n"), name=name or f"max_chars({n})", must=must)


def _regex_check(
    pattern: str, flags: int, *, wanted: bool, factory: str, name: str | None, must: bool
) -> Check:
    """``matches`` (``wanted=True``) or ``not_matches``; a bad regex fails here, early."""
    try:
        rx = re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"{factory}(): invalid regular expression {pattern!r}: {exc}") from exc

    def fn(case: Case, output: str) -> CheckOutcome:
        m = rx.search(output)
        if m is None:
            return CheckOutcome(not wanted, f"nothing matched /{_short(pattern)}/")
        return CheckOutcome(wanted, f"matched {_excerpt(m.group(0))} at char {m.start()}")

    return _FnCheck(name or f"{factory}(/{_short(pattern)}/)", fn, must=must)


def matches(pattern: str, flags: int = 0, *, name: str | None = None, must: bool = False) -> Check:
    """Pass when ``re.search(pattern, output, flags)`` finds a match."""
    return _regex_check(pattern, flags, wanted=True, factory="matches", name=name, must=must)


def not_matches(
    pattern: str, flags: int = 0, *, name: str | None = None, must: bool = False
) -> Check:
    """Fail when ``re.search(pattern, output, flags)`` finds a match."""
    return _regex_check(pattern, flags, wanted=False, factory="not_matches", name=name, must=must)


def _needles(needles: tuple[str, ...], factory: str) -> tuple[str, ...]:
    if not needles or not all(isinstance(n, str) and n for n in needles):
        raise ValueError(f"{factory}() needs one or more non-empty strings, got {needles!r}")
    return needles


def _found(needles: tuple[str, ...], output: str, case_sensitive: bool) -> list[str]:
    if case_sensitive:
        return [n for n in needles if n in output]
    folded = output.casefold()
    return [n for n in needles if n.casefold() in folded]


def _listed(needles: list[str] | tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in needles)


def contains(
    *needles: str,
    mode: Literal["any", "all"] = "any",
    case_sensitive: bool = False,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when the output contains any (``mode="any"``) or all of ``needles``."""
    _needles(needles, "contains")
    if mode not in ("any", "all"):
        raise ValueError(f"contains(): mode must be 'any' or 'all', got {mode!r}")

    def fn(case: Case, output: str) -> CheckOutcome:
        found = _found(needles, output, case_sensitive)
        missing = [n for n in needles if n not in found]
        if mode == "all" and missing:
            return CheckOutcome(False, f"missing {_listed(missing)}")
        if mode == "any" and not found:
            return CheckOutcome(False, f"none of {_listed(needles)} found")
        return CheckOutcome(True, f"found {_listed(found)}")

    default = f"contains({mode}: {_short(_listed(needles))})"
    return _FnCheck(name or default, fn, must=must)


def not_contains(
    *needles: str, case_sensitive: bool = False, name: str | None = None, must: bool = False
) -> Check:
    """Fail when the output contains any of ``needles``."""
    _needles(needles, "not_contains")

    def fn(case: Case, output: str) -> CheckOutcome:
        found = _found(needles, output, case_sensitive)
        if found:
            return CheckOutcome(False, f"found {_listed(found)}")
        return CheckOutcome(True, f"none of {_listed(needles)} found")

    return _FnCheck(name or f"not_contains({_short(_listed(needles))})", fn, must=must)


_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)


def _json_text(output: str, allow_fenced: bool) -> str:
    """The JSON part of ``output``: the first fenced block if allowed and present."""
    if allow_fenced:
        m = _FENCE.search(output)
        if m is not None:
            return m.group(1)
    return output


def _json_error(text: str) -> str | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    return None


def valid_json(*, allow_fenced: bool = False, name: str | None = None, must: bool = False) -> Check:
    """Pass when the output parses as JSON.

    With ``allow_fenced=True`` the first ```` ```json ```` (or bare ```` ``` ````)
    fenced block is parsed when there is one, so prose around it is tolerated.
    """

    def fn(case: Case, output: str) -> CheckOutcome:
        error = _json_error(_json_text(output, allow_fenced))
        return CheckOutcome(error is None, error or "valid JSON")

    return _FnCheck(name or "valid_json", fn, must=must)


def _validation_summary(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False)
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:limit]
    ]
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    return "; ".join(parts) + more


def json_schema(
    model: type[BaseModel],
    *,
    allow_fenced: bool = False,
    name: str | None = None,
    must: bool = False,
) -> Check:
    """Pass when the output is JSON that validates against the pydantic ``model``.

    The reason lists the first three validation errors as ``path: message``.
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"json_schema() needs a pydantic BaseModel subclass, got {model!r}")

    def fn(case: Case, output: str) -> CheckOutcome:
        text = _json_text(output, allow_fenced)
        error = _json_error(text)
        if error is not None:
            return CheckOutcome(False, error)
        try:
            model.model_validate_json(text)
        except ValidationError as exc:
            return CheckOutcome(
                False, f"does not match {model.__name__}: {_validation_summary(exc)}"
            )
        return CheckOutcome(True, f"valid {model.__name__}")

    return _FnCheck(name or f"json_schema({model.__name__})", fn, must=must)


_CLOSE_TAG = re.compile(r"</\s*([\w-]+)\s*>")
TagPositions = dict[str, tuple[list[int], list[int]]]


def _closes_own_tag(text: str, m: re.Match[str], seen: TagPositions) -> bool:
    """True for a closing tag the output opened itself (``<answer>42</answer>``).

    Such a tag closes nothing of the judge's prompt, so it is not an attack;
    an unmatched ``</answer>`` still is. ``seen`` caches each tag's open and
    close positions so a long output is scanned once per tag, not per match.
    """
    close = _CLOSE_TAG.fullmatch(m.group(0))
    if close is None:
        return False
    tag = close.group(1).lower()
    if tag not in seen:
        t = re.escape(tag)
        opens = [o.start() for o in re.finditer(rf"<\s*{t}(?:\s[^>]*)?>", text, re.IGNORECASE)]
        closes = [c.start() for c in re.finditer(rf"</\s*{t}\s*>", text, re.IGNORECASE)]
        seen[tag] = (opens, closes)
    opens, closes = seen[tag]
    return bisect.bisect_left(opens, m.start()) > bisect.bisect_left(closes, m.start())


def not_addressing_judge(*, name: str | None = None, must: bool = False) -> Check:
    """Fail an output that tries to address or steer the evaluator judging it.

    See :data:`JUDGE_ADDRESSING_PATTERNS` for what is flagged; the reason names
    the first pattern that fired and quotes what it matched.
    """

    def fn(case: Case, output: str) -> CheckOutcome:
        text = _as_judge_reads(output)
        seen: TagPositions = {}
        for pattern_name, rx in _COMPILED_JUDGE_PATTERNS:
            for m in rx.finditer(text):
                if not _closes_own_tag(text, m, seen):
                    return CheckOutcome(False, f"{pattern_name}: matched {_excerpt(m.group(0))}")
        return CheckOutcome(True)

    return _FnCheck(name or "not_addressing_judge", fn, must=must)


def check(fn: Callable[[Case, str], object], name: str | None = None, must: bool = False) -> Check:
    """Turn ``fn(case, output) -> bool | (bool, reason) | CheckOutcome`` into a check.

    The default name is the function's ``__name__``; pass ``name=`` for lambdas.
    Any other return value (``None``, a string, a number) is an error result.
    """
    if not callable(fn):
        raise TypeError(f"check() needs a callable fn(case, output), got {fn!r}")
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"check() needs a synchronous function; {fn!r} is async")
    default = getattr(fn, "__name__", type(fn).__name__)
    check_name = name or ("check" if default == "<lambda>" else default)

    def wrapped(case: Case, output: str) -> CheckOutcome:
        result = fn(case, output)
        if isinstance(result, CheckOutcome):
            return result
        if isinstance(result, bool):
            return CheckOutcome(result)
        if isinstance(result, tuple) and len(result) == 2:
            passed, reason = result
            if isinstance(passed, bool) and isinstance(reason, str):
                return CheckOutcome(passed, reason)
        # raised, not returned: Check.run turns it into an error result naming the check
        raise TypeError(
            f"check {check_name!r} returned {type(result).__name__} ({_short(repr(result))}); "
            "return a bool, a (bool, reason) tuple or a CheckOutcome"
        )

    return _FnCheck(check_name, wrapped, must=must)
