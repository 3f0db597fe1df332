"""The funnel through the plugin: statuses, must/strict, judge errors, targets, pairwise,
ad-hoc judging, stopping early, dry runs and budgets (against a loopback judge server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmfunnel.testing import Action, JudgeServer, garbage, ok, verdict
from tests.support.runs import cases, judge_args, write_jsonl

pytestmark = pytest.mark.usefixtures("openai_env")

SECTIONS_CONFTEST = """
import json

def pytest_runtest_logreport(report):
    if report.when == "call" and report.sections:
        with open("sections.jsonl", "a") as f:
            f.write(json.dumps([report.nodeid, report.sections]) + "\\n")
"""


def by_item(server: JudgeServer, scores: dict[int, float], default: float = 4) -> None:
    """Score the case whose input is "What is item N?" as scores[N], others as default."""

    def answer(body: dict[str, Any]) -> Action:
        text = json.dumps(body)
        for n, score in scores.items():
            if f"item {n}?" in text:
                return verdict(score, reasoning=f"graded item {n}")
        return verdict(default)

    server.default = answer


def test_stage_failures_are_llm_failed_with_stage_and_reason(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(5))
    pytester.makeconftest(SECTIONS_CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case, llm_result):
            assert llm_result.case_id == case.id
        """
    )
    by_item(judge_server, {2: 1})
    result = pytester.runpytest(*judge_args(judge_server))
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*cases that failed or errored in the funnel (1):",
            "  c02  relevance: failed (score 1): score 1 < threshold 4: graded item 2",
            "*4 passed, 1 llm-failed*",
        ]
    )
    sections = [json.loads(line) for line in (pytester.path / "sections.jsonl").open()]
    assert sections == [
        [
            "test_stage_failures_are_llm_failed_with_stage_and_reason.py::test_eval[c02]",
            [["llm-funnel", "relevance: failed (score 1): score 1 < threshold 4: graded item 2"]],
        ]
    ]


FUNNEL_WITH_MUST = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(checks.max_chars(30, must=True), judges.relevance())

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL)
def test_eval(case):
    pass
"""


def test_must_fails_the_item_and_strict_fails_every_stage_failure(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    rows = cases(4)
    rows[1]["output"] = "y" * 40
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makepyfile(test_eval=FUNNEL_WITH_MUST)
    by_item(judge_server, {3: 2})
    result = pytester.runpytest(*judge_args(judge_server))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*case 'c01' failed funnel stage(s):",
            "*max_chars(30): failed: 40 chars > maximum 30",
            "*1 failed, 2 passed, 1 llm-failed*",
        ]
    )
    strict = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-strict"))
    assert strict.ret == 1
    strict.stdout.fnmatch_lines(
        ["*relevance: failed: score 2 < threshold 4*", "*2 failed, 2 passed*"]
    )


def test_judge_errors_are_llm_error_never_pass_or_fail(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(3))
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case):
            pass
        """
    )
    judge_server.default = lambda body: (
        garbage("I think it is fine") if "item 1?" in json.dumps(body) else verdict(4)
    )
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-max-error-share=0.5"))
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*c01  relevance: error: the judge's answer could not be parsed after 3 attempt*",
            "*2 passed, 1 llm-error*",
        ]
    )


TARGETS = """
import asyncio, time
import pytest
from pytest_llmfunnel import Funnel, checks

def sync_target(case):
    if case.id == "c01":
        raise RuntimeError("model unavailable")
    if case.id == "c02":
        time.sleep(1.0)
    return "answer to " + case.input

async def async_target(case):
    if case.id == "c02":
        await asyncio.sleep(5)
    return "answer to " + case.input

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty(), target=sync_target))
def test_sync(case, llm_result):
    pass

@pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(checks.not_empty(), target=async_target))
def test_async(case, llm_result):
    assert llm_result.error or llm_result.output == "answer to " + case.input
"""


