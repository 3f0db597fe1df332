"""--llm-funnel-mlflow against a real MLflow tracking store (SQLite, in tmp_path), read back."""

from __future__ import annotations

from pathlib import Path

import pytest

# Imported outside any in-process pytester run (see tests/support/preload.py).
from pytest_llmfunnel import Funnel  # noqa: F401
from tests.support.runs import cases, write_jsonl

TEST_FILE = """
import pytest
from pytest_llmfunnel import Funnel, checks, judges

FUNNEL = Funnel(checks.not_empty(), judges.rubric("helpful", "Is the answer helpful?",
                                                  name="helpful"))

@pytest.mark.llm_dataset("cases.jsonl", funnel=FUNNEL, baseline=False)
def test_answers(case):
    pass
"""


@pytest.mark.slow
def test_a_run_is_logged_with_params_metrics_tags_and_the_report(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("GITHUB_SHA", "feedface" * 5)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-mlflow-5d1e")  # set, never sent anywhere
    write_jsonl(pytester.path / "cases.jsonl", cases(6))
    pytester.makepyfile(test_answers=TEST_FILE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = pytester.runpytest(
        "--llm-funnel", "--llm-funnel-judge=offline", "-p", "no:cacheprovider",
        f"--llm-funnel-mlflow-tracking-uri={uri}", "--llm-funnel-mlflow-experiment=evals",
        "--llm-funnel-report=report.md",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["MLflow: run * logged to experiment evals"])

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("evals")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    (child,) = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.params["commit"] == "feedface" * 5
    assert parent.data.tags["llmfunnel.decision"] == "passed"
    assert parent.info.status == "FINISHED"
    (artifact,) = client.list_artifacts(parent.info.run_id)
    assert artifact.path == "llmfunnel-report.md"
    local = client.download_artifacts(parent.info.run_id, artifact.path, str(tmp_path))
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert Path(local).read_text(encoding="utf-8") == report

    params, metrics, tags = child.data.params, child.data.metrics, child.data.tags
    assert params["test"] == "test_answers.py::test_answers" and params["cases"] == "6"
    assert params["judge.helpful"].startswith("offline-reference")
    assert len(params["dataset_fingerprint"]) == 64
    assert metrics["helpful pass rate"] == 1.0
    assert 0.5 < metrics["helpful pass rate.low"] < 1.0 == metrics["helpful pass rate.high"]
    assert metrics["promotion rate"] == 1.0 and "duration_s" in metrics
    assert tags["llmfunnel.decision"] == "not gated" and tags["llmfunnel.promoted"] == "none"
    everything = f"{parent.data} {child.data}"
    assert "sk-canary-mlflow" not in everything

