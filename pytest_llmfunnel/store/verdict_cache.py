"""The verdict cache: judge answers (and, opt-in, target outputs) kept on disk by content.

A verdict is stored under :meth:`JudgeRequest.cache_key`, the sha256 of exactly
what is sent, so any prompt edit misses by itself while renaming a test or
moving a dataset keeps every verdict. Pass/fail is never stored; the caller
derives it from the score when reading.

The store sits on :class:`diskcache.Cache` (SQLite in WAL mode): every ``put``
is its own committed transaction, so several processes (xdist workers) and
threads can write at once and a killed run keeps everything it had stored.
Eviction is switched off: a verdict cache that silently forgets is a bill.
Values are JSON text under string keys, and the store reads them through
:class:`~pytest_llmfunnel.store.plain_disk.PlainDataDisk`, which never unpickles: a
planted pickle (a cache folder restored from an untrusted CI cache) is a miss
with a warning, not code that runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pytest_llmfunnel.cache_mode import CacheMode
from pytest_llmfunnel.funnel.backend import CachedAnswer, CacheMissError, JudgeRequest
from pytest_llmfunnel.models import Case, canonical_json, sha256_json
from pytest_llmfunnel.output import Output, OutputError
from pytest_llmfunnel.store.disk_store import DiskStore

# Re-exported: callers catch it where they use the stores.
from pytest_llmfunnel.store.disk_store import SecretInValueError as SecretInValueError
from pytest_llmfunnel.store.miss_reasons import Explanation, explain_miss
from pytest_llmfunnel.store.verdict_record import VerdictRecord as VerdictRecord
from pytest_llmfunnel.store.verdict_record import now as _now

RECORD_HINT = (
    "run once with --llm-funnel-cache=read-write, "
    "or import a lockfile with `llmfunnel cache import`"
)

_VERDICT = "verdict"
_INDEX = "index"
_OUTPUT = "output"


class _StoredAnswer(BaseModel):
    """The answer of a stored :class:`VerdictRecord`, its other fields skipped.

    A cache hit needs only the answer: validating the request body as well
    would cost as much again as the lookup.
    """

    model_config = ConfigDict(extra="ignore")

    answer: CachedAnswer


_Stored = TypeVar("_Stored", VerdictRecord, _StoredAnswer)


class CacheStats(BaseModel):
    """What the terminal summary shows about the cache."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built when first shown

    directory: str
    mode: CacheMode
    verdicts: int
    outputs: int
    size_bytes: int



