"""The same run, logged to an MLflow tracking server (the optional ``mlflow`` extra).

A session becomes one MLflow run, named by its commit, with a child run
(``mlflow.parentRunId``) per eval test and variant, so MLflow's run
comparison lines up the same metric of the same test across commits:

* the parent: params ``commit``, ``branch``, ``llmfunnel.run_id``; tag
  ``llmfunnel.decision`` (``passed`` or ``failed``); the Markdown report as
  the artifact ``llmfunnel-report.md``;
* each child: params ``test``, ``variant``, ``dataset_fingerprint``,
  ``cases``, ``judge.<stage>`` (model and prompt version, never a key or an
  endpoint); metrics ``<metric>``, ``<metric>.low``, ``<metric>.high`` and
  ``<metric>.diff``, ``requests``, ``prompt_tokens``, ``completion_tokens``,
  ``cost``, ``duration_s``; tags ``llmfunnel.decision`` (the gate's word),
  ``llmfunnel.ranking`` (the ranking's outcome) and ``llmfunnel.promoted``.

MLflow is imported only here, and only when a run is logged: it is never a
dependency of the plugin. Everything goes through :class:`MlflowClient` (no
fluent API, whose active run is process-global state).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pytest_llmfunnel.ledger.entries import RunEntry

DEFAULT_EXPERIMENT = "llm-funnel"
REPORT_ARTIFACT = "llmfunnel-report.md"
INSTALL_HINT = "pip install 'pytest-llmfunnel[mlflow]'"
# MLflow keys allow letters, digits, "_", "-", ".", " " and "/".
_KEY_UNSAFE = re.compile(r"[^\w\-. /]")
PARAM_LIMIT = 500  # MLflow's own limit on a parameter value is 6000; ours is plenty


class MlflowUnavailable(RuntimeError):
    """MLflow is not installed; the message says what to install."""


def mlflow_key(name: str) -> str:
    """A metric, param or tag key MLflow accepts: other characters become ``_``."""
    return _KEY_UNSAFE.sub("_", name)


def log_run(
    entries: Sequence[RunEntry], *, tracking_uri: str | None, experiment: str,
    report: str | None, failed: bool,
) -> str:
    """Log one session's entries; return the parent MLflow run's id."""
    try:
        # Start-up choice: MLflow (seconds to import) loads only when a run is logged.
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MlflowUnavailable(f"MLflow is not installed: {INSTALL_HINT}") from None

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(
        experiment
    )
    first = entries[0]
    now = int(time.time() * 1000)
    parent = client.create_run(
        experiment_id, run_name=f"llmfunnel {(first.commit or 'unknown')[:8]}",
        tags={"llmfunnel.decision": "failed" if failed else "passed"},
    )
    pid = parent.info.run_id
    client.log_batch(pid, params=[
        Param("commit", first.commit or "unknown"), Param("branch", first.branch or "unknown"),
        Param("llmfunnel.run_id", first.run_id),
    ])
    if report is not None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / REPORT_ARTIFACT
            path.write_text(report, encoding="utf-8")
            client.log_artifact(pid, str(path))
    for entry in entries:
        child = client.create_run(
            experiment_id, run_name=f"{entry.test} [{entry.variant}]",
            tags={"mlflow.parentRunId": pid, "llmfunnel.decision": entry.decision,
                  "llmfunnel.ranking": entry.outcome or entry.ranking or "",
                  "llmfunnel.promoted": str(entry.promoted).lower()},
        )
        params = [Param(k, v[:PARAM_LIMIT]) for k, v in _params(entry).items()]
        metrics = [Metric(mlflow_key(k), v, now, 0) for k, v in _metrics(entry).items()]
        client.log_batch(child.info.run_id, metrics=metrics, params=params,
                         tags=[RunTag("llmfunnel.run_id", entry.run_id)])
        client.set_terminated(child.info.run_id)
    client.set_terminated(pid, status="FAILED" if failed else "FINISHED")
    return str(pid)


def _params(entry: RunEntry) -> dict[str, str]:
    out = {
        "test": entry.test, "variant": entry.variant, "cases": str(entry.cases),
        "dataset_fingerprint": entry.dataset_fingerprint, "commit": entry.commit or "unknown",
    }
    for stage, identity in entry.judges.items():
        out[mlflow_key(f"judge.{stage}")] = identity
    return out


def _metrics(entry: RunEntry) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in entry.metrics:
        for suffix, value in (("", m.value), (".low", m.low), (".high", m.high),
                              (".diff", m.diff)):
            if value is not None:
                out[m.name + suffix] = value
    cost = entry.cost
    out.update(requests=cost.requests, cache_hits=cost.cache_hits,
               prompt_tokens=cost.prompt_tokens, completion_tokens=cost.completion_tokens,
               duration_s=entry.duration)
    if cost.cost is not None:
        out["cost"] = cost.cost
    return out
