"""The built-in scorers against hand-computed answers, plus gating and errors."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import string
from collections import Counter
from fractions import Fraction

import pytest

from pytest_llmfunnel.funnel.stages.base import Scorer
from pytest_llmfunnel.funnel.stages.scorers import (
    lcs_length,
    length_ratio,
    rouge_l,
    rouge_l_score,
    scorer,
    token_f1,
    token_f1_score,
)
from pytest_llmfunnel.models import Case, StageResult


def case(expected: str | None) -> Case:
    return Case(id="c1", input="question", expected=expected)


def run(stage: Scorer, output: str, expected: str | None) -> StageResult:
    return stage.run(case(expected), output)


# --- token F1 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference", "f1"),
    [
        ("a cat sat on mat", "The cat sat on the mat.", 1.0),  # articles and punctuation
        ("Paris!", "paris", 1.0),
        ("don’t stop", "dont stop", 1.0),  # Unicode punctuation is stripped too
        # P = 2/3, R = 2/4 -> F1 = 2 * (1/3) / (7/6) = 4/7
        ("the quick brown fox", "a quick red fox jumps", 4 / 7),
        # bag of tokens: overlap min(3, 1) = 1, P = 1/3, R = 1/2 -> F1 = 2/5
        ("x x x", "x y", 2 / 5),
        ("", "the .", 1.0),  # both empty after normalisation
        ("the", "cat", 0.0),  # one empty
        ("dog", "cat", 0.0),
    ],
)
def test_token_f1_known_answers(prediction: str, reference: str, f1: float) -> None:
    assert token_f1_score(prediction, reference) == pytest.approx(f1, abs=1e-12)


def _official_squad_f1(prediction: str, ground_truth: str) -> float:
    """The SQuAD v1.1 evaluation script's f1_score, verbatim in logic."""

    def normalize(s: str) -> list[str]:
        s = s.lower()
        s = "".join(ch for ch in s if ch not in set(string.punctuation))
        s = re.sub(r"\b(a|an|the)\b", " ", s)
        return " ".join(s.split()).split()

    p, g = normalize(prediction), normalize(ground_truth)
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def test_token_f1_agrees_with_the_official_script_on_ascii_text() -> None:
    rng = random.Random(7)
    vocab = ["the", "a", "an", "cat", "Cat.", "dog,", "sat", "on", "mat!", "x", "y's"]
    for _ in range(300):
        pred = " ".join(rng.choices(vocab, k=rng.randint(1, 8)))
        ref = " ".join(rng.choices(vocab, k=rng.randint(1, 8)))
        # the script divides by zero when a side normalises to nothing; we define it
        if not _official_squad_f1(pred, pred) or not _official_squad_f1(ref, ref):
            continue
        assert token_f1_score(pred, ref) == pytest.approx(_official_squad_f1(pred, ref))


def test_token_f1_stage_scores_against_expected() -> None:
    result = run(token_f1(), "the quick brown fox", "a quick red fox jumps")
    assert result.stage == "token_f1" and result.status == "measured"
    assert result.score == pytest.approx(4 / 7) and not result.gating


def test_token_f1_without_expected_is_an_error_naming_the_case() -> None:
    result = run(token_f1(), "Paris", None)
    assert result.status == "error"
    assert result.reason == (
        "scorer raised ValueError: token_f1 needs an 'expected' value; case 'c1' has none"
    )


# --- ROUGE-L -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "reference", "lcs", "f"),
    [
        # LCS 5, P = 5/5, R = 5/6 -> F = 2 * (5/6) / (11/6) = 10/11
        ("the cat on the mat", "the cat sat on the mat", 5, 10 / 11),
        # Lin (2004): "police kill the gunman" vs "police killed the gunman" -> 3/4
        ("police kill the gunman", "police killed the gunman", 3, 3 / 4),
        # ... and "the gunman kill police" -> LCS "the gunman" = 2, F = 2/4
        ("the gunman kill police", "police killed the gunman", 2, 1 / 2),
        # case-insensitive, punctuation is not a token: LCS 2, P = 2/3, R = 1 -> F = 4/5
        ("Hello, big World!", "hello world", 2, 4 / 5),
        ("a b c", "d e", 0, 0.0),
        ("", "...", 0, 1.0),  # neither has a word
        ("", "cat", 0, 0.0),
    ],
)
def test_rouge_l_known_answers(candidate: str, reference: str, lcs: int, f: float) -> None:
    assert lcs_length(re.findall(r"\w+", candidate.lower()), reference.lower().split()) == lcs
    assert rouge_l_score(candidate, reference) == pytest.approx(f, abs=1e-12)


def _brute_force_lcs(a: list[str], b: list[str]) -> int:
    for k in range(min(len(a), len(b)), 0, -1):
        subsequences = set(itertools.combinations(a, k))
        if any(c in subsequences for c in itertools.combinations(b, k)):
            return k
    return 0


def test_lcs_length_matches_brute_force_both_ways_round() -> None:
    rng = random.Random(11)
    for _ in range(200):
        a = rng.choices("abc", k=rng.randint(0, 7))
        b = rng.choices("abc", k=rng.randint(0, 9))
        expected = _brute_force_lcs(a, b)
        assert lcs_length(a, b) == expected == lcs_length(b, a), (a, b)


