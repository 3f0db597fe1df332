"""``not_addressing_judge``: the check that drops outputs trying to steer their judge.

It is a heuristic in front of the judge; what keeps a judge from being steered
is the fencing in :mod:`pytest_llmfunnel.funnel.prompts`. Its recall and false-positive
rate on the project's corpora are published in ``docs/reliability.md``.
"""

from __future__ import annotations

import bisect
import functools
import re

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.funnel.stages.base import Check, CheckOutcome
from pytest_llmfunnel.funnel.stages.injection_patterns import (
    ANCHORS,
    JUDGE_ADDRESSING_PATTERNS,
    PART_MARKER,
)
from pytest_llmfunnel.funnel.stages.lookalikes import reveal, to_skeleton_letters
from pytest_llmfunnel.models import Case

__all__ = [
    "HIDDEN_TEXT",
    "JUDGE_ADDRESSING_PATTERNS",
    "as_judge_reads",
    "judge_addressing",
    "not_addressing_judge",
]

_Part = tuple[re.Pattern[str], tuple[str, ...]]


def _compile_parts(name: str, rx: str) -> tuple[_Part, ...]:
    sources = rx.split(PART_MARKER)
    anchors = ANCHORS.get(name, ((),) * len(sources))
    if len(anchors) != len(sources):  # a mismatch would silently skip a part
        raise AssertionError(f"{name}: {len(sources)} parts but {len(anchors)} anchor lists")
    return tuple(
        (
            re.compile(to_skeleton_letters(source), re.IGNORECASE | re.MULTILINE),
            tuple(to_skeleton_letters(a).lower() for a in part),
        )
        for source, part in zip(sources, anchors, strict=True)
    )


@functools.cache
def _compiled() -> tuple[tuple[str, tuple[_Part, ...]], ...]:
    # Compiled on first use, not at import: every eval run imports the
    # built-in checks, and compiling these patterns costs about 0.1 s.
    return tuple((name, _compile_parts(name, rx)) for name, rx in JUDGE_ADDRESSING_PATTERNS)


#: The name of the rule that flags a message hidden in tag characters
#: (U+E0020-U+E007E, invisible, read by models as ASCII). A short run right
#: after U+1F3F4 and closed by U+E007F is an emoji flag (England, Scotland),
#: not hidden text.
HIDDEN_TEXT = "hidden-text"
_TAG_RUN = re.compile("(\U0001f3f4)?([\U000e0020-\U000e007e]+)(\U000e007f)?")
_FLAG_TAG_LETTERS = 7

_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# C0 and C1 controls other than \t and \n, and DEL: invisible, so dropped.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_CLOSE_TAG = re.compile(r"</\s*([\w-]+)\s*>")
TagPositions = dict[str, tuple[list[int], list[int]]]


def as_judge_reads(output: str) -> str:
    """``output`` as a reader takes it in, with nothing hidden (see :func:`reveal`).

    Line breaks become ``\\n`` and control characters go. The prompt renders
    a lone ``\\r`` as a new line, so "\\rsystem:" starts a line there and
    starts one here. The patterns match the look-alike skeleton of this
    text, which has the same length, so a match is quoted from this one.
    """
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\n", reveal(output)))


def _hidden_text(output: str) -> str | None:
    """The first message hidden in tag characters, decoded, or None."""
    if not output or max(output) < "\U000e0020":  # a C-speed scan; most texts end here
        return None
    for m in _TAG_RUN.finditer(output):
        flag, run, cancel = m.groups()
        if flag and cancel and len(run) <= _FLAG_TAG_LETTERS:
            continue
        return "".join(chr(ord(ch) - 0xE0000) for ch in run)
    return None


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


def judge_addressing(output: str, *, anchored: bool = True) -> CheckOutcome:
    """The outcome of ``not_addressing_judge`` for ``output``.

    ``anchored=False`` tries every pattern whatever the text holds: slower,
    and the same outcome (the tests use it to show the anchors lose nothing).
    """
    hidden = _hidden_text(output)
    if hidden is not None:
        quoted = truncate(hidden, 60, one_line=True)
        return CheckOutcome(False, f"{HIDDEN_TEXT}: matched {quoted!r}")
    shown = as_judge_reads(output)
    text = to_skeleton_letters(shown)
    lowered = text.lower()
    seen: TagPositions = {}
    for pattern_name, parts in _compiled():
        for rx, anchors in parts:
            if anchored and anchors and not any(a in lowered for a in anchors):
                continue
            for m in rx.finditer(text):
                if not _closes_own_tag(text, m, seen):
                    quoted = repr(truncate(shown[m.start() : m.end()], 60, one_line=True))
                    return CheckOutcome(False, f"{pattern_name}: matched {quoted}")
    return CheckOutcome(True)


class _JudgeAddressingCheck(Check):
    def check(self, case: Case, output: str) -> CheckOutcome:
        return judge_addressing(output)

    def __repr__(self) -> str:
        return f"<Check {self.name!r} must={self.must}>"


def not_addressing_judge(*, name: str | None = None, must: bool = False) -> Check:
    """Fail an output that tries to address or steer the evaluator judging it.

    See :data:`JUDGE_ADDRESSING_PATTERNS` for what is flagged, and
    :data:`HIDDEN_TEXT`; the reason names the first rule that fired and quotes
    what it matched.
    """
    return _JudgeAddressingCheck(name or "not_addressing_judge", must=must)
