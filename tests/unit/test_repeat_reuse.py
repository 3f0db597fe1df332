"""Which stored verdicts stand for a case's target repeats (the baseline side, no network)."""

from __future__ import annotations

from pytest_llmfunnel import Funnel, judges
from pytest_llmfunnel.funnel.repeats import fold
from pytest_llmfunnel.funnel.runner import Unit
from pytest_llmfunnel.gate.baseline_file import (
    Baseline,
    BaselineCase,
    BaselineHeader,
    BaselineOutcome,
    dumps_baseline,
)
from pytest_llmfunnel.gate.baseline_side import repeat_verdicts, reused_verdicts
from pytest_llmfunnel.models import Case, CaseResult
from pytest_llmfunnel.output import Output

CASE = Case(id="c1", input="What is item 1?")
OUTPUTS = ["one", "two", "three"]
FUNNEL = Funnel(judges.relevance(), judges.coherence(repeats=2))
SAME = {"relevance", "coherence"}


def line(samples: dict[str, tuple[float, ...]], outputs: list[str] = OUTPUTS) -> BaselineCase:
    return BaselineCase(
        case="c1", fingerprint=CASE.fingerprint(), output=outputs[0], promoted=True,
        stages={name: BaselineOutcome(status="failed", score=0.0, samples=value)
                for name, value in samples.items()},
        repeat_outputs=tuple(Output(text=o).digest() for o in outputs),
    )


STORED = line({"relevance": (5.0, 1.0, 2.0), "coherence": (5.0, 5.0, 1.0, 3.0, 4.0, 4.0)})


def test_each_output_gets_the_stored_verdict_of_its_own_repeat_in_any_order() -> None:
    found = repeat_verdicts(FUNNEL, STORED, Unit(CASE, "default"), ["three", "one", "two"],
                            SAME, {})
    assert found is not None
    assert [f["relevance"].score for f in found] == [2.0, 5.0, 1.0]
    assert [f["coherence"].score for f in found] == [4.0, 5.0, 2.0]  # the mean of its two
    coherence = found[1]["coherence"].verdict
    assert coherence is not None and coherence.samples == (5.0, 5.0) and coherence.reused


def test_a_changed_repeat_or_case_reuses_nothing() -> None:
    unit = Unit(CASE, "default")
    assert repeat_verdicts(FUNNEL, STORED, unit, ["one", "two", "3"], SAME, {}) is None
    assert repeat_verdicts(FUNNEL, STORED, unit, ["one", "two"], SAME, {}) is None
    reworded = Unit(Case(id="c1", input="What is item 2?"), "default")
    assert repeat_verdicts(FUNNEL, STORED, reworded, OUTPUTS, SAME, {}) is None


def test_a_changed_judge_or_a_repeat_that_missed_it_is_asked_again() -> None:
    unit = Unit(CASE, "default")
    found = repeat_verdicts(FUNNEL, STORED, unit, OUTPUTS, {"coherence"}, {})
    assert found is not None and all(set(f) == {"coherence"} for f in found)
    short = line({"relevance": (5.0, 1.0), "coherence": (5.0,) * 6})  # a repeat was dropped
    found = repeat_verdicts(FUNNEL, short, unit, OUTPUTS, SAME, {})
    assert found is not None and all(set(f) == {"coherence"} for f in found)


def test_the_baseline_side_refolds_the_stored_repeats_with_todays_threshold() -> None:
    # relevance 5, 1, 2 at threshold 4: one of three repeats passes, so it fails
    # (its mean 2.67 says so too); at threshold 1.5 two of three pass.
    for threshold, status in ((4.0, "failed"), (1.5, "passed")):
        funnel = Funnel(judges.relevance(threshold=threshold))
        (result,) = reused_verdicts(funnel, STORED, {"relevance"}, {}).values()
        assert (result.status, result.score) == (status, 8.0 / 3.0)
        fresh = fold([
            CaseResult("c1", "default", o, (r["relevance"],), True)
            for o, r in zip(OUTPUTS, repeat_verdicts(
                funnel, STORED, Unit(CASE, "default"), OUTPUTS, {"relevance"}, {}) or [],
                strict=True)
        ]).stages[0]
        assert (fresh.status, fresh.score) == (result.status, result.score)


def test_a_line_without_repeats_is_written_as_it_always_was() -> None:
    plain = BaselineCase(case="c1", output="one", promoted=True,
                         stages={"relevance": BaselineOutcome(status="passed", score=5.0)})
    text = dumps_baseline(Baseline(header=BaselineHeader(dataset="d"), cases=(plain,)))
    assert "samples" not in text and "repeat_outputs" not in text
    repeated = dumps_baseline(Baseline(header=BaselineHeader(dataset="d"), cases=(STORED,)))
    assert '"samples": [5.0, 1.0, 2.0]' in repeated and '"repeat_outputs": [' in repeated
