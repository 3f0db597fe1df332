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

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_llmfunnel.display import truncate
from pytest_llmfunnel.jsontypes import canonical_json, sha256_json

Role = Literal["system", "user", "assistant", "tool", "developer"]


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

    @classmethod
    def parse(cls, value: object) -> Output:
        """``value`` (a str, an Output or a mapping of its fields) as an Output.

        Raises :class:`OutputError` naming the first fields that are wrong
        (``context.0.text: Field required``), for the caller to say whose
        output it was.
        """
        if isinstance(value, (str, Output)):
            return cls.of(value)
        if not isinstance(value, Mapping):
            raise OutputError(
                f"an output is a str, an Output or a mapping of its fields "
                f"(text, context, tool_calls, ...), not {type(value).__name__}"
            )
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            raise OutputError(f"not a valid Output: {_problems(exc)}") from None

    @property
    def is_plain(self) -> bool:
        """True when nothing but ``text`` is set (the output is just a string)."""
        # Field by field rather than ``self == Output(text=self.text)``: every
        # cached verdict asks twice, and building a model to compare costs more.
        return type(self) is Output and not (
            self.context or self.tool_calls or self.messages or self.metadata
        ) and self.usage is None and self.latency_s is None and self.cost is None

    @property
    def has_structure(self) -> bool:
        """True when the output has content beyond its text (chunks, tool calls, ...).

        ``usage``, ``latency_s`` and ``cost`` are not content: they say how the
        output was produced, differ on every call, and no verdict depends on them.
        """
        return bool(self.context or self.tool_calls or self.messages or self.metadata)

    def digest(self) -> str:
        """sha256 of the output's content: what a verdict over it is keyed by.

        An output without structure digests as its text alone, so a plain
        string and ``Output(text=s)`` agree. The measurements (``usage``,
        ``latency_s``, ``cost``) are left out: they change from call to call
        and would make every verdict over a live target a cache miss.
        """
        if not self.has_structure:
            return sha256_json(self.text)
        return sha256_json(
            self.model_dump(
                mode="json", exclude_defaults=True, exclude={"usage", "latency_s", "cost"}
            )
        )


    def readable_lines(self, limit: int = 300) -> list[str]:
        """The output for a person to read: the text, the chunks numbered, the tool calls.

        Plain lines of untrusted text: every renderer escapes them for its
        medium (see :mod:`pytest_llmfunnel.escape`). Each part is cut to ``limit``.
        """
        lines = [f"text: {truncate(self.text, limit, one_line=True)}"]
        for number, chunk in enumerate(self.context, start=1):
            lines.append(f"chunk [{number}]{_chunk_label(chunk)}: "
                         f"{truncate(chunk.text, limit, one_line=True)}")
        for number, call in enumerate(self.tool_calls, start=1):
            lines.append(f"tool call {number}: {_call_text(call, limit)}")
        for number, message in enumerate(self.messages, start=1):
            lines.append(f"message {number} ({message.role}): "
                         f"{truncate(message.content, limit, one_line=True)}")
        if self.metadata:
            lines.append(f"metadata: {truncate(canonical_json(self.metadata), limit)}")
        measured = self._measured()
        if measured:
            lines.append(measured)
        return lines

    def summary(self) -> str:
        """The output in one line: its text, then its chunks and tool calls, in brief."""
        parts = [" ".join(self.text.split())]
        if self.context:
            chunks = "; ".join(
                f"[{n}]{_chunk_label(c)} {truncate(c.text, 60, one_line=True)}"
                for n, c in enumerate(self.context, start=1)
            )
            parts.append(f"chunks: {chunks}")
        if self.tool_calls:
            parts.append("tool calls: " + "; ".join(_call_text(c, 60) for c in self.tool_calls))
        return " | ".join(parts)

    def _measured(self) -> str:
        parts = []
        if self.latency_s is not None:
            parts.append(f"latency {self.latency_s:g} s")
        if self.cost is not None:
            parts.append(f"cost {self.cost:g}")
        if self.usage is not None:
            parts.append(f"tokens {self.usage.prompt_tokens} in, "
                         f"{self.usage.completion_tokens} out")
        return ", ".join(parts)


def _chunk_label(chunk: Chunk) -> str:
    named = " ".join(x for x in (chunk.id, chunk.source) if x)
    return f" {named}" if named else ""


def _call_text(call: ToolCall, limit: int) -> str:
    text = f"{call.name}({truncate(canonical_json(call.arguments), limit)})"
    if call.result is not None:
        text += f" -> {truncate(canonical_json(call.result), limit, one_line=True)}"
    return text


class OutputError(ValueError):
    """A value that is not an output; the message names the fields that are wrong."""


def _problems(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(the whole value)"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"field '{where}': {message}")
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    return "; ".join(parts) + more
