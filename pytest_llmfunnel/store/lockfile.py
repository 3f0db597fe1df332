"""The verdict lockfile: cached verdicts as a JSONL file a repository can commit.

CI imports it and runs in replay-only mode, so judge verdicts are replayed
deterministically with no network; reviewers read it in a pull request. The
format is chosen for stable diffs: a header line, then one verdict per line
sorted by (case id, stage, repeat, key), keys sorted inside every object.

Each line carries the full request body and a ``digest``, the sha256 of every
other field of the line: an import recomputes both the key (from the request)
and the digest (from the whole record, answer included), so a line edited by
hand, a changed score as much as a changed prompt, is rejected naming file and
line. This guards against accidental and naive edits, not against someone who
recomputes the digest: a reviewer still reads the lockfile's diff. An import
validates the whole file before it writes anything, and then writes in one
transaction: a bad line leaves the cache exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.funnel.backend import CachedAnswer, JudgeRequest
from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.models import Usage, canonical_json, sha256_json
from pytest_llmfunnel.store.verdict_cache import VerdictRecord, VerdictStore
from pytest_llmfunnel.store.versioned_file import FileFormat, VersionedFileError, read_versioned
from pytest_llmfunnel.wording import plural

LOCKFILE_NAME: Final = "pytest-llmfunnel verdicts"
LOCKFILE_VERSION: Final = 2  # 2: every line carries a digest of the whole record


class LockfileError(VersionedFileError):
    """A lockfile that cannot be read, written or trusted; the message names file:line."""


LOCKFILE_FORMAT = FileFormat(
    noun="lockfile", short="lockfile", marker_key="lockfile", marker=LOCKFILE_NAME,
    version_key="version", version=LOCKFILE_VERSION, error=LockfileError,
    create="write one with `llmfunnel cache export`",
    fix="re-export it with `llmfunnel cache export`",
    upgrade="re-export it with this version",
    old_versions={
        1: f"lockfile version 1 carries no checksum of its answers, so this version (which "
        f"reads {LOCKFILE_VERSION}) cannot tell a hand-edited score from a judged one; "
        "re-export it: import it with the version that wrote it, then run `llmfunnel cache "
        "export`, or record the verdicts again with --llm-funnel-cache=read-write "
        "--llm-funnel-export-lockfile",
    },
)


class LockfileHeader(BaseModel):
    """The first line of every lockfile."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    lockfile: Literal["pytest-llmfunnel verdicts"] = LOCKFILE_NAME
    version: Literal[2] = LOCKFILE_VERSION


class LockfileLine(BaseModel):
    """One verdict: the request it answers, the parsed answer (never pass/fail), a digest."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    key: str
    case_id: str
    stage: str
    repeat: int
    base_url: str
    model: str
    judge: str
    score: float = Field(allow_inf_nan=False)
    reasoning: str
    usage: Usage
    body: JSONObject
    digest: str = ""
    # A structured output's digest, part of the key; absent for plain text,
    # so those lines (and their checksums) are as they always were.
    output: str | None = None

    def expected_digest(self) -> str:
        """sha256 of every field but ``digest``: the request and the answer."""
        return sha256_json(self.to_json(exclude={"digest"}))

    def to_json(self, exclude: set[str] | None = None) -> JSONObject:
        """The line's fields, without ``output`` for a plain output."""
        skip = set(exclude or ()) | ({"output"} if self.output is None else set())
        dumped: JSONObject = self.model_dump(mode="json", exclude=skip)
        return dumped

    @classmethod
    def from_record(cls, record: VerdictRecord) -> LockfileLine:
        line = cls._from_record(record)
        return line.model_copy(update={"digest": line.expected_digest()})

    @classmethod
    def _from_record(cls, record: VerdictRecord) -> LockfileLine:
        answer = record.answer
        return cls(
            key=record.key,
            case_id=record.case_id,
            stage=record.stage,
            repeat=record.repeat,
            base_url=record.base_url,
            model=answer.model,
            judge=answer.judge,
            score=answer.score,
            reasoning=answer.reasoning,
            usage=answer.usage,
            body=record.body,
            output=record.output,
        )

    def to_record(self) -> VerdictRecord:
        answer = CachedAnswer(
            score=self.score,
            reasoning=self.reasoning,
            usage=self.usage,
            model=self.model,
            judge=self.judge,
        )
        return VerdictRecord(
            key=self.key,
            case_id=self.case_id,
            stage=self.stage,
            base_url=self.base_url,
            repeat=self.repeat,
            body=self.body,
            answer=answer,
            output=self.output,
        )


