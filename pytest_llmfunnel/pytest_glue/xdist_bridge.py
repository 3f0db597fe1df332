"""The xdist bridge: what travels between workers and the controller, and group ids.

A worker learns from its ``workerinput`` who it is and how the controller
hands out items; it batches whole chunks (``xdist_group`` s) and, at its end,
sends its process-level counters (:class:`Tallies`) and its eval tests through
``workeroutput``. Per-case records travel on the call reports themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_llmfunnel.tallies import Tallies

if TYPE_CHECKING:
    from pytest_llmfunnel.pytest_glue.specs import EvalTestInfo

WORKEROUTPUT_KEY = "llm_funnel"
SPECS_KEY = "llm_funnel_specs"  # each worker's eval tests (dataset, baseline file, case ids)
DIST_KEY = "llm_funnel_dist"  # set by the controller in each worker's workerinput
# Distribution modes that keep an xdist group (a chunk) on one worker.
WHOLE_CHUNK_DIST = ("loadgroup", "loadscope", "loadfile")
GROUP_PREFIX = "llm-"  # every xdist group this plugin makes starts so


class XdistBridge:
    """This process's place in an xdist run (or none), and the hand-over at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # xdist gives each worker's config a ``workerinput``; the environment
        # variables it also sets would leak into pytest runs nested in a worker.
        workerinput = getattr(config, "workerinput", None)
        self.worker_id: str | None = workerinput["workerid"] if workerinput else None
        self.worker_count = int(workerinput["workercount"]) if workerinput else 1
        # How the controller hands out items ("loadgroup", "loadscope", ...).
        self.controller_dist: str | None = workerinput.get(DIST_KEY) if workerinput else None
        self.workers_lost = 0  # on the controller: workers that went down without handing over

    @property
    def distributed(self) -> bool:
        """True in an xdist worker (which reports to a controller)."""
        return self.worker_id is not None

    @property
    def chunks_stay_whole(self) -> bool:
        """Whether this process runs every item of a chunk it starts (else: item by item)."""
        return not self.distributed or self.controller_dist in WHOLE_CHUNK_DIST

    def chunk_size(self, n_cases: int) -> int:
        """Cases per xdist group: several chunks per worker so the load stays balanced."""
        workers = max(1, self.worker_count)
        return max(8, min(1000, math.ceil(n_cases / (workers * 2))))

    def send(self, tallies: Tallies, spec_meta: Mapping[str, EvalTestInfo]) -> None:
        """On a worker: hand the counters and the eval tests to the controller."""
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKEROUTPUT_KEY] = tallies.to_json()
            workeroutput[SPECS_KEY] = {key: m.to_json() for key, m in spec_meta.items()}

    def receive(
        self, node: Any, error: object, tallies: Tallies, spec_meta: dict[str, EvalTestInfo]
    ) -> None:
        """On the controller: add a finished worker's counters (a crashed one sends none)."""
        if error is not None:
            self.workers_lost += 1
        output = getattr(node, "workeroutput", {})
        data = output.get(WORKEROUTPUT_KEY)
        if data:
            tallies.merge(data)
        # Lazy: the bridge is imported at start-up, the eval tests' module when a worker ends.
        from pytest_llmfunnel.pytest_glue.specs import EvalTestInfo

        for key, meta in (output.get(SPECS_KEY) or {}).items():
            spec_meta.setdefault(key, EvalTestInfo.from_json(meta))


def group_name(key: str, chunk: int) -> str:
    """The xdist group of chunk ``chunk`` of eval test ``key``."""
    # Shown after "@" in node ids under xdist; the test's name keeps it readable.
    name = key.rpartition("::")[2]
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return f"{GROUP_PREFIX}{safe}-{chunk}"


def xdist_group_ids(items: list[pytest.Item], config: pytest.Config) -> list[pytest.Item]:
    """On an xdist worker under loadgroup: give grouped items ``<node id>@<group>`` ids.

    xdist's group scheduler reads an item's group only from that suffix of the
    ids a worker sends when its collection finishes. Node ids themselves must
    stay as they are without xdist (``--lf``, JUnit names and CI test history
    use them), so :func:`clean_xdist_ids` takes the suffix off again at once.
    Returns the items that got one.
    """
    if not getattr(config, "workerinput", None) or not config.getvalue("loadgroup"):
        return []
    grouped = []
    for item in items:
        suffix = _group_suffix(item)
        if suffix:
            _set_nodeid(item, _without(item.nodeid, suffix) + suffix)
            grouped.append(item)
    return grouped


def clean_xdist_ids(items: list[pytest.Item]) -> None:
    """Take the ``@<group>`` suffix off grouped items' node ids (xdist < 3.9 adds it too)."""
    for item in items:
        suffix = _group_suffix(item)
        if suffix and item.nodeid.endswith(suffix):
            _set_nodeid(item, _without(item.nodeid, suffix))


def clean_crash_id(nodeid: str) -> str:
    """A node id the xdist controller knows from a worker's collection, without the
    ``@llm-…`` group this plugin gave it; any other node id is left as it is."""
    at = nodeid.rfind("@")
    if at > nodeid.rfind("]") and nodeid.startswith(GROUP_PREFIX, at + 1):
        return nodeid[:at]
    return nodeid


def _group_suffix(item: pytest.Item) -> str:
    # The suffix exactly as pytest-xdist builds it from every xdist_group mark.
    names = {
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    }
    return f"@{'_'.join(sorted(names))}" if names else ""


def _without(nodeid: str, suffix: str) -> str:
    return nodeid[: -len(suffix)] if nodeid.endswith(suffix) else nodeid


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    structured = getattr(item, "_id", None)
    if structured is not None and hasattr(type(structured), "parse"):
        setattr(item, "_id", type(structured).parse(nodeid))  # noqa: B010 (pytest >= 9.2)
    else:
        setattr(item, "_nodeid", nodeid)  # noqa: B010 (older pytest)
