"""--llm-funnel-mlflow against a real MLflow tracking store (SQLite, in tmp_path), read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


# Read back in a process of its own: once MLflow's client has run in this
# process, later in-process pytester runs no longer load the plugin.
READ_BACK = """
import json, sys
from mlflow.tracking import MlflowClient
uri, into = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri)
experiment = client.get_experiment_by_name("evals")
runs = client.search_runs([experiment.experiment_id])
parent, = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
child, = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
artifacts = [a.path for a in client.list_artifacts(parent.info.run_id)]
local = client.download_artifacts(parent.info.run_id, artifacts[0], into)
def run(r):
    return {"params": r.data.params, "metrics": r.data.metrics, "tags": r.data.tags,
            "status": r.info.status}
print(json.dumps({"parent": run(parent), "child": run(child), "artifacts": artifacts,
                  "report": open(local, encoding="utf-8").read()}))
"""


def read_back(uri: str, into: Path) -> dict[str, Any]:
    """The runs logged to experiment ``evals``, read with MlflowClient in a subprocess."""
    done = subprocess.run([sys.executable, "-c", READ_BACK, uri, str(into)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    logged: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return logged


@pytest.mark.slow
def test_a_run_is_logged_with_params_metrics_tags_and_the_report(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "feedface" * 5)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-mlflow-5d1e")  # set, never sent anywhere
    write_jsonl(pytester.path / "cases.jsonl", cases(6))
    pytester.makepyfile(test_answers=TEST_FILE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # In a process of its own: MLflow's import leaves this process unable to load
    # the plugin in later in-process pytester runs.
    result = pytester.runpytest_subprocess(
        "--llm-funnel", "--llm-funnel-judge=offline", "-p", "no:cacheprovider",
        f"--llm-funnel-mlflow-tracking-uri={uri}", "--llm-funnel-mlflow-experiment=evals",
        "--llm-funnel-report=report.md",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["MLflow: run * logged to experiment evals"])

    logged = read_back(uri, tmp_path)
    parent, child = logged["parent"], logged["child"]
    assert parent["params"]["commit"] == "feedface" * 5
    assert parent["tags"]["llmfunnel.decision"] == "passed"
    assert parent["status"] == "FINISHED"
    assert logged["artifacts"] == ["llmfunnel-report.md"]
    report = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert logged["report"] == report

    params, metrics, tags = child["params"], child["metrics"], child["tags"]
    assert params["test"] == "test_answers.py::test_answers" and params["cases"] == "6"
    assert params["judge.helpful"].startswith("offline-reference")
    assert len(params["dataset_fingerprint"]) == 64
    assert metrics["helpful pass rate"] == 1.0
    assert 0.5 < metrics["helpful pass rate.low"] < 1.0 == metrics["helpful pass rate.high"]
    assert metrics["promotion rate"] == 1.0 and "duration_s" in metrics
    assert tags["llmfunnel.decision"] == "not gated" and tags["llmfunnel.promoted"] == "none"
    everything = json.dumps(logged)
    assert "sk-canary-mlflow" not in everything