class VerdictStore(DiskStore):
    """Parsed judge answers on disk; satisfies :class:`pytest_llmfunnel.funnel.backend.AnswerStore`.

    Args:
        directory: the cache directory (created, with a ``.gitignore`` of ``*``).
        mode: ``read-write`` (default); ``read-only`` serves hits and writes
            nothing; ``off`` never hits and writes nothing; ``replay-only``
            raises :class:`CacheMissError` on a miss.
        secrets: strings that must never reach the disk (API keys). An
            answer's texts are stored with them replaced by ``***``; a request
            that holds one cannot be (its key is the hash of what was sent), so
            its verdict is not cached, with a logged warning. Imports refuse
            such a record with :class:`SecretInValueError`.

    ``hits``, ``misses`` and ``writes`` count this instance's traffic by stage
    (per process: under xdist each worker has its own). ``keys_seen`` holds the
    keys hit or written, which is what a lockfile of "this run" exports.
    """

    def __init__(
        self, directory: str | Path, *, mode: CacheMode = "read-write", secrets: Iterable[str] = ()
    ) -> None:
        super().__init__(directory, mode=mode, secrets=secrets)
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self.writes: dict[str, int] = {}
        self.keys_seen: set[str] = set()
        self._counter_lock = threading.Lock()

    def __enter__(self) -> VerdictStore:
        return self

    def _tally(self, counter: dict[str, int], stage: str, key: str | None = None) -> None:
        with self._counter_lock:
            counter[stage] = counter.get(stage, 0) + 1
            if key is not None:
                self.keys_seen.add(key)

    def get(self, request: JudgeRequest, *, case_id: str, stage: str) -> CachedAnswer | None:
        """The cached answer, or None; in ``replay-only`` a miss raises CacheMissError."""
        if self.mode == "off":
            self._tally(self.misses, stage)
            return None
        key = request.cache_key()
        answer = self._answer(key)
        if answer is not None:
            self._tally(self.hits, stage, key)
            return answer
        self._tally(self.misses, stage)
        if self.mode == "replay-only":
            why = self.explain(case_id, stage, request).summary()
            raise CacheMissError(
                f"no cached verdict for case {case_id!r}, stage {stage!r} "
                f"(cache mode replay-only; {why}). To record it, {RECORD_HINT}."
            )
        return None

    def put(self, request: JudgeRequest, answer: CachedAnswer, *, case_id: str, stage: str) -> None:
        """Store a parsed answer; a no-op unless the mode is ``read-write``.

        Raises TypeError for anything but a CachedAnswer (a judge error is never
        cached, so the next run asks again) and ValueError for a non-finite score;
        never for a secret (see the class docs).
        """
        if not isinstance(answer, CachedAnswer):
            raise TypeError(
                f"only a parsed CachedAnswer can be cached, not {type(answer).__name__}; "
                "judge errors are never stored so that the next run retries them"
            )
        if not math.isfinite(answer.score):
            raise ValueError(f"refusing to cache a non-finite score ({answer.score!r})")
        if self.mode != "read-write":
            return
        key = request.cache_key()
        record = VerdictRecord(
            key=key,
            case_id=case_id,
            stage=stage,
            base_url=request.base_url,
            repeat=request.repeat,
            body=request.body,
            answer=self._redacted(answer),
            output=request.output_digest,
        )
        what = f"the verdict for case {case_id!r}, stage {stage!r}"
        if self._withhold(record.model_dump_json(), what):
            return
        self._write([record])
        self._tally(self.writes, stage, key)

    def _redacted(self, answer: CachedAnswer) -> CachedAnswer:
        """The answer with its texts (which came from a judge) redacted."""
        if not self._redact:
            return answer
        texts = {"reasoning": answer.reasoning, "model": answer.model, "judge": answer.judge}
        changed = {name: self._redact(text) for name, text in texts.items()}
        if changed == texts:
            return answer
        return answer.model_copy(update=changed)

    def import_records(self, records: Iterable[VerdictRecord]) -> int:
        """Write records in one transaction (all or none); allowed in any mode but ``off``."""
        if self.mode == "off":
            raise ValueError(
                "the verdict cache is off, so nothing can be imported; "
                "choose another --llm-funnel-cache mode"
            )
        batch = [r.model_copy(update={"answer": self._redacted(r.answer)}) for r in records]
        self._write(batch)
        return len(batch)

    def _write(self, records: list[VerdictRecord]) -> None:
        texts = []
        for record in records:
            text = record.model_dump_json()
            self.guard_secrets(
                text, f"the verdict for case {record.case_id!r}, stage {record.stage!r}"
            )
            texts.append((record, text))
        cache = self.cache
        with cache.transact():
            for record, text in texts:
                cache.set(f"{_VERDICT}:{record.key}", text, tag=_VERDICT)
                cache.set(_index_key(record.case_id, record.stage), record.key, tag=_INDEX)

    def _answer(self, key: str) -> CachedAnswer | None:
        """Only the answer of the record under ``key`` (a hit reads nothing else)."""
        stored = self._read(key, _StoredAnswer)
        return None if stored is None else stored.answer

    def record(self, key: str) -> VerdictRecord | None:
        """The stored record under ``key``; an unreadable entry counts as absent."""
        return self._read(key, VerdictRecord)

    def _read(self, key: str, model: type[_Stored]) -> _Stored | None:
        text = self.cache.get(f"{_VERDICT}:{key}")
        if not isinstance(text, str):
            return None
        try:
            return model.model_validate_json(text)
        except ValidationError:
            return None

    def records(self) -> Iterator[VerdictRecord]:
        """Every readable stored verdict, in no particular order."""
        prefix = f"{_VERDICT}:"
        for name in list(self.cache.iterkeys()):
            if isinstance(name, str) and name.startswith(prefix):
                record = self.record(name[len(prefix) :])
                if record is not None:
                    yield record

    def last_key(self, case_id: str, stage: str) -> str | None:
        """The key of the verdict most recently cached for this case and stage."""
        value = self.cache.get(_index_key(case_id, stage))
        return value if isinstance(value, str) else None

    def explain(self, case_id: str, stage: str, request: JudgeRequest) -> Explanation:
        """Hit or miss for ``request``, and on a miss what changed since the last verdict."""
        key = request.cache_key()
        if self.record(key) is not None:
            return Explanation(case_id=case_id, stage=stage, key=key, hit=True)
        previous_key = self.last_key(case_id, stage)
        previous = self.record(previous_key) if previous_key is not None else None
        return explain_miss(case_id, stage, request, previous)

    def stats(self) -> CacheStats:
        return CacheStats(
            directory=str(self.directory),
            mode=self.mode,
            verdicts=self._count_keys(f"{_VERDICT}:"),
            outputs=self._count_keys(f"{_OUTPUT}:"),
            size_bytes=int(self.cache.volume()),
        )

    def clear(self) -> None:
        """Forget every verdict (target outputs in the same directory are kept)."""
        self.cache.evict(_VERDICT)
        self.cache.evict(_INDEX)


