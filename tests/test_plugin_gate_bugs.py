"""Gate plumbing that went wrong: each test reproduces one such failure through the plugin."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import cases, judge_args, write_jsonl

from pytest_llmfunnel.testing import JudgeServer, ok, random_verdicts

pytestmark = pytest.mark.usefixtures("openai_env")


def _prefer_zebra(body: dict[str, Any]) -> Any:
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
    judge_server.default = _prefer_zebra  # type: ignore[assignment]
    write_jsonl(pytester.path / "ab.jsonl", _pairwise_rows("zebra"))
    pytester.makeini("[pytest]\nllm_funnel_baseline_dir = baselines\n")
    pytester.makepyfile(test_ab=PAIRWISE)
    update = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-update-baseline"))
    assert update.ret == 0, update.stdout.str()
    if change:
        write_jsonl(pytester.path / "ab.jsonl", _pairwise_rows("zebra, indeed"))
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-json=out.json"))
    assert result.ret == 0, result.stdout.str()
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