def test_sync_and_async_targets_with_a_case_timeout(pytester: pytest.Pytester) -> None:
    rows = cases(3)
    for row in rows:
        del row["output"]
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makepyfile(test_targets=TARGETS)
    result = pytester.runpytest(
        "--llm-funnel",
        "--llm-funnel-case-timeout=0.3",
        "--llm-funnel-max-error-share=1",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines_random(
        [
            # Two eval tests: each case is prefixed by its test's label.
            "  sync/c01  target: error: target raised RuntimeError: model unavailable",
            "  sync/c02  target: error: target timed out after 0.3 s (3 attempts)",  # retried twice
            "  async/c02  target: error: target timed out after 0.3 s (3 attempts)",
            "*3 passed, 3 llm-error*",
        ]
    )


PAIRWISE = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(checks.max_chars(30), judges.pairwise("overall"))

@pytest.mark.llm_dataset("ab.jsonl", funnel=FUNNEL)
def test_ab(case, llm_variant, llm_result):
    stage = llm_result.stage("pairwise_overall")
    print("PAIR", case.id, llm_variant, stage.score, stage.reason.split(";")[0])
"""


def test_pairwise_judge_compares_variants_once_per_case(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    rows = [
        {"id": "p1", "input": "What is item 1?", "output_base": "lemur", "output_new": "zebra"},
        {"id": "p2", "input": "What is item 2?", "output_base": "x" * 40, "output_new": "fine"},
    ]
    write_jsonl(pytester.path / "ab.jsonl", rows)
    pytester.makepyfile(test_ab=PAIRWISE)

    def prefer_better(body: dict[str, Any]) -> Action:  # wherever "zebra" is shown
        text = json.dumps(body)
        winner = "A" if text.index("zebra") < text.index("lemur") else "B"
        return ok(json.dumps({"reasoning": f"{winner} is better", "winner": winner}))

    judge_server.default = prefer_better
    result = pytester.runpytest(*judge_args(judge_server), "-s")
    assert result.ret == 0
    result.stdout.fnmatch_lines_random(
        [
            "*PAIR p1 base -1.0 new wins (both orders agree)",
            "*PAIR p1 new 1.0 new wins (both orders agree)",
            "*PAIR p2 base -1.0 new wins without a request: base was dropped at max_chars(30)",
            "*PAIR p2 new 1.0 new wins without a request: base was dropped at max_chars(30)",
        ]
    )
    assert judge_server.stats.requests == 2  # p1 in both orders; p2 needed none
    result.stdout.fnmatch_lines(["pairwise_overall * 4 * 4 * 0 * 0 * 0 * 2 * 2 *"])


def test_llm_judge_fixture_asks_the_server_and_is_cached(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    pytester.makepyfile(
        """
        def test_polite(llm_judge):
            result = llm_judge("Is the reply polite?", "Thank you for asking!")
            assert result.passed and result.status == "passed"
            low = llm_judge("Is the reply polite?", "Go away.", threshold=5)
            assert not low.passed and low.failed
            assert result.verdict.score == 4
        """
    )
    result = pytester.runpytest(*judge_args(judge_server))
    result.assert_outcomes(passed=1)
    assert judge_server.stats.requests == 2
    again = pytester.runpytest(*judge_args(judge_server))
    again.assert_outcomes(passed=1)
    assert judge_server.stats.requests == 2
    skipped = pytester.runpytest("-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=1)


def test_x_stops_new_requests(pytester: pytest.Pytester) -> None:
    rows = cases(30)
    rows[0]["output"] = "z" * 50  # fails its must=True check at once, without a request
    write_jsonl(pytester.path / "cases.jsonl", rows)
    pytester.makepyfile(test_eval=FUNNEL_WITH_MUST)
    with JudgeServer(latency=0.2) as slow:
        result = pytester.runpytest(*judge_args(slow, "--llm-funnel-concurrency=2"), "-x")
        assert result.ret == 1
        result.stdout.fnmatch_lines(["*1 failed*"])
        assert slow.stats.requests <= 6  # at most the cases already in flight


def test_dry_run_counts_misses_and_cost_and_sends_nothing(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(6))
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case):
            pass
        """
    )
    # Record two cases for real, so the dry run finds them in the cache.
    pytester.runpytest(*judge_args(judge_server), "-k", "c00 or c01").assert_outcomes(passed=2)
    judge_server.reset()
    prices = ["--llm-funnel-price-in=2", "--llm-funnel-price-out=8"]
    result = pytester.runpytest(*judge_args(judge_server, "--llm-funnel-dry-run", *prices), "-rs")
    assert result.ret == 0
    assert judge_server.stats.requests == 0
    result.stdout.fnmatch_lines(
        [
            "dry run: nothing was sent; a real run would send 4 judge requests (cache misses) "
            "and answer 2 from the cache.",
            "estimated cost: at most 0.0* (about * prompt tokens, at most 2048 completion tokens).",
            "SKIPPED [[]6[]] *llm-funnel dry run: nothing was judged*",
            "*6 skipped*",
        ]
    )


def test_budget_stops_new_requests_and_says_so(
    pytester: pytest.Pytester, judge_server: JudgeServer
) -> None:
    write_jsonl(pytester.path / "cases.jsonl", cases(6))
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmfunnel import Funnel, judges

        @pytest.mark.llm_dataset("cases.jsonl", funnel=Funnel(judges.relevance()))
        def test_eval(case):
            pass
        """
    )
    # Each answer costs about 0.0001 at a price of 1 per million tokens; budget one answer.
    args = judge_args(
        judge_server,
        "--llm-funnel-concurrency=1",
        "--llm-funnel-price-in=1",
        "--llm-funnel-price-out=1",
        "--llm-funnel-budget=0.00001",
    )
    result = pytester.runpytest(*args)
    assert result.ret == 1
    assert judge_server.stats.requests == 1
    result.stdout.fnmatch_lines(
        [
            "*c01  relevance: error: judge call failed (budget): budget reached*",
            "budget: 0.000* of 1e-05 spent: budget reached, 5 judge requests were not started*",
            "*5 of 6 cases ended in a judge or target error*raise --llm-funnel-budget*",
            "*1 passed, 5 llm-error*",
        ]
    )
