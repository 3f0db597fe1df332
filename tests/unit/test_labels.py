"""The label a report gives an eval test: its funnel's name, told apart when shared."""

from __future__ import annotations

from pytest_llmfunnel.report.labels import dataset_label, funnel_names, short_dataset


def test_funnels_sharing_a_name_are_told_apart_by_their_test() -> None:
    class R:
        def __init__(self, dataset: str, funnel: str) -> None:
            self.dataset, self.funnel = dataset, funnel

    names = funnel_names([R("t.py::test_a", "support"), R("t.py::test_b", "support"),
                          R("t.py::test_c", "billing"), R("t.py::test_d", "")])
    assert names == {"t.py::test_a": "support (a)", "t.py::test_b": "support (b)",
                     "t.py::test_c": "billing"}
    assert dataset_label("t.py::test_d", names) == "d"
    assert dataset_label("t.py::test_c", names) == "billing"


def test_without_a_name_the_test_names_it() -> None:
    assert funnel_names([]) == {}
    assert dataset_label("tests/test_support.py::test_support_answer") == "support_answer"
    assert short_dataset("tests/test_support.py::test_support_answer") == "support_answer"
