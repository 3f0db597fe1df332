"""Baseline files: the accepted run of one eval test, stored in the repo as JSONL.

One file per eval test (one dataset use). The first line is a header, then one
line per (case, variant), sorted, with sorted keys::

    {"dataset": "tests/test_support.py::test_answers", "format": "pytest-llmfunnel baseline",
     "judges": {"faithfulness": "<judge identity>"}, "metrics": {...}, "path": "...",
     "stages": {"faithfulness": {"gating": false, "kind": "judge", "scale": [1.0, 5.0]}},
     "version": 1}
    {"case": "refund-window", "dropped_at": null, "error": null, "fingerprint": "...",
     "output": "...", "promoted": true, "stages": {"faithfulness": {"score": 4.5,
     "status": "passed"}}, "variant": "default"}

What is kept out, on purpose:

* **Reasons.** A judge's wording changes from run to run even when its score
  does not, so stored reasons would make every baseline diff noisy. The gate
  needs status and score only; the reasons shown with a flip come from the
  current run's records.
* **Timestamps, costs, cache counters.** Writing the same run twice gives the
  same bytes, so an unchanged baseline never shows up in a diff.

Writing is atomic (a temporary file in the same folder, fsync, ``os.replace``):
an interrupted update leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

# pydantic reads typing.TypedDict only from Python 3.12; typing_extensions is its own dependency.
from typing_extensions import NotRequired, TypedDict

from pytest_llmfunnel.atomic import atomic_write
from pytest_llmfunnel.output import Output
from pytest_llmfunnel.store.versioned_file import FileFormat, VersionedFileError, read_versioned

FORMAT: Final = "pytest-llmfunnel baseline"
VERSION = 1
UPDATE_HINT = "regenerate it with --llm-funnel-update-baseline"
# Where an eval test's baseline lives when nothing else is configured: a
# folder beside its test file, as snapshot tools keep theirs.
DEFAULT_DIR = "__llmfunnel_baselines__"
DEFAULT_VARIANT = "default"


class BaselineError(VersionedFileError):
    """A baseline file that cannot be used; the message names file:line and the fix."""


BASELINE_FORMAT = FileFormat(
    noun="baseline file", short="baseline", marker_key="format", marker=FORMAT,
    version_key="version", version=VERSION, error=BaselineError,
    create="create it with --llm-funnel-update-baseline", fix=UPDATE_HINT, upgrade=UPDATE_HINT,
)


# defer_build: a run without a baseline file never validates one, so their
# schemas are built on first use, not at start-up.
_CONFIG = ConfigDict(frozen=True, extra="forbid", defer_build=True)

class BaselineStage(BaseModel):
    """What the gate needs to know about one stage: its kind, whether it gates, its scale."""

    model_config = _CONFIG

    kind: Literal["check", "scorer", "judge"]
    gating: bool
    scale: tuple[float, float] | None = None


class BaselineOutcome(BaseModel):
    """One stage's result on one baseline case (no reason: see the module docstring)."""

    model_config = _CONFIG

    status: Literal["passed", "failed", "measured", "error"]
    score: float | None = None
    # With target repeats, a judge's every sample in repeat order (judge
    # repeats grouped per target repeat): what lets an unchanged case reuse it.
    samples: tuple[float, ...] | None = None


class BaselineStageTally(TypedDict):
    """A header's count of each status of one stage, and its mean score if it scores."""

    passed: int
    failed: int
    measured: int
    error: int
    mean_score: NotRequired[float]


class BaselineMetrics(TypedDict, total=False):
    """A header's descriptive counts (the gate recomputes what it needs from the cases)."""

    cases: int
    promoted: int
    promotion_rate: float | None
    stages: dict[str, BaselineStageTally]


class BaselineHeader(BaseModel):
    """The first line of a baseline file."""

    model_config = _CONFIG

    format: Literal["pytest-llmfunnel baseline"] = FORMAT
    version: int = VERSION
    dataset: str
    path: str = ""
    judges: dict[str, str] = Field(default_factory=dict)
    stages: dict[str, BaselineStage] = Field(default_factory=dict)
    metrics: BaselineMetrics = Field(default_factory=lambda: BaselineMetrics())


class BaselineCase(BaseModel):
    """One (case, variant) line of a baseline file."""

    model_config = _CONFIG

    case: str
    variant: str = DEFAULT_VARIANT
    fingerprint: str = ""
    output: str | None = None
    promoted: bool
    dropped_at: str | None = None
    error: str | None = None
    stages: dict[str, BaselineOutcome] = Field(default_factory=dict)
    # The whole output when it carried more than text; absent from the line otherwise.
    structured: Output | None = None
    # With target repeats: Output.digest() of each repeat's output, in repeat order.
    repeat_outputs: tuple[str, ...] = ()

    @field_serializer("structured")
    def _compact(self, value: Output | None) -> object:
        return None if value is None else value.model_dump(mode="json", exclude_defaults=True)

    @property
    def key(self) -> tuple[str, str]:
        return (self.case, self.variant)

    def same_output(self, text: str | None, structured: Output | None) -> bool:
        """Whether an output (its text and structure, by digest) is the one stored here."""
        if self.output is None or text is None or self.output != text:
            return False
        if self.structured is None and structured is None:
            return True
        stored = self.structured or Output(text=self.output)
        return stored.digest() == (structured or Output(text=text)).digest()

    def same_outputs(
        self, text: str | None, structured: Output | None, repeat_outputs: tuple[str, ...]
    ) -> bool:
        """:meth:`same_output`, and with target repeats the same output of every repeat.

        A line written before repeats were recorded (no ``repeat_outputs``) is
        compared by its one stored output, as it always was.
        """
        if self.repeat_outputs:
            return sorted(self.repeat_outputs) == sorted(repeat_outputs)
        return self.same_output(text, structured)


