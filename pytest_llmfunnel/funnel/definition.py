"""A funnel: the stages of one dataset, in order, and where its outputs come from.

Only the declaration lives here (what a user writes in a test module); running
it is :mod:`pytest_llmfunnel.funnel.runner`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmfunnel.funnel.live_variants import Variant, make_variants
from pytest_llmfunnel.funnel.stages.base import Check, Scorer
from pytest_llmfunnel.funnel.stages.conversation_turns import EachTurn
from pytest_llmfunnel.funnel.stages.judge_kinds import PairwiseJudge, RubricJudge
from pytest_llmfunnel.funnel.target import Target, TargetPolicy, check_target_options

Stage = Check | Scorer | RubricJudge | PairwiseJudge | EachTurn


class Funnel:
    """The stages of one dataset, in order, and where outputs come from.

    ``target`` is a callable (sync or async) taking a :class:`Case` and returning
    the output (a str, an :class:`~pytest_llmfunnel.output.Output`, or a dict of
    its fields); without one, the dataset's pre-logged outputs are evaluated (one
    variant per ``output`` / ``output_<name>`` column). With ``target_version``
    set, the target's outputs are recorded in the output cache, keyed by case,
    target name and version: bump the version when the target changes.

    ``target_concurrency``, ``target_timeout`` and ``target_retries`` override
    the session's target policy for this funnel (see
    :mod:`pytest_llmfunnel.funnel.target`); ``target_repeats=k`` calls the
    target k times per case and folds the results (see
    :mod:`pytest_llmfunnel.funnel.repeats`).

    ``variants={"v1": {...settings...}, ...}`` makes live variants: each case
    is evaluated once per variant, the target called as ``target(case, variant)``
    (see :mod:`pytest_llmfunnel.funnel.live_variants`); ``control`` names the one
    the pairwise judges compare the others with (default: the first).

    A :class:`~pytest_llmfunnel.funnel.stages.judge_kinds.PairwiseJudge` compares variants:
    pre-logged ones, or live ones; a target without variants has none to compare.
    """

    def __init__(
        self,
        *stages: Stage,
        target: Target | None = None,
        target_version: str | None = None,
        name: str | None = None,
        target_concurrency: int | None = None,
        target_timeout: float | None = None,
        target_retries: int | None = None,
        target_repeats: int = 1,
        variants: Mapping[str, Mapping[str, Any]] | None = None,
        control: str | None = None,
    ) -> None:
        for stage in stages:
            if not isinstance(stage, (Check, Scorer, RubricJudge, PairwiseJudge, EachTurn)):
                raise TypeError(
                    f"Funnel stages must be checks, scorers or judges; got {stage!r}. "
                    "Wrap a plain function with checks.check(fn) or scorers.scorer(fn)."
                )
        names = [s.name for s in stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Funnel stage names must be unique; {', '.join(duplicates)} appear more "
                "than once. Pass name=... to tell them apart."
            )
        self.variants: tuple[Variant, ...] = make_variants(variants, control, target)
        if target is not None and not self.variants and any(
            isinstance(s, PairwiseJudge) for s in stages
        ):
            raise ValueError(
                "a pairwise judge compares the variants of a case: pre-logged "
                "(output_<name> columns) or live (variants=... of a target); a target "
                "without variants has none, so pass variants=... or drop the pairwise stage"
            )
        if target_version is not None and target is None:
            raise ValueError("target_version=... only makes sense with a target=... callable")
        check_target_options(
            target, target_concurrency, target_timeout, target_retries, target_repeats
        )
        self.target_concurrency = target_concurrency
        self.target_timeout = target_timeout
        self.target_retries = target_retries
        self.target_repeats = target_repeats
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.target = target
        self.target_version = target_version
        self.name = name

    def target_policy(self, session: TargetPolicy) -> TargetPolicy:
        """The session's target policy with this funnel's own settings over it."""
        return session.overridden(
            self.target_concurrency, self.target_timeout, self.target_retries
        )

    @property
    def judges(self) -> tuple[RubricJudge, ...]:
        return tuple(s for s in self.stages if isinstance(s, RubricJudge))

    @property
    def pairwise_judges(self) -> tuple[PairwiseJudge, ...]:
        return tuple(s for s in self.stages if isinstance(s, PairwiseJudge))

    @property
    def target_name(self) -> str:
        """The target's name in the output cache: the funnel's name, else module.qualname."""
        if self.name:
            return self.name
        target = self.target
        module = getattr(target, "__module__", None) or ""
        qualname = getattr(target, "__qualname__", None) or type(target).__name__
        return f"{module}.{qualname}" if module else qualname

    def __repr__(self) -> str:
        inner = ", ".join(s.name for s in self.stages)
        return f"Funnel({inner})"
