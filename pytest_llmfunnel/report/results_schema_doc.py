"""``docs/json-schema.md``, generated from the results models of :mod:`.jsonschema`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_llmfunnel.jsontypes import JSONObject
from pytest_llmfunnel.report.results_json import SCHEMA_VERSION, ResultsDocument


def schema_markdown() -> str:
    """The page's text: prose per model and field, then the JSON Schema."""
    schema = ResultsDocument.model_json_schema()
    defs: JSONObject = schema.get("$defs", {})
    out = [
        "# JSON results schema",
        "",
        "<!-- Generated from pytest_llmfunnel/report/results_json.py by "
        "results_schema_doc.schema_markdown(); do not edit by hand. -->",
        "",
        "`pytest --llm-funnel --llm-funnel-json=results.json` writes one document per session. "
        f"This page describes `schema_version` {SCHEMA_VERSION}. The version is bumped when a "
        "field changes meaning or disappears; new optional fields keep it. Keys are sorted and "
        "`created_at` is left out unless set, so two runs' files compare with a plain diff. "
        "Numbers that cannot be computed (a metric that is not comparable) are `null`. "
        "No API key or endpoint is ever written.",
        "",
        "Read a file back with `pytest_llmfunnel.report.results_json.load_results(path)`, or "
        "render it with `llmfunnel report results.json`.",
    ]
    for name, model in [("ResultsDocument", schema), *sorted(defs.items())]:
        out += ["", f"## {name}", "", model.get("description", "").strip(), "",
                "| field | type | required | description |", "| --- | --- | --- | --- |"]
        required = set(model.get("required", []))
        for field, spec in model.get("properties", {}).items():
            out.append(
                f"| `{field}` | {_type_of(spec)} | {'yes' if field in required else 'no'} | "
                f"{spec.get('description', '')} |"
            )
    out += ["", "## JSON Schema", "", "```json",
            json.dumps(schema, indent=2, sort_keys=True), "```", ""]
    return "\n".join(out)


def _type_of(spec: Mapping[str, Any]) -> str:
    if "$ref" in spec:
        return str(spec["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " or ".join(_type_of(s) for s in spec["anyOf"])
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " / ".join(f"`{v}`" for v in spec["enum"])
    if spec.get("type") == "array":
        return f"list of {_type_of(spec.get('items', {}))}"
    return str(spec.get("type", "any"))
