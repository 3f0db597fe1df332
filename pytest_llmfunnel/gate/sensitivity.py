"""Errors and unpaired cases cannot hide a drop: the gate's worst-case second decision.

The regression gate decides every metric on the pairs it can compare, then
once more with each errored pair and each unpaired baseline case filled in as
a current fail (see :mod:`pytest_llmfunnel.gate.compare`). This module merges
the two decisions of one metric into the one that is reported.
"""

from __future__ import annotations

from dataclasses import replace

from pytest_llmfunnel.gate.decision import GateDecision
from pytest_llmfunnel.wording import plural


def combine(
    decision: GateDecision, worst: GateDecision, errors: int, unpaired: int
) -> GateDecision:
    """The reported decision, given the one on the pairs and the worst-case one.

    Args:
        decision: decided on the paired cases without errors.
        worst: decided with the ``errors`` errored pairs and the ``unpaired``
            baseline cases (changed or not run) counted as current fails.
    """
    left_out = []
    if errors:
        left_out.append(f"{plural(errors, 'pair')} with stage errors")
    if unpaired:
        left_out.append(f"{unpaired} unpaired baseline {'case' if unpaired == 1 else 'cases'} "
                        "(changed or not run)")
    if not left_out:
        return decision
    what = " and ".join(left_out)
    regressed = decision.decision == "regressed"
    if (worst.decision == "regressed") == regressed or decision.decision == "not comparable":
        return replace(decision, reason=f"{decision.reason}; {what} left out (counted as "
                       f"fails, the decision is the same)")
    if worst.decision == "regressed":
        why = (
            f"{what} could hide a drop: counted as fails, the metric regresses "
            f"(bound {worst.bound:+.3g}); fix the errors or pair the cases, or update the "
            "baseline if the change is intended"
        )
    else:
        why = (f"the decision rests on {what}: counted as fails, the metric "
               f"is {worst.decision}")
    return replace(decision, decision="not comparable", reason=f"{decision.reason}; {why}")


UNPAIRED_WARNING = 0.1  # share of a dataset's cases left unpaired that earns a warning


def unpaired_share(paired: int, unpaired_baseline: int, new: int) -> float:
    """The share of a dataset's cases (baseline and current together) left unpaired."""
    total = paired + unpaired_baseline + new
    return (unpaired_baseline + new) / total if total else 0.0


def unpaired_warning(
    dataset: str, paired: int, unpaired_baseline: int, new: int, update_flag: str
) -> str | None:
    """A warning naming how many cases are unpaired, when above ``UNPAIRED_WARNING``."""
    share = unpaired_share(paired, unpaired_baseline, new)
    if share <= UNPAIRED_WARNING:
        return None
    count, total = unpaired_baseline + new, paired + unpaired_baseline + new
    return (
        f"{dataset}: {count} of {plural(total, 'case')} ({share:.0%}) are unpaired (changed, "
        "new or not run); the gate compares only the paired ones, and counts the changed and "
        f"not-run ones as fails in its worst case. If the dataset changed on purpose, "
        f"update the baseline ({update_flag})"
    )
