"""The typed wire forms cross the xdist wire and come back as they left.

``config.workeroutput`` carries plain JSON-able data; each typed form here
is written with ``to_json``, passed through ``json`` (as strict as the wire)
and read back.
"""

from __future__ import annotations

import json

from pytest_llmfunnel.pytest_glue.specs import EvalTestInfo, EvalTestInfoJSON
from pytest_llmfunnel.tallies import Tallies, TalliesJSON


def through_json(data: object) -> object:
    return json.loads(json.dumps(data))


def test_an_eval_tests_facts_come_back_equal() -> None:
    info = EvalTestInfo(path="data/qa.jsonl", baseline="b/qa.jsonl", baseline_from="marker",
                    ids=("c1", "c2"), columns={"output": "answer"}, units=4, selected=3)
    wire: EvalTestInfoJSON = info.to_json()
    back = EvalTestInfo.from_json(through_json(wire))  # type: ignore[arg-type]
    assert back == info and back.ids == ("c1", "c2")


def test_an_uncounted_selection_stays_unknown() -> None:
    info = EvalTestInfo(path="d.csv", baseline=None, baseline_from="off", ids=(), columns=None)
    assert EvalTestInfo.from_json(info.to_json()).selected is None


def test_tallies_merged_from_the_wire_add_up() -> None:
    worker = Tallies()
    worker.cache = {"t::qa": {"judge": {"hits": 2, "misses": 1}}}
    worker.endpoint_errors = {"bad_request": {"message": "HTTP 400: no", "count": 2}}
    worker.verdict_keys = {"k2", "k1"}
    wire: TalliesJSON = worker.to_json()
    controller = Tallies()
    for _ in range(2):
        controller.merge(through_json(wire))  # type: ignore[arg-type]
    assert controller.cache == {"t::qa": {"judge": {"hits": 4, "misses": 2}}}
    assert controller.endpoint_errors == {"bad_request": {"message": "HTTP 400: no", "count": 4}}
    assert controller.verdict_keys == {"k1", "k2"}
