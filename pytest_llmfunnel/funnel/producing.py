"""Where a case's output comes from: pre-logged, recorded, or the target called now.

A funnel without a target evaluates the dataset's pre-logged output of each
variant. With a target and a ``target_version``, the output recorded for
(case, target, version) is used when there is one, and a fresh output is
recorded; each target repeat is recorded under its own version
(``v1#repeat2``), so repeats stay distinct. A live variant's outputs are
always recorded, under a version that adds its name and settings (see
:mod:`.live_variants`). A dry run calls no target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pytest_llmfunnel.funnel.conversation import converse
from pytest_llmfunnel.funnel.live_variants import Variant, recorded_version
from pytest_llmfunnel.funnel.target import TargetCaller
from pytest_llmfunnel.models import Case
from pytest_llmfunnel.output import Output


class OutputRecorder(Protocol):
    """Where target outputs are recorded (the store's ``OutputStore``)."""

    def get(self, case: Case, target_name: str, version: str) -> str | Output | None: ...

    def put(
        self, case: Case, target_name: str, version: str, output: str | Output
    ) -> None: ...


class TargetNotCalled(Exception):
    """A dry run needed a target's output but calls no target."""


async def produce_output(
    case: Case, variant: str, repeat: int, *, target_version: str | None, target_name: str,
    outputs: OutputRecorder | None, call_targets: bool,
    caller: Callable[[], TargetCaller] | None, live: Variant | None = None,
) -> str | Output:
    """The output of one variant (and target repeat) of ``case``; see the module.

    ``caller`` gives the funnel's target caller (``None``: no target); ``live``
    the live variant the target is called with (``None``: the case alone). Raises
    :class:`TargetNotCalled` in a dry run, ``TargetError`` when the target fails.
    """
    if caller is None:
        output = case.outputs.get(variant)
        if output is None:
            raise ValueError(
                f"case {case.id!r} has no output for variant {variant!r}; "
                "add an 'output' column or give the funnel a target"
            )
        return output
    version = target_version if live is None else recorded_version(target_version, live)
    if version is not None and repeat:
        version = f"{version}#repeat{repeat}"
    if version is not None and outputs is not None:
        recorded = outputs.get(case, target_name, version)
        if recorded is not None:
            return recorded
    if not call_targets:
        raise TargetNotCalled("dry run: the target was not called and no output is recorded")
    # A conversation is played turn by turn, each turn one call with the history.
    value = await (converse(caller(), case, live) if case.turns else caller().call(case, live))
    if version is not None and outputs is not None:
        outputs.put(case, target_name, version, value)
    return value
