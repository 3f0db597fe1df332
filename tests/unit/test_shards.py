"""Shards without a pytest session: the split, the flag, the checks and the CI recipes.

The merge itself is shown on real sharded runs in tests/integration/test_shards.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.config import ConfigError, resolve_settings
from pytest_llmfunnel.record import CaseRecord, StageRecord
from pytest_llmfunnel.report.results_json import (
    SettingsSummary,
    build_document,
    write_results,
)
from pytest_llmfunnel.report.shard_entry import GateSettings, ShardDataset, ShardEntry, shard_of
from pytest_llmfunnel.shards.combine import ShardMismatch, combine
from tests.support.paths import REPO

IDS = [f"c{i:03d}" for i in range(300)]
DATASET = "test_eval.py::test_eval"


def test_every_case_has_one_shard_and_the_shards_are_about_even() -> None:
    sizes = Counter(shard_of(DATASET, case, 3) for case in IDS)
    assert set(sizes) == {1, 2, 3}
    assert all(70 <= n <= 130 for n in sizes.values()), sizes  # 100 expected each


def test_a_case_keeps_its_shard_when_others_are_added() -> None:
    before = {case: shard_of(DATASET, case, 3) for case in IDS[:100]}
    assert {case: shard_of(DATASET, case, 3) for case in IDS[:100]} == before
    assert shard_of(DATASET, "c001", 3) == shard_of(DATASET, "c001", 3)


@pytest.mark.parametrize("raw", ["0/3", "4/3", "2", "a/b", "2/0", "-1/3"])
def test_a_shard_flag_that_is_not_i_of_n_is_a_usage_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="is not a shard: use I/N"):
        resolve_settings({"llm_funnel_shard": raw}, enabled=True, env={})


def test_the_shard_flag_is_read_and_refuses_what_a_shard_cannot_do() -> None:
    settings = resolve_settings(
        {"llm_funnel_shard": "2/3", "llm_funnel_run_id": "r"}, enabled=True, env={}
    )
    assert settings.shard == (2, 3) and settings.run_id == "r"
    with pytest.raises(ConfigError, match="cannot be combined with --llm-funnel-update-baseline"):
        resolve_settings({"llm_funnel_shard": "1/3", "llm_funnel_update_baseline": True},
                         enabled=True, env={})


def record(case: str, *, judge: str = "model-a", threshold: float = 3.0) -> CaseRecord:
    stage = StageRecord(
        stage="relevance", kind="judge", status="passed", gating=True, must=False, score=5.0,
        samples=(5.0,), reason="ok", judge=judge, requests=1, cache_hits=0, prompt_tokens=1,
        completion_tokens=1, scale=(1.0, 5.0), threshold=threshold,
    )
    return CaseRecord(dataset=DATASET, path="cases.jsonl", case=case, variant="default",
                      fingerprint="f", tags=(), output="out", promoted=True, dropped_at=None,
                      error=None, stages=(stage,))


def write_shard(
    folder: Path, index: int, *, count: int = 3, run_id: str | None = "run-1",
    alpha: float = 0.05, cases: list[str] | None = None, **stage: Any,
) -> Path:
    mine = cases if cases is not None else [c for c in IDS if shard_of(DATASET, c, count) == index]
    entry = ShardEntry(
        index=index, count=count, run_id=run_id, pytest_status=0,
        gate=GateSettings(alpha=alpha, tolerance=0.02, gate_mode="superiority",
                          max_error_share=0.02, seed=0, price_in=None, price_out=None),
        datasets=[ShardDataset(name=DATASET, path="cases.jsonl", ids=IDS, units=len(IDS),
                               selected=len(mine), baseline=None, baseline_from="off",
                               baseline_sha256=None)],
        endpoint_notes=[],
    )
    settings = SettingsSummary(judge="openai", judge_label="x", model="m", cache="read-write",
                               alpha=alpha, tolerance=0.02, gate_mode="superiority", seed=0)
    document = build_document([record(c, **stage) for c in mine], [], [], settings=settings,
                              tool_version="1", shard=entry)
    path = folder / f"shard-{index}-{count}-{run_id}-{alpha}-{len(stage)}.json"
    write_results(document, path)
    return path


def test_shards_of_one_run_combine_into_the_records_in_dataset_order(tmp_path: Path) -> None:
    combined = combine([write_shard(tmp_path, i) for i in (3, 1, 2)])
    assert [r.case for r in combined.records] == IDS
    assert combined.completeness.status == "complete"
    assert [s.entry.index for s in combined.shards] == [1, 2, 3]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"index": 1}, "shard 1 of 3 is given twice"),
        ({"index": 2, "run_id": "run-2"}, "different runs: .* run-1, .* run run-2"),
        ({"index": 2, "count": 4}, "different splits: .* shard 2 of 4"),
        ({"index": 2, "alpha": 0.1}, "setting alpha is 0.05 in .* but 0.1 in"),
        ({"index": 2, "judge": "model-b"}, "stage 'relevance' .* judge=model-a.* judge=model-b"),
        ({"index": 2, "threshold": 4.0}, "stage 'relevance' .* threshold=3.0.* threshold=4.0"),
        ({"index": 2, "cases": ["c000", "c001", "c002", "c003", "c004", "c005"]},
         "is in two shards"),
    ],
)
def test_shards_that_do_not_belong_together_are_refused_saying_what_differs(
    tmp_path: Path, second: dict[str, Any], message: str
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_shard(tmp_path / "a", 1)
    other = write_shard(tmp_path / "b", **second)
    with pytest.raises(ShardMismatch, match=message):
        combine([first, other])


def test_a_results_file_of_an_unsharded_run_is_refused(tmp_path: Path) -> None:
    settings = SettingsSummary(judge="offline", judge_label="x", model=None, cache="read-write",
                               alpha=0.05, tolerance=0.02, gate_mode="superiority", seed=0)
    path = tmp_path / "whole.json"
    write_results(build_document([], [], [], settings=settings, tool_version="1"), path)
    with pytest.raises(ShardMismatch, match="not a shard's results"):
        combine([path])


def test_a_missing_shard_leaves_the_run_incomplete_naming_its_cases(tmp_path: Path) -> None:
    combined = combine([write_shard(tmp_path, 1), write_shard(tmp_path, 3)])
    scope = combined.completeness
    assert scope.status == "incomplete"
    absent = [c for c in IDS if shard_of(DATASET, c, 3) == 2]
    assert scope.stopped is not None
    assert scope.stopped.startswith(f"shard 2 of 3 is missing: {len(absent)} cases never ran")
    assert absent[0] in scope.stopped and f"({len(absent) - 10} more)" in scope.stopped
    assert scope.evaluated == len(IDS) - len(absent)


def ci_blocks() -> list[str]:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    section = text.split("## One gate across CI shards", 1)[1].split("\n## ", 1)[0]
    return [part.split("```", 1)[0].split("\n", 1)[1] for part in section.split("```yaml")[1:]]


def test_the_github_recipe_runs_three_shards_and_one_gate_job() -> None:
    yaml = pytest.importorskip("yaml")
    github = yaml.safe_load(next(b for b in ci_blocks() if "runs-on:" in b))
    shard, gate = github["jobs"]["shard"], github["jobs"]["gate"]
    assert shard["strategy"]["matrix"]["shard"] == [1, 2, 3]
    steps = " ".join(str(s) for s in shard["steps"])
    assert "--llm-funnel-shard=${{ matrix.shard }}/3" in steps
    assert "actions/upload-artifact@v4" in steps
    assert gate["needs"] == "shard" and gate["if"] == "always()"
    gate_steps = " ".join(str(s) for s in gate["steps"])
    assert "actions/download-artifact@v4" in gate_steps
    assert "llmfunnel gate shard-*.json" in gate_steps


def test_the_gitlab_recipe_runs_parallel_shards_and_a_gate_that_needs_them() -> None:
    yaml = pytest.importorskip("yaml")
    gitlab = yaml.safe_load(next(b for b in ci_blocks() if "parallel:" in b))
    assert gitlab["llm-shard"]["parallel"] == 3
    assert "--llm-funnel-shard=$CI_NODE_INDEX/$CI_NODE_TOTAL" in " ".join(
        gitlab["llm-shard"]["script"])
    assert gitlab["llm-gate"]["needs"] == [{"job": "llm-shard", "artifacts": True}]
    assert gitlab["llm-gate"]["when"] == "always"
    assert any("llmfunnel gate shard-*.json" in line for line in gitlab["llm-gate"]["script"])
