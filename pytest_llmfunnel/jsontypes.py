"""The one name for data that is JSON by nature, whatever its keys.

Most of the package's data has a type of its own (a record, a wire form, a
file entry). What stays free-form is what another party defines: the body of
a chat-completions request and the endpoint's answer, a JSON Schema
document, a judge's answer before it is validated, the test server's
replies. Those are :data:`JSONObject`; ``tests/unit/test_untyped_json.py``
keeps count of them per module.
"""

from __future__ import annotations

from typing import Any, TypeAlias

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object whose keys another party defines (a request body, a schema)."""
