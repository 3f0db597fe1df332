"""The ledger and MLflow settings: paths from the rootdir, MLflow asked for only when installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmfunnel.config import ConfigError, resolve_settings
from pytest_llmfunnel.ledger.mlflow_log import mlflow_key


def test_the_ledger_path_is_relative_to_the_rootdir(tmp_path: Path) -> None:
    settings = resolve_settings({"llm_funnel_ledger": "evals/ledger.jsonl"}, enabled=True,
                                env={}, rootdir=tmp_path)
    assert settings.ledger == tmp_path / "evals" / "ledger.jsonl"


def test_a_tracking_uri_turns_mlflow_logging_on() -> None:
    settings = resolve_settings({}, enabled=True,
                                env={"LLM_FUNNEL_MLFLOW_TRACKING_URI": "sqlite:///m.db"})
    assert settings.mlflow and settings.mlflow_tracking_uri == "sqlite:///m.db"
    assert settings.mlflow_experiment == "llm-funnel"
    assert not resolve_settings({}, enabled=True, env={}).mlflow


def test_asking_for_mlflow_without_it_installed_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r"needs MLflow: pip install 'pytest-llmfunnel\[mlflow"):
        resolve_settings({"llm_funnel_mlflow": True}, enabled=True, env={})


def test_mlflow_keys_keep_what_mlflow_accepts() -> None:
    assert mlflow_key("judge.tests/a.py::t [v]") == "judge.tests/a.py__t _v_"
