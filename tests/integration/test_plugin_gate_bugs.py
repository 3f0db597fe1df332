"""Gate plumbing that went wrong: each test reproduces one such failure through the plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.gate.baseline_file import load_baseline
from pytest_llmfunnel.testing import Action, JudgeServer, ok, random_verdicts
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")


def _prefer_zebra(body: dict[str, Any]) -> Action:
    text = json.dumps(body)
    if "zebra" not in text or "lemur" not in text:
        return ok(json.dumps({"reasoning": "same", "winner": "tie"}))
    winner = "A" if text.index("zebra") < text.index("lemur") else "B"
    return ok(json.dumps({"reasoning": f"{winner} is better", "winner": winner}))


PAIRWISE = """
import pytest
from pytest_llmfunnel import Funnel, judges

@pytest.mark.llm_dataset("ab.jsonl", funnel=Funnel(judges.pairwise("overall")))
def test_ab(case, llm_variant, llm_result):
    pass
"""


def _pairwise_rows(new_output: str) -> list[dict[str, Any]]:
    return [
        {"id": f"p{i}", "input": f"What is item {i}?", "output_base": "lemur",
         "output_new": new_output}
        for i in range(6)
    ]


@pytest.mark.parametrize("change", [False, True], ids=["unchanged", "changed-output"])
def test_the_pairwise_metric_is_compared_against_a_baseline_the_same_judge_wrote(
    pytester: pytest.Pytester, judge_server: JudgeServer, change: bool
) -> None:
    judge_server.default = _prefer_zebra
    write_jsonl(pytester.path / "ab.jsonl", _pairwise_rows("zebra"))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_ab=PAIRWISE)
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()
    if change:
        write_jsonl(pytester.path / "ab.jsonl", _pairwise_rows("zebra, indeed"))
    judge_server.reset()
    fresh = pytester.path / "fresh-cache"  # a new machine: nothing cached
    result = pytester.runpytest(
        *judge_args(judge_server, "--llm-funnel-json=out.json", f"--llm-funnel-cache-dir={fresh}")
    )
    assert result.ret == 0, result.stdout.str()
    # Unchanged outputs reuse the stored comparison; changed ones are compared
    # (both orders), while the baseline's stored outputs keep their comparison.
    assert judge_server.stats.requests == (12 if change else 0)
    document = json.loads((pytester.path / "out.json").read_text())
    pairwise = [d for d in document["decisions"] if "pairwise_overall" in d["metric"]]
    assert len(pairwise) == 1, document["decisions"]
    pairwise = pairwise[0]
    assert pairwise["decision"] != "not comparable", pairwise["reason"]
    assert pairwise["n"] == 12  # every variant of every case, paired


@pytest.mark.parametrize("seed", [1, 2])
def test_a_pass_fail_judge_is_constrained_to_0_or_1(
    pytester: pytest.Pytester, seed: int
) -> None:
    """A server that honours the response schema answers only what the schema admits."""
    write_jsonl(pytester.path / "cases.jsonl", cases(40))
    pytester.makepyfile(
        test_eval="""
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance(scale="pass_fail")))
        def test_eval(case, llm_result):
            pass
        """
    )
    with JudgeServer(latency=0.0) as server:
        server.default = random_verdicts(seed=seed)
        result = pytester.runpytest(*judge_args(server))
        sent = server.stats.requests
    out = result.stdout.str()
    assert "could not be parsed" not in out
    assert sent == 40  # one request per case: no parse-error retries
    assert result.ret == 0, out


def test_tags_that_match_no_case_are_a_clear_collection_error(
    pytester: pytest.Pytester,
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(4, tags=("billing", "refunds")))
    pytester.makepyfile(
        test_eval="""
        import pytest

        @pytest.mark.llm_dataset("cases.jsonl", tags=["biling"])
        def test_eval(case):
            pass

        def test_other():
            pass
        """
    )
    for args in ([], ["--llm-funnel"]):
        result = pytester.runpytest(*args)
        out = result.stdout.str()
        assert "INTERNALERROR" not in out
        assert result.ret == pytest.ExitCode.INTERRUPTED
        result.stdout.fnmatch_lines([
            "*test_eval.py::test_eval: no case of cases.jsonl has the tag(s) 'biling'; "
            "tags in the file: billing, refunds*",
        ])


def test_parametrize_beside_llm_dataset_is_refused_with_a_usage_error(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(6))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(
        test_eval="""
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.fixture(params=["a", "b", "c"])
        def style(request):
            return request.param

        @pytest.mark.parametrize("temperature", [0.0, 0.7])
        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case, temperature, llm_result):
            pass

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_fixture_params(case, style, llm_result):
            pass
        """
    )
    for args in ([], judge_args(judge_server, "--llm-funnel-update-baseline")):
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
        result.stderr.fnmatch_lines([
            "*test_eval.py::test_eval: an llm_dataset test cannot also be parametrized "
            "(by temperature)*",
        ])
    assert not (pytester.path / "baselines").exists()


def test_a_baseline_from_a_single_eval_test_holds_every_case(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    """The supported way: one eval test per setting, each with its own whole baseline."""
    write_jsonl(pytester.path / "cases.jsonl", cases(6))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(
        test_eval="""
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_cold(case, llm_result):
            pass

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance(temperature=0.7)))
        def test_warm(case, llm_result):
            pass
        """
    )
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert result.ret == 0, result.stdout.str()
    for name in ("test_eval__test_cold", "test_eval__test_warm"):
        baseline = load_baseline(Path(pytester.path / "baselines" / f"{name}.jsonl"))
        assert [c.case for c in baseline.cases] == [f"c{i:02d}" for i in range(6)]
