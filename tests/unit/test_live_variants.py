"""Live variants: one target, several settings, produced, recorded and compared per variant.

The outputs are recorded in a real diskcache on disk; the judge is the
offline reference judge (the plugin tests ask the loopback server).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel import Funnel, TransientTargetError, checks, judges
from pytest_llmfunnel.funnel.live_variants import Variant, make_variants, recorded_version
from pytest_llmfunnel.funnel.offline_judge import OfflineReferenceJudge
from pytest_llmfunnel.funnel.runner import FunnelRunner, units_for
from pytest_llmfunnel.funnel.target import TargetPolicy
from pytest_llmfunnel.models import Case, CaseResult
from pytest_llmfunnel.store.verdict_cache import OutputStore

CASES = [
    Case(id=f"c{i}", input=f"What is item {i}?", context=f"Item {i} is a blue box.")
    for i in range(4)
]
SETTINGS: dict[str, dict[str, Any]] = {
    "terse": {"template": "Item {n}."},
    "full": {"template": "Item {n} is a blue box.", "temperature": 0},
}


class Target:
    """Answers from the variant's template; counts its calls per variant."""

    def __init__(self, fail: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
                 flaky: set[tuple[str, str]] = frozenset()) -> None:  # type: ignore[assignment]
        self.calls: Counter[str] = Counter()
        self.fail = fail
        self.flaky = set(flaky)

    def __call__(self, case: Case, variant: Variant) -> str:
        self.calls[variant.name] += 1
        if (case.id, variant.name) in self.fail:
            raise KeyError(f"no template for {case.id}")
        if (case.id, variant.name) in self.flaky:
            self.flaky.discard((case.id, variant.name))
            raise TransientTargetError("upstream busy")
        return str(variant["template"]).format(n=case.id[1:])


def run(funnel: Funnel, cache: Path | None = None, cases: list[Case] = CASES) -> list[CaseResult]:
    units = [u for case in cases for u in units_for(case, funnel)]

    async def go() -> list[CaseResult]:
        if cache is None:
            runner = FunnelRunner(backend=OfflineReferenceJudge())
            return await runner.run(funnel, units)
        with OutputStore(cache) as outputs:
            runner = FunnelRunner(backend=OfflineReferenceJudge(), outputs=outputs,
                                  target_policy=TargetPolicy(retries=2))
            return await runner.run(funnel, units)

    return asyncio.run(go())


def funnel(target: Target, settings: dict[str, dict[str, Any]] = SETTINGS,
           **kw: Any) -> Funnel:
    return Funnel(checks.not_empty(), judges.faithfulness(), judges.pairwise("overall"),
                  target=target, variants=settings, name="helpdesk", **kw)


def test_each_case_runs_once_per_variant_with_its_settings() -> None:
    target = Target()
    results = run(funnel(target))
    assert [(r.case_id, r.variant) for r in results[:2]] == [("c0", "terse"), ("c0", "full")]
    assert {r.variant: r.output for r in results if r.case_id == "c2"} == {
        "terse": "Item 2.", "full": "Item 2 is a blue box."}
    assert target.calls == {"terse": 4, "full": 4}


def test_a_rerun_calls_the_target_zero_times(tmp_path: Path) -> None:
    target = Target()
    first = run(funnel(target), tmp_path)
    assert target.calls == {"terse": 4, "full": 4}
    again = run(funnel(target), tmp_path)
    assert target.calls == {"terse": 4, "full": 4}  # every output came from the record
    assert [r.output for r in again] == [r.output for r in first]


def test_editing_one_variants_settings_reruns_only_that_variant(tmp_path: Path) -> None:
    run(funnel(Target()), tmp_path)
    edited = {**SETTINGS, "full": {**SETTINGS["full"], "template": "It is a blue box ({n})."}}
    target = Target()
    results = run(funnel(target, edited), tmp_path)
    assert target.calls == {"full": 4}
    assert {r.output for r in results if r.variant == "full"} == {
        f"It is a blue box ({i})." for i in range(4)}
    # and the same settings in another key order are the same variant
    reordered = {"terse": SETTINGS["terse"], "full": dict(reversed(list(edited["full"].items())))}
    target = Target()
    run(funnel(target, reordered), tmp_path)
    assert target.calls == {}


def test_the_target_version_keys_every_variant(tmp_path: Path) -> None:
    run(funnel(Target(), target_version="v1"), tmp_path)
    target = Target()
    run(funnel(target, target_version="v2"), tmp_path)
    assert target.calls == {"terse": 4, "full": 4}