def test_lcs_length_handles_long_sequences() -> None:
    a = ["w"] * 3000
    b = ["w", "x"] * 5
    assert lcs_length(a, b) == 5 and lcs_length(b, a) == 5


def test_rouge_l_stage_gates_with_a_threshold() -> None:
    stage = rouge_l(threshold=0.95)
    result = run(stage, "the cat on the mat", "the cat sat on the mat")
    assert result.stage == "rouge_l" and result.status == "failed" and result.gating
    assert result.score == pytest.approx(10 / 11)
    assert result.reason == "0.909 < threshold 0.95"
    ok = run(rouge_l(threshold=0.9), "the cat on the mat", "the cat sat on the mat")
    assert ok.status == "passed"


def test_rouge_l_without_expected_is_an_error() -> None:
    result = run(rouge_l(name="overlap"), "x", None)
    assert result.status == "error" and result.stage == "overlap"
    assert "overlap needs an 'expected' value; case 'c1' has none" in result.reason


# --- length ratio ------------------------------------------------------------


def test_length_ratio_in_chars_and_words() -> None:
    chars = run(length_ratio(), "abcd", "ab")
    assert chars.stage == "length_ratio(chars)" and chars.score == 2.0
    words = run(length_ratio("words"), "a b  c", "hello world")
    assert words.stage == "length_ratio(words)" and words.score == 1.5
    assert run(length_ratio(), "", "").score == 1.0


def test_length_ratio_threshold_gates_short_outputs() -> None:
    result = run(length_ratio(threshold=0.8), "ab", "abcd")
    assert result.status == "failed" and result.score == 0.5
    assert result.reason == "0.500 < threshold 0.8"


def test_length_ratio_errors() -> None:
    empty = run(length_ratio(), "abc", "")
    assert empty.status == "error" and "empty 'expected'" in empty.reason
    missing = run(length_ratio(), "abc", None)
    assert missing.status == "error" and "case 'c1' has none" in missing.reason
    with pytest.raises(ValueError, match="unit must be 'chars' or 'words'"):
        length_ratio("tokens")  # type: ignore[arg-type]


# --- user scorers ------------------------------------------------------------


def test_scorer_measures_and_gates() -> None:
    def share_upper(c: Case, output: str) -> float:
        return sum(ch.isupper() for ch in output) / len(output)

    measured = run(scorer(share_upper), "ABcd", None)
    assert (measured.stage, measured.status, measured.score) == ("share_upper", "measured", 0.5)
    gated = run(scorer(share_upper, threshold=0.6, must=True), "ABcd", None)
    assert gated.status == "failed" and gated.must and gated.gating
    assert run(scorer(share_upper, threshold=0.5), "ABcd", None).status == "passed"


def test_scorer_accepts_any_real_number() -> None:
    quarter = scorer(lambda c, o: Fraction(1, 4))
    assert run(quarter, "x", None).score == 0.25
    assert run(scorer(lambda c, o: 3), "x", None).score == 3.0
    assert scorer(lambda c, o: 1.0).name == "scorer"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_scorer_non_finite_is_an_error(value: float) -> None:
    result = run(scorer(lambda c, o: value, name="mine", threshold=0.5), "x", None)
    assert result.status == "error" and "non-finite" in result.reason and result.score is None


@pytest.mark.parametrize(
    ("value", "type_name"), [(None, "NoneType"), ("0.5", "str"), (True, "bool"), ([1], "list")]
)
def test_scorer_wrong_return_type_is_an_error_naming_it(value: object, type_name: str) -> None:
    result = run(scorer(lambda c, o: value, name="mine"), "x", None)
    assert result.status == "error"
    assert result.reason.startswith(f"scorer raised TypeError: scorer 'mine' returned {type_name}")


def test_scorer_that_raises_is_an_error() -> None:
    def boom(c: Case, output: str) -> float:
        return 1 / 0

    result = run(scorer(boom), "x", None)
    assert result.status == "error" and result.reason.startswith("scorer raised ZeroDivisionError")


def test_scorer_construction_is_validated() -> None:
    async def later(c: Case, output: str) -> float:
        return 1.0

    with pytest.raises(TypeError, match="callable"):
        scorer(1.0)  # type: ignore[arg-type]
    # an async scorer is awaited by the funnel (tests/unit/test_async_stages.py)
    assert asyncio.run(scorer(later).arun(case(None), "x")).score == 1.0
    for bad in (math.nan, "0.5", True):
        with pytest.raises(ValueError, match="threshold must be a finite number"):
            token_f1(threshold=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [token_f1, rouge_l, length_ratio])
def test_builtin_scorers_take_name_threshold_and_must(make: object) -> None:
    stage = make(name="custom", threshold=2.0, must=True)  # type: ignore[operator]
    result = run(stage, "the cat", "the cat")
    assert (result.stage, result.status, result.must, result.score) == (
        "custom",
        "failed",
        True,
        1.0,
    )
    measured = run(make(), "the cat", "the cat")  # type: ignore[operator]
    assert measured.status == "measured" and measured.score == 1.0
