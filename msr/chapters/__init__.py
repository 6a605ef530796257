"""Compute step of every book chapter (``msr compute``): one module per chapter.

``msr/chapters/<name>.py`` pairs with ``book/notebooks/<name>.md``: its ``compute(ctx)``
trains or analyses through :mod:`msr.train`, :mod:`msr.sweep`, :mod:`msr.analysis` and
stores everything in the results store (:class:`msr.results.ResultsStore`), keyed by the
hash of the full configuration, so a second call with the same configuration only
reads; beside it are the chapter's claim checks and payload helpers.  The notebooks
render what ``compute`` returns through :mod:`msr.render`; nothing here imports rendering code
(:mod:`msr.render`, :mod:`msr.book`).

* ``ctx.recompute``: ignore what the store holds and compute again;
* ``ctx.render_only``: never train or analyse; an item the store lacks comes back as
  ``None`` and the book shows a "not computed yet" box for it.  Items marked *cheap*
  (structure counts, closed-form values: seconds on a CPU, no training) are computed
  even then.

The notebooks call the same functions, so ``msr compute NAMES --profile P --device cuda``
on a GPU box without Jupyter fills the store that ``make book`` then renders.  With
``--budget 9m`` the names are experiments instead, worked through in value order within
the time budget (:mod:`msr.budget`, ``notes/gpu-runs.md``).

Trained models are analysed as soon as they are trained (:mod:`msr.per_run`); the
chapters assemble those per-run results, so they need no checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Callable

from msr.chapters import (
    architectures,
    benchmarks,
    degradation,
    energy,
    firing,
    init,
    isometry,
    landscape,
    performance,
    report,
    shortcuts,
    summary,
    two_phase,
    unavailing,
)
from msr.chapters._claims import CLAIM_KINDS, SPREAD_RULE
from msr.results import IncompleteInputs, ResultsStore, default_root

#: The chapters in book order (the names ``--only`` and ``msr compute`` take), each the
#: module holding its ``compute(ctx)``.
CHAPTERS: dict[str, ModuleType] = {
    "architectures": architectures, "degradation": degradation, "unavailing": unavailing, "isometry": isometry,
    "benchmarks": benchmarks, "energy": energy, "firing": firing, "landscape": landscape, "init": init,
    "shortcuts": shortcuts, "two_phase": two_phase, "report": report, "performance": performance,
}
CHAPTER_ORDER = tuple(CHAPTERS)
#: The landing page (``book/notebooks/summary.md``): read after every chapter, never numbered.
CHAPTERS["summary"] = summary


@dataclass
class ChapterContext:
    """What a chapter's ``compute`` needs: the profile, where to run, what to reuse."""

    profile: str
    device: str = "cpu"
    recompute: bool = False
    render_only: bool = False
    data_root: str = "data"
    store: ResultsStore = field(default_factory=lambda: ResultsStore(default_root()))
    quiet: bool = False  # notebooks: one summary line per sweep instead of per-epoch logs
    seeds: tuple[int, ...] | None = None  # training seeds of Table II / VI / deep (None: the profile's)
    jobs: int = 1  # runs trained at once in worker processes (msr.jobs)

    @classmethod
    def from_params(cls, params) -> ChapterContext:
        return cls(params.profile, params.device, params.recompute, params.render_only, params.data_root,
                   quiet=True)

    def reader(self) -> ChapterContext:
        """The same context in render-only mode (for chapters that analyse another chapter's runs)."""
        return replace(self, recompute=False, render_only=True, jobs=1)

    def item(self, experiment: str, config: dict, compute: Callable[[], Any], cheap: bool = False) -> dict | None:
        """The stored result of ``config``, computed first if allowed.  A trained model the
        computation needs that is missing or unreadable stops it: nothing is stored, and the
        error names the item and the weights (a result from fewer models than asked for
        would look complete)."""
        if self.render_only and not cheap:
            return self.store.get(self.profile, experiment, config)

        def complete():
            from msr.results import CheckpointError
            from msr.train import WeightsNotFound

            try:
                return compute()
            except (WeightsNotFound, CheckpointError) as err:
                raise IncompleteInputs(f"{experiment} not computed, nothing stored: {err}") from err

        return self.store.get_or_compute(self.profile, experiment, config, complete,
                                         recompute=self.recompute, device=self.device)


def run(name: str, params=None, seeds=None, jobs: int = 1, **kw) -> dict:
    """The compute step of chapter ``name`` with a notebook's :class:`msr.book.Params` (or
    the keywords of :class:`ChapterContext`); ``seeds``: the training seeds of the seeded
    sweeps (default: the profile's); ``jobs``: runs trained at once in worker processes
    (:mod:`msr.jobs`)."""
    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid: {', '.join(CHAPTER_ORDER)}")
    ctx = ChapterContext.from_params(params) if params is not None else ChapterContext(**kw)
    if seeds is not None:
        from msr.sweep import check_seeds

        ctx = replace(ctx, seeds=check_seeds(seeds))
    if jobs != 1:
        from msr.jobs import check_jobs

        ctx = replace(ctx, jobs=check_jobs(jobs))
    return CHAPTERS[name].compute(ctx)


def collect(ctx: ChapterContext, names=None) -> dict:
    """Every chapter's results as the store holds them (render-only: nothing trains)."""
    ro = ctx.reader()
    names = [c for c in (names or CHAPTER_ORDER) if c not in ("report", "performance")]
    return {c: CHAPTERS[c].compute(ro) for c in names}


__all__ = ["CHAPTERS", "CHAPTER_ORDER", "CLAIM_KINDS", "SPREAD_RULE", "ChapterContext", "IncompleteInputs",
           "collect", "run"]
