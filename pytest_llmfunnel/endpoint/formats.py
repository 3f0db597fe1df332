"""Which ``response_format`` a judge request goes out with, and when to step down.

Endpoints differ in the structured output they accept. OpenAI, vLLM, LiteLLM
and llama.cpp's own server enforce ``json_schema``; some older or smaller
servers accept only ``json_object``; some (``llama-cpp-python``'s server
among them) answer a ``json_schema`` request with HTTP 500. The setting
``--llm-funnel-response-format`` says what to send:

* ``json_schema``, ``json_object``: always that format; a rejection is an error
  whose message names the setting to change;
* ``prompt``: no ``response_format`` at all; the judge prompt already asks
  for exactly one JSON object;
* ``auto`` (the default): ``json_schema`` first; an answer that says the
  format is unsupported steps down to ``json_object``, then to ``prompt``, and
  the step holds for the rest of the run (one note says so, once).

An answer says the format is unsupported when it is a 400, 422 or 500 whose
message names the format (``response_format``, ``json_schema``, a grammar or
structured-output error), or a bare 500 to a formatted request before this
endpoint ever accepted that format: a server that cannot build a grammar from
a schema tends to fail with an unhelpful 500, and one probe with a simpler
format costs one request. Whatever format is sent, the answer is validated
by the same pydantic model, so a format only changes how much the server
helps, never what counts as a valid verdict.

Cache keys are computed from the body the judge rendered, before this
rewrite, and under ``auto`` judges always render ``json_schema`` (see
:attr:`FormatChoice.json_schema`): on one endpoint the rewrite is a fixed
function of that body, so one key still means one answer's request, and a
re-run, which probes the format afresh, finds every verdict in the cache.
"""

from __future__ import annotations

import re
import threading
from typing import Literal

from pytest_llmfunnel.jsontypes import JSONObject

ResponseFormat = Literal["auto", "json_schema", "json_object", "prompt"]
RESPONSE_FORMATS: tuple[ResponseFormat, ...] = ("auto", "json_schema", "json_object", "prompt")
Sent = Literal["json_schema", "json_object", "prompt"]
_STEPS: tuple[Sent, ...] = ("json_schema", "json_object", "prompt")

# Messages that say a structured-output request, as such, cannot be served.
_FORMAT_MESSAGE = re.compile(
    r"response[_ ]?format|json[_ ]?schema|json[_ ]object|grammar|structured[_ ]output"
    r"|guided[_ ]decoding",
    re.IGNORECASE,
)


def names_the_format(code: int, message: str) -> bool:
    """Whether an error status with ``message`` says the response format is unsupported."""
    return code in (400, 422, 500) and bool(_FORMAT_MESSAGE.search(message))


def sent_format(body: JSONObject) -> Sent:
    """The format a body asks for: a ``response_format`` type, or ``prompt`` without one."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        kind: Sent = fmt["type"]
        return kind
    return "prompt"


class FormatChoice:
    """The response format of one backend: the setting, the format in use, the note.

    Args:
        setting: one of :data:`RESPONSE_FORMATS`.

    Thread-safe: requests on several event loops may step it down at once;
    a rejection of a format already stepped past only asks for a resend.
    """

    def __init__(self, setting: ResponseFormat = "auto") -> None:
        if setting not in RESPONSE_FORMATS:
            raise ValueError(f"response format {setting!r} is not one of {RESPONSE_FORMATS}")
        self.setting = setting
        self.current: Sent = "json_schema" if setting == "auto" else setting
        self.note: str | None = None
        self._accepted: set[Sent] = set()
        self._lock = threading.Lock()

    @property
    def json_schema(self) -> bool:
        """Whether judges should render ``json_schema`` bodies (else JSON mode).

        True under ``auto`` even after a step down: the judge keeps rendering
        (and keying) the same body, and :meth:`adapt` rewrites it on the way
        out, so a re-run finds every verdict of the first run in the cache.
        """
        return self.setting in ("auto", "json_schema")

    def adapt(self, body: JSONObject) -> JSONObject:
        """``body`` with its ``response_format`` rewritten to the format in use (a new dict)."""
        if "response_format" not in body:
            return body  # a body without one (a free-text request) is sent as it is
        wanted = sent_format(body)
        if _STEPS.index(wanted) >= _STEPS.index(self.current):
            return body
        if self.current == "prompt":
            return {k: v for k, v in body.items() if k != "response_format"}
        return {**body, "response_format": {"type": "json_object"}}

    def accepted(self, body: JSONObject) -> None:
        """The endpoint answered ``body`` (as sent): its format works here."""
        if "response_format" in body:
            self._accepted.add(sent_format(body))

    def rejected(self, body: JSONObject, code: int, message: str) -> bool:
        """Whether to send ``body`` again in a simpler format after this error.

        ``body`` is the body as sent. Steps the format in use down when the
        error says ``auto``'s current format is unsupported (see the module docs).
        """
        if self.setting != "auto" or "response_format" not in body:
            return False
        sent = sent_format(body)
        with self._lock:
            if sent != self.current:  # another request stepped down meanwhile
                return _STEPS.index(sent) < _STEPS.index(self.current)
            if sent == "prompt":
                return False
            if not (names_the_format(code, message)
                    or (code == 500 and sent not in self._accepted)):
                return False
            following = _STEPS[_STEPS.index(sent) + 1]
            self.current = following
            self.note = (
                f"the endpoint refused response_format {sent} (HTTP {code}: "
                f"{message[:160]}); the judge sends {_describe(following)} for the rest of "
                f"the run. Set --llm-funnel-response-format={following} to skip the probe."
            )
            return True

    def fix(self, body: JSONObject, code: int, message: str) -> str | None:
        """The setting to change when a fixed format (not ``auto``) was refused."""
        if self.setting == "auto" or not names_the_format(code, message):
            return None
        return (
            f"the endpoint refused response_format {sent_format(body)}: set "
            "--llm-funnel-response-format=auto (or json_object, or prompt)"
        )


def _describe(kind: Sent) -> str:
    if kind == "prompt":
        return "no response_format (the prompt asks for the JSON)"
    return f"response_format {kind}"