def test_a_variants_target_error_counts_against_that_variant_only(tmp_path: Path) -> None:
    target = Target(fail={("c1", "full")}, flaky={("c2", "terse")})
    results = {(r.case_id, r.variant): r for r in run(funnel(target), tmp_path)}
    broken = results[("c1", "full")]
    assert broken.error == "target raised KeyError: 'no template for c1'"
    assert broken.target_errors == 1 and not broken.promoted
    assert sum(r.target_errors for r in results.values()) == 1
    assert results[("c2", "terse")].error is None  # retried after the transient fault
    assert target.calls == {"terse": 5, "full": 4}
    control = results[("c1", "terse")]
    assert control.promoted and control.error is None
    comparison = control.stage("pairwise_overall")
    assert comparison is not None and comparison.score == 1.0
    assert "full was dropped at target" in comparison.reason
    # the failed output was not recorded: the next run asks for it again, and only it
    retry = Target()
    run(funnel(retry), tmp_path)
    assert retry.calls == {"full": 1}


def test_pairwise_judges_compare_each_variant_with_the_control() -> None:
    settings = {"a": {"template": "Item {n}."}, "base": {"template": "Item {n} is a blue box."},
                "c": {"template": "Blue box."}}
    results = run(funnel(Target(), settings, control="base"), cases=CASES[:1])
    by = {r.variant: r for r in results}
    assert [r.variant for r in results] == ["base", "a", "c"]  # the control first
    control = [s for s in by["base"].stages if s.pair is not None]
    assert sorted(s.stage for s in control) == ["pairwise_overall vs a", "pairwise_overall vs c"]
    assert {s.pair for s in control} == {("base", "a"), ("base", "c")}
    for other in ("a", "c"):
        [mirror] = [s for s in by[other].stages if s.pair is not None]
        assert mirror.pair == ("base", other)
        assert mirror.verdict is not None and len(mirror.verdict.samples) == 2  # both orders


def test_the_control_comes_first_whatever_order_the_units_came_in() -> None:
    target = Target()
    live = funnel(target)
    units = list(reversed(units_for(CASES[0], live)))
    results = asyncio.run(FunnelRunner(backend=OfflineReferenceJudge()).run(live, units))
    assert [r.variant for r in results] == ["full", "terse"]  # in the order asked
    [first] = [s for s in results[1].stages if s.pair is not None]
    assert first.pair == ("terse", "full")


def test_repeats_apply_to_each_variant(tmp_path: Path) -> None:
    target = Target()
    run(funnel(target, target_repeats=3), tmp_path, cases=CASES[:2])
    assert target.calls == {"terse": 6, "full": 6}
    run(funnel(target, target_repeats=3), tmp_path, cases=CASES[:2])
    assert target.calls == {"terse": 6, "full": 6}


def test_settings_key_the_recorded_version() -> None:
    [a] = make_variants({"v": {"prompt": "x", "t": 0}}, None, Target())
    [b] = make_variants({"v": {"t": 0, "prompt": "x"}}, None, Target())
    [c] = make_variants({"v": {"prompt": "y", "t": 0}}, None, Target())
    assert recorded_version("1", a) == recorded_version("1", b) != recorded_version("1", c)
    assert recorded_version("1", a) != recorded_version("2", a)
    assert a["prompt"] == "x" and a.get("missing", 5) == 5


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"variants": {"v": {}}}, "give the funnel a target"),
        ({"target": Target(), "variants": {}}, "non-empty dict"),
        ({"target": Target(), "variants": {"a b": {}}}, "variant name 'a b' is not allowed"),
        ({"target": Target(), "variants": {"default": {}}}, "not 'default'"),
        ({"target": Target(), "variants": {"v": ["x"]}}, "must be a dict, got list"),
        ({"target": Target(), "variants": {"v": {"f": print}}}, "must be JSON values"),
        ({"target": Target(), "variants": {"v": {}}, "control": "w"}, "control='w' is not a"),
        ({"target": Target(), "control": "w"}, "pass variants too"),
    ],
)
def test_bad_variants_are_refused(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Funnel(checks.not_empty(), **kw)


def test_a_target_that_takes_only_the_case_is_refused_at_once() -> None:
    def answer(case: Case) -> str:
        return "x"

    with pytest.raises(ValueError, match=r"called as target\(case, variant\); .*answer\(case"):
        Funnel(checks.not_empty(), target=answer, variants={"v": {}})
    Funnel(checks.not_empty(), target=lambda case, variant: "x", variants={"v": {}})
    Funnel(checks.not_empty(), target=lambda *args: "x", variants={"v": {}})


def test_a_pairwise_judge_with_a_target_needs_variants() -> None:
    with pytest.raises(ValueError, match="pass variants="):
        Funnel(judges.pairwise("overall"), target=Target())


def test_settings_cannot_be_edited_after_the_funnel_is_made() -> None:
    settings = {"v": {"template": "x"}}
    live = Funnel(checks.not_empty(), target=Target(), variants=settings)
    settings["v"]["template"] = "changed"
    assert live.variants[0]["template"] == "x"
    with pytest.raises(TypeError):
        live.variants[0].settings["template"] = "y"  # type: ignore[index]
