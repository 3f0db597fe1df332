"""A flip record for report tests, shaped like ``pytest_llmfunnel.gate.compare.Flip``.

Renderers take any object with these attributes (``report.FlipLike``); this one
lets a test leave ``reason`` or ``output_excerpt`` out and put hostile text in any field.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SampleFlip:
    dataset: str
    case: str
    variant: str
    metric: str
    stage: str
    before: object
    after: object
    reason: str | None
    output_excerpt: str | None