def _index_key(case_id: str, stage: str) -> str:
    return f"last:{canonical_json([case_id, stage])}"


class OutputStore(DiskStore):
    """Recorded outputs of the system under test (opt-in), beside the verdicts.

    Keyed by the case fingerprint (input, context, expected), the target's name
    and the version string its author declares: bump the version when the
    target changes, and every output is produced afresh. Modes as for
    :class:`VerdictStore`.
    """

    def __enter__(self) -> OutputStore:
        return self

    @staticmethod
    def key(case: Case, target_name: str, version: str) -> str:
        return sha256_json({"case": case.fingerprint(), "target": target_name, "version": version})

    def get(self, case: Case, target_name: str, version: str) -> str | Output | None:
        """The recorded output (with its structure), or None; in ``replay-only`` a miss raises.

        An entry that cannot be read back as an output counts as absent.
        """
        if self.mode == "off":
            return None
        value = self.cache.get(f"{_OUTPUT}:{self.key(case, target_name, version)}")
        if isinstance(value, str):
            try:
                output = json.loads(value)["output"]
            except (ValueError, KeyError, TypeError):
                output = None
            if isinstance(output, str):
                return output
            if isinstance(output, dict):
                with contextlib.suppress(OutputError):
                    return Output.parse(output)
        if self.mode == "replay-only":
            raise CacheMissError(
                f"no recorded output for case {case.id!r} from target {target_name!r} "
                f"version {version!r} (cache mode replay-only). To record it, run once "
                "with --llm-funnel-cache=read-write."
            )
        return None

    def put(self, case: Case, target_name: str, version: str, output: str | Output) -> None:
        """Record one output, its whole structure; a no-op unless the mode is ``read-write``."""
        if self.mode != "read-write":
            return
        whole = Output.of(output)
        text = canonical_json(
            {
                "case_id": case.id,
                "target": target_name,
                "version": version,
                # A plain output is stored as its string, as it always was.
                "output": whole.text
                if whole.is_plain
                else whole.model_dump(mode="json", exclude_defaults=True),
                "created": _now(),
            }
        )
        if self._withhold(text, f"the output of target {target_name!r} for case {case.id!r}"):
            return
        self.cache.set(f"{_OUTPUT}:{self.key(case, target_name, version)}", text, tag=_OUTPUT)

    def clear(self) -> None:
        """Forget every recorded output (verdicts are kept)."""
        self.cache.evict(_OUTPUT)