class Baseline(BaseModel):
    """A whole baseline: header plus case lines, kept sorted by (case, variant)."""

    model_config = _CONFIG

    header: BaselineHeader
    cases: tuple[BaselineCase, ...] = ()

    def index(self) -> dict[tuple[str, str], BaselineCase]:
        """Case lines by (case id, variant)."""
        return {c.key: c for c in self.cases}


def _dumps(value: Any) -> str:
    # Sorted keys, one space after separators: compact, yet diffs stay readable.
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(", ", ": ")
    )


def dumps_baseline(baseline: Baseline) -> str:
    """The exact text of a baseline file (header line, then sorted case lines)."""
    lines = [_dumps(baseline.header.model_dump(mode="json"))]
    for case in sorted(baseline.cases, key=lambda c: c.key):
        lines.append(_dumps(case.model_dump(mode="json", exclude=_absent(case))))
    return "\n".join(lines) + "\n"


def _absent(case: BaselineCase) -> dict[str, bool | dict[str, set[str]]]:
    """The fields a line leaves out when unset, so a line keeps the form it always had."""
    absent: dict[str, bool | dict[str, set[str]]] = {}
    if case.structured is None:
        absent["structured"] = True
    if not case.repeat_outputs:
        absent["repeat_outputs"] = True
    unsampled = {name: {"samples"} for name, o in case.stages.items() if o.samples is None}
    if unsampled:
        absent["stages"] = unsampled
    return absent


def write_baseline(path: Path, baseline: Baseline) -> bool:
    """Write ``baseline`` to ``path`` atomically; return False when the file already matched.

    A temporary file in the same folder is written, fsynced and renamed over
    the target, so a crash or error never leaves a half-written baseline.
    """
    text = dumps_baseline(baseline).encode("utf-8")
    path = Path(path)
    with contextlib.suppress(OSError):
        if path.read_bytes() == text:
            return False
    atomic_write(path, text)
    return True


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "line"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file; raise BaselineError naming file:line."""
    read = read_versioned(path, BASELINE_FORMAT)
    try:
        header = BaselineHeader.model_validate(read.header)
    except ValidationError as exc:
        raise read.error(read.header_line, f"invalid header: {_problem(exc)}") from None
    cases: list[BaselineCase] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, raw in read.rows:
        try:
            case = BaselineCase.model_validate(raw)
        except ValidationError as exc:
            raise read.error(lineno, f"invalid case line: {_problem(exc)}") from None
        if case.key in seen:
            raise read.error(
                lineno, f"duplicate line for case {case.case!r} variant {case.variant!r} "
                f"(first at line {seen[case.key]})"
            )
        unknown = sorted(set(case.stages) - set(header.stages))
        if unknown:
            raise read.error(lineno, f"stage {unknown[0]!r} is not declared in the header")
        seen[case.key] = lineno
        cases.append(case)
    return Baseline(header=header, cases=tuple(sorted(cases, key=lambda c: c.key)))


def load_baseline_if_exists(path: Path) -> Baseline | None:
    """Like :func:`load_baseline`, but None when the file does not exist."""
    return load_baseline(path) if Path(path).exists() else None


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_LIMIT = 150


def baseline_path(settings_dir: Path, eval_key: str) -> Path:
    """The baseline file of one eval test: a stable, readable name from its test key.

    ``tests/test_support.py::test_answers`` → ``<dir>/test_support__test_answers.jsonl``.
    The first folder of the test file's path (the test root) is left out, deeper
    folders are kept (``tests/unit/test_x.py::f`` → ``unit__test_x__f``) so
    same-named test files in different folders do not collide.
    """
    file, _, rest = eval_key.partition("::")
    parts = [p for p in file.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1].endswith(".py"):
        parts[-1] = parts[-1][:-3]
    parts += [p for p in rest.split("::") if p]
    name = "__".join(_UNSAFE.sub("_", p).strip("_") or "_" for p in parts) or "baseline"
    if len(name) > _NAME_LIMIT:  # keep names portable; the hash keeps them distinct
        digest = hashlib.sha256(eval_key.encode("utf-8")).hexdigest()[:12]
        name = f"{name[:_NAME_LIMIT]}-{digest}"
    return Path(settings_dir) / f"{name}.jsonl"
