"""One cached verdict as the cache stores it: the request, the answer, and when."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field

from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.jsontypes import JSONObject


def now() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class VerdictRecord(BaseModel):
    """One cached verdict with what is needed to explain a miss or write a lockfile."""

    # defer_build: a warm run reads only the answer (see _StoredAnswer), never a whole record.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    key: str
    case_id: str
    stage: str
    base_url: str
    repeat: int
    body: JSONObject
    answer: CachedAnswer
    created: str = Field(default_factory=now)
    # The digest of a structured output judged (part of the key), None for text.
    output: str | None = None

    def request(self) -> JudgeRequest:
        return JudgeRequest(
            body=self.body, base_url=self.base_url, repeat=self.repeat, output_digest=self.output
        )
