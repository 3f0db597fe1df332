"""What ``llmfunnel review import`` prints: the labels matched, then the judge's calibration.

The labels are read and matched in :mod:`pytest_llmfunnel.review`; this module
only puts the pieces in their order: a warning for each judge people disagree
with first, then how many labels still fit today's outputs, then the agreement
and pass-rate tables of :mod:`.calibration`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.report.calibration import calibration_lines, distrust_lines
from pytest_llmfunnel.review.calibrated_rate import calibrated_estimates
from pytest_llmfunnel.review.calibration import calibrate
from pytest_llmfunnel.review.label_files import import_labels
from pytest_llmfunnel.review.slice import match_labels


def import_review(labels_path: str | Path, results: Any) -> str:
    """``llmfunnel review import``: read labels and report the judge's calibration.

    Args:
        labels_path: the review file (CSV or JSONL) the labellers filled in.
        results: a loaded results document (its ``cases``).

    The audit sample is taken from the file's ``audit`` column, so estimates
    need neither the seed nor the budget of the export.
    """
    records = [CaseRecord.from_json(c.model_dump()) for c in results.cases]
    labels = import_labels(labels_path)
    lines = [match_labels(labels, records).summary()]
    cals = calibrate(records, labels)
    estimates = calibrated_estimates(records, labels, None)
    return "\n".join([*distrust_lines(cals), *lines, *calibration_lines(cals, estimates)])
