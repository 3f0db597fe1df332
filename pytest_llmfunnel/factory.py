"""Build the judge backend and the verdict store a run's settings ask for."""

from __future__ import annotations

from pytest_llmfunnel.backend import AnswerStore, JudgeBackend, NullStore
from pytest_llmfunnel.config import Settings

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def make_backend(settings: Settings, worker_count: int = 1) -> JudgeBackend:
    """The offline reference judge, or an OpenAI-compatible client.

    ``--llm-funnel-concurrency`` is a total: under xdist each worker gets its share.
    """
    if settings.use_offline_judge:
        from pytest_llmfunnel.offline import OfflineReferenceJudge

        return OfflineReferenceJudge()
    from pytest_llmfunnel.client import OpenAIJudgeBackend

    return OpenAIJudgeBackend(
        settings.model,
        settings.base_url or OPENAI_DEFAULT_URL,
        settings.api_key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        concurrency=max(1, settings.concurrency // max(1, worker_count)),
    )


def make_store(settings: Settings) -> AnswerStore:
    """The diskcache verdict store in the configured folder, or no store when off."""
    if settings.cache == "off" or settings.cache_dir is None:
        return NullStore()
    from pytest_llmfunnel.cache import VerdictStore

    secrets = [settings.api_key] if settings.api_key else []
    return VerdictStore(settings.cache_dir, mode=settings.cache, secrets=secrets)


def describe(settings: Settings) -> str:
    """The report header line: who judges, and where verdicts are cached."""
    if settings.use_offline_judge:
        judge = "offline reference judge (rule-based, not an LLM)"
    else:
        judge = f"{settings.model} @ {settings.base_url or OPENAI_DEFAULT_URL}"
    cache = "off" if settings.cache == "off" else f"{settings.cache} in {settings.cache_dir}"
    return f"llm-funnel: judge {judge}; cache {cache}; concurrency {settings.concurrency}"
