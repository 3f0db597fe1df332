"""Untyped JSON only where the data is JSON by nature, and never more of it.

Each module may name ``dict[str, Any]`` or ``JSONObject`` (see
:mod:`pytest_llmfunnel.jsontypes`) at most as many times as listed here, for
the reason given. A module over its number fails; a module under it fails
too, so the number is lowered as types replace what is left (the list only
shrinks). Import lines do not count; ``jsontypes`` itself is the definition.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "pytest_llmfunnel"
UNTYPED = re.compile(r"dict\[str, Any\]|\bJSONObject\b")

# module: (occurrences, why the data has no type of its own)
ALLOWED: dict[str, tuple[int, str]] = {
    "config": (2, "raw setting values from CLI, env and ini before pydantic validates them"),
    "dataset.json_rows": (1, "a dataset row as parsed JSON, before the Case model validates it"),
    "dataset.load": (2, "a row's fields and its extra columns before the Case model validates"),
    "dataset.row_fields": (1, "a row's extra columns, merged into its metadata"),
    "models": (1, "Case.metadata: the user's free-form metadata column"),
    "output": (2, "a tool call's arguments and an output's metadata: the application's own JSON"),
    "funnel.backend": (1, "the chat-completions request body, the cache key's input"),
    "funnel.judge_answers": (11, "JSON Schema documents and a judge's answer before validation"),
    "funnel.stages.judge_base": (2, "the request body and its response format"),
    "funnel.stages.judge_kinds": (1, "built-in judge kwargs"),
    "endpoint.client": (3, "the chat-completions request body the openai client sends"),
    "endpoint.formats": (6, "the request body whose response_format is adapted"),
    "store.lockfile": (3, "the request body kept beside each exported verdict; a line as written"),
    "store.verdict_record": (1, "the request body kept beside each cached verdict"),
    "store.versioned_file": (1, "a file's first line as JSON, before its format's model reads it"),
    "report.results_schema_doc": (1, "the JSON Schema document rendered to docs/json-schema.md"),
    "pytest_glue.start": (1, "keyword arguments for pytest's parser.addoption"),
    "review.label_files": (5, "label file rows (CSV/JSONL) before they are read into labels"),
    "testing.actions": (8, "request bodies the test server answers and the replies it builds"),
    "testing.server": (7, "request bodies, replies and counters of the test server"),
}


def untyped_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module == "jsontypes":
            continue
        n = sum(
            len(UNTYPED.findall(line))
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith(("import ", "from "))
        )
        if n:
            counts[module] = n
    return counts


def test_no_module_has_more_untyped_json_than_allowed() -> None:
    over = {m: (n, ALLOWED.get(m, (0, ""))[0]) for m, n in untyped_counts().items()
            if n > ALLOWED.get(m, (0, ""))[0]}
    assert not over, (
        f"module: (found, allowed) {over}: give the data a type (a frozen dataclass, a "
        "TypedDict, a pydantic model for a file); only JSON by nature stays untyped"
    )


def test_the_allowance_is_lowered_when_types_replace_untyped_json() -> None:
    counts = untyped_counts()
    stale = {m: (counts.get(m, 0), n) for m, (n, _) in ALLOWED.items() if counts.get(m, 0) < n}
    assert not stale, f"module: (found, allowed) {stale}: lower the number in ALLOWED"


def test_the_whole_package_stays_small() -> None:
    assert sum(untyped_counts().values()) <= sum(n for n, _ in ALLOWED.values()) == 60


def test_the_counter_sees_every_spelling_it_counts() -> None:
    text = "x: dict[str, Any] = {}\ndef f(a: JSONObject) -> JSONObject: ...\n"
    assert sum(len(UNTYPED.findall(line)) for line in text.splitlines()) == 3
    assert not UNTYPED.findall("from pytest_llmfunnel.jsontypes import NotJSONObjectish")