def export_lockfile(
    store: VerdictStore, path: str | Path, *, keys: Iterable[str] | None = None
) -> int:
    """Write the store's verdicts (or only ``keys``) to ``path`` atomically; return the count.

    Pass ``store.keys_seen`` as ``keys`` to export exactly what one run used.
    """
    if keys is None:
        records = list(store.records())
    else:
        records, missing = [], []
        for key in sorted(set(keys)):
            record = store.record(key)
            if record is None:
                missing.append(key)
            else:
                records.append(record)
        if missing:
            raise LockfileError(
                f"{len(missing)} of the {plural(len(records) + len(missing), 'verdict')} to export "
                f"(the first: {missing[0][:16]}...) are not in the cache at {store.directory} "
                "any more (was it cleared meanwhile?); nothing was written"
            )
    records.sort(key=lambda r: (r.case_id, r.stage, r.repeat, r.key))
    lines = [canonical_json(LockfileHeader().model_dump(mode="json"))]
    lines += [canonical_json(LockfileLine.from_record(r).to_json()) for r in records]
    text = "\n".join(lines) + "\n"
    store.guard_secrets(text, f"the lockfile {path}")
    atomic_write(Path(path), text.encode("utf-8"))
    return len(records)


def read_lockfile(path: str | Path) -> list[VerdictRecord]:
    """Parse and verify a whole lockfile; raise LockfileError naming file:line."""
    read = read_versioned(path, LOCKFILE_FORMAT)
    try:
        LockfileHeader.model_validate(read.header)
    except ValidationError as exc:
        raise read.error(read.header_line, f"bad header: {_first_error(exc)}") from None
    records: list[VerdictRecord] = []
    first_line: dict[str, tuple[int, LockfileLine]] = {}
    for number, raw in read.rows:
        try:
            entry = LockfileLine.model_validate(raw)
        except ValidationError as exc:
            raise read.error(number, f"bad verdict line: {_first_error(exc)}") from None
        actual = JudgeRequest(
            body=entry.body, base_url=entry.base_url, repeat=entry.repeat,
            output_digest=entry.output,
        )
        if actual.cache_key() != entry.key:
            raise read.error(
                number,
                f"key {entry.key[:16]}... does not match its request (the sha256 of "
                f"body, base_url and repeat is {actual.cache_key()[:16]}...). The line was "
                "edited or damaged",
                "re-export the lockfile, or delete this line",
            )
        if entry.digest != entry.expected_digest():
            raise read.error(
                number,
                f"the checksum does not match the line (digest "
                f"{entry.digest[:16] or '(none)'}..., the sha256 of its other fields is "
                f"{entry.expected_digest()[:16]}...): its answer or request was edited or "
                "damaged. Verdicts come from the judge, not from hand edits",
                "re-export the lockfile with `llmfunnel cache export` "
                "(or --llm-funnel-export-lockfile), or delete this line",
            )
        if entry.key in first_line:
            seen_at, seen = first_line[entry.key]
            if seen != entry:
                raise read.error(
                    number,
                    f"key {entry.key[:16]}... already appears on line {seen_at} "
                    "with a different answer",
                    "keep one of the two lines",
                )
            continue
        first_line[entry.key] = (number, entry)
        records.append(entry.to_record())
    return records


def import_lockfile(store: VerdictStore, path: str | Path) -> int:
    """Load a lockfile into the store, all or nothing; return how many verdicts it held.

    Works in every cache mode except ``off`` (an import is an explicit request).
    """
    if store.mode == "off":
        raise LockfileError(
            f"cannot import {path}: the verdict cache is off; "
            "choose another --llm-funnel-cache mode"
        )
    return store.import_records(read_lockfile(path))


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "line"
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{location}: {error['msg']}{suffix}"
