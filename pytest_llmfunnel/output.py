"""What a system under test produced for one case: text, and what came with it.

A target (or a dataset row) gives either a plain string or an :class:`Output`.
A string is the same as ``Output(text=...)``. The structured fields are what a
real LLM application produces beside its answer: the chunks its retriever
found (``context``), the tools it called (``tool_calls``), the whole
conversation (``messages``), and what the call cost (``usage``, ``latency_s``,
``cost``). Every field is untrusted text from the system under test: judge
prompts fence it and reports escape it like the answer itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pytest_llmfunnel.models import Role, sha256_json


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Chunk(_Part):
    """One retrieved passage, in the order the retriever ranked it."""

    text: str
    id: str | None = None
    source: str | None = None
    score: float | None = None


class ToolCall(_Part):
    """One tool call: its name, its arguments (a JSON object) and, if run, its result."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    id: str | None = None


class Message(_Part):
    """One message of a conversation, with the tool calls an assistant message made."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class TokenUsage(_Part):
    """Tokens the system under test used to produce the output."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Output(_Part):
    """One output of the system under test, with its structure.

    ``text`` is the answer every text check and judge reads; the other fields
    are optional and empty by default, so ``Output(text=s)`` is a plain answer.
    """

    text: str = ""
    context: tuple[Chunk, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    messages: tuple[Message, ...] = ()
    usage: TokenUsage | None = None
    latency_s: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, value: str | Output) -> Output:
        """``value`` as an Output: a string becomes its ``text``."""
        if isinstance(value, Output):
            return value
        if isinstance(value, str):
            return cls(text=value)
        raise TypeError(f"an output is a str or an Output, not {type(value).__name__}")

    @property
    def is_plain(self) -> bool:
        """True when nothing but ``text`` is set (the output is just a string)."""
        return self == Output(text=self.text)

    def digest(self) -> str:
        """sha256 of the whole output: what a verdict over it is keyed by."""
        if self.is_plain:
            return sha256_json(self.text)
        return sha256_json(self.model_dump(mode="json", exclude_defaults=True))
