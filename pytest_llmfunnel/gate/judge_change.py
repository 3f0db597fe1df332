"""A changed judge, said out loud: which judge gave way to which, and what it did to the baseline.

When a judge stage's identity (model and prompt hash, see
:func:`pytest_llmfunnel.gate.baseline_side.judge_identities`) differs from the one the
baseline recorded, the gate compares like with like by judging the baseline's
stored outputs again with the current judge. That is right, but it moves the
baseline's own figures (a pass rate of 67% under the old judge may be 43.5%
under the new one) and the reader should see it: this module finds every such
change in a session and puts the baseline's figures under both judges side by
side, for the terminal summary and the Markdown report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmfunnel.escape import md_cell
from pytest_llmfunnel.gate.baseline_file import Baseline
from pytest_llmfunnel.gate.metrics import judge_identity
from pytest_llmfunnel.record import CaseRecord
from pytest_llmfunnel.wording import plural

DECIDED = ("passed", "failed")


@dataclass(frozen=True)
class Figures:
    """A stage's pass rate and mean score over some cases (None: nothing to measure)."""

    pass_rate: float | None
    mean_score: float | None


@dataclass(frozen=True)
class JudgeChange:
    """One judge stage of one eval test whose judge differs from the baseline's.

    ``old``/``new`` are the baseline's figures under the judge that wrote it
    (the stored verdicts) and under the current judge (the stored outputs
    judged again), over the ``n`` cases both have a verdict for.
    """

    dataset: str
    stage: str
    old_judge: str
    new_judge: str
    n: int
    old: Figures
    new: Figures

    def line(self) -> str:
        """One sentence for the terminal summary."""
        head = (
            f"{self.dataset}: judge of {self.stage} changed: {self.old_judge} → "
            f"{self.new_judge}; "
        )
        if not self.n:
            return head + (
                "the baseline's outputs were not judged again (see the gate's reasons)"
            )
        return head + f"the baseline's {plural(self.n, 'output')} re-judged: " + "; ".join(
            self._figures()
        ) + " (old judge → new judge)"

    def _figures(self) -> list[str]:
        parts = []
        if self.old.pass_rate is not None and self.new.pass_rate is not None:
            parts.append(f"pass rate {self.old.pass_rate:.1%} → {self.new.pass_rate:.1%}")
        if self.old.mean_score is not None and self.new.mean_score is not None:
            parts.append(f"mean score {self.old.mean_score:.3g} → {self.new.mean_score:.3g}")
        return parts or ["no verdicts to compare"]


def judge_changes(
    records: Iterable[CaseRecord], baselines: Mapping[str, Baseline | None]
) -> list[JudgeChange]:
    """Every judge stage whose current judge differs from the one its baseline recorded."""
    by_dataset: dict[str, list[CaseRecord]] = {}
    for record in records:
        by_dataset.setdefault(record.dataset, []).append(record)
    changes = []
    for dataset in sorted(by_dataset):
        baseline = baselines.get(dataset)
        if baseline is None:
            continue
        recs = by_dataset[dataset]
        index = baseline.index()
        for stage, old_judge in sorted(baseline.header.judges.items()):
            new_judge = judge_identity(recs, stage)
            if new_judge is None or new_judge == old_judge:
                continue
            old: list[tuple[str, float | None]] = []
            new: list[tuple[str, float | None]] = []
            for record in recs:
                line = index.get((record.case, record.variant))
                rejudged = None if record.baseline is None else record.baseline.stage(stage)
                stored = line.stages.get(stage) if line is not None else None
                if stored is None or rejudged is None:
                    continue
                if stored.status in DECIDED and rejudged.status in DECIDED:
                    old.append((stored.status, stored.score))
                    new.append((rejudged.status, rejudged.score))
            changes.append(JudgeChange(
                dataset, stage, old_judge, new_judge, len(old), _figures(old), _figures(new)
            ))
    return changes


def judge_change_markdown(changes: Sequence[JudgeChange]) -> str:
    """The report section: a table of the baseline's figures under the old and the new judge."""
    if not changes:
        return ""
    rows = [
        "### Judge changed",
        "",
        "The baseline's stored outputs were judged again with the current judge, so both "
        "sides are judged alike. Its figures under each judge:",
        "",
        "| eval test | stage | old judge | new judge | cases | pass rate (old → new) "
        "| mean score (old → new) |",
        "| --- | --- | --- | --- | ---: | --- | --- |",
    ]
    for c in changes:
        rate = _pair(c.old.pass_rate, c.new.pass_rate, "{:.1%}")
        mean = _pair(c.old.mean_score, c.new.mean_score, "{:.3g}")
        rows.append(
            f"| {md_cell(c.dataset, 80)} | {md_cell(c.stage, 80)} | {md_cell(c.old_judge, 80)} "
            f"| {md_cell(c.new_judge, 80)} | {c.n} | {rate} | {mean} |"
        )
    return "\n".join(rows)


def _pair(old: float | None, new: float | None, fmt: str) -> str:
    if old is None or new is None:
        return "-"
    return f"{fmt.format(old)} → {fmt.format(new)}"


def _figures(values: Sequence[tuple[str, float | None]]) -> Figures:
    if not values:
        return Figures(None, None)
    scores = [s for _, s in values if s is not None and math.isfinite(s)]
    return Figures(
        sum(status == "passed" for status, _ in values) / len(values),
        math.fsum(scores) / len(scores) if scores else None,
    )
