"""The flip: one case whose outcome on a metric changed against the baseline.

The gate finds flips (:mod:`pytest_llmfunnel.gate.compare`), every report
lists them and the results file keeps them; all use this one type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# A flip's value on one side: a score as the gate reads it (None: the stage did
# not run there); a results file may also hold a pass/fail or a status word.
FlipValue = bool | float | str | None


@dataclass(frozen=True, slots=True)
class Flip:
    """One case whose outcome on a metric changed against the baseline.

    The one flip type of the gate, the reports and the results file.
    ``before``/``after`` are the stage's values on each side, ``reason`` the
    current run's reason for the stage. ``direction`` and ``severity`` (the
    drop as a share of the scale, which orders the gate's list) are the live
    gate's; a flip read back from a results file has neither (``None``).
    """

    dataset: str
    case: str
    variant: str
    metric: str
    stage: str
    before: FlipValue
    after: FlipValue
    reason: str | None
    output_excerpt: str | None
    direction: Literal["worse", "better"] | None = None
    severity: float | None = None
