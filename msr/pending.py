"""What a profile's value order still needs: ``msr status``.

Before spending GPU time (or after unpacking what a GPU command handed back), one look
says, per experiment of the value order (:data:`msr.profiles.VALUE_ORDER`, as
:func:`msr.budget.plan` lays it out), how many runs the results store holds, which are
interrupted (their checkpoint is in ``runs/`` and a budgeted command resumes them),
which started but could not leave their checkpoint (:data:`msr.budget.UNFINISHED`),
which diverged (:data:`msr.budget.DIVERGED`, skipped), which wait to be trained, and
for which stored runs an analysis (:mod:`msr.per_run`) is missing.  It reads the store
and the run folders only: nothing is built, trained or written.
"""
from __future__ import annotations

import statistics
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: the states of a run, in the order a line lists them
STATES = ("stored", "interrupted", "unfinished", "diverged", "to train")


@dataclass
class ExperimentStatus:
    """One entry of the value order: its runs counted by state (:data:`STATES`)."""

    entry: str
    runs: int = 0
    states: Counter = field(default_factory=Counter)
    analyses: Counter = field(default_factory=Counter)  # kind -> stored runs that lack it
    wall_s: list[float] = field(default_factory=list)  # of its stored runs
    cost: str | None = None  # the profile's expected cost, in words
    left_s: float = 0.0  # training time its runs still need, estimated from its stored runs
    unknown: int = 0  # runs still to train whose time cannot be estimated yet

    @property
    def done(self) -> bool:
        return self.states["stored"] + self.states["diverged"] == self.runs and not self.analyses


def run_state(task, stored: dict | None) -> str:
    """The state (:data:`STATES`) of one :class:`msr.budget.Task` whose stored result is
    ``stored`` (None: not stored); one without a run folder is stored or to train."""
    from msr.budget import DIVERGED, UNFINISHED

    if stored is not None:
        return "stored"
    if task.folder is None:
        return "to train"
    folder = Path(task.folder)
    if (folder / DIVERGED).exists():
        return "diverged"
    if (folder / "last.pt").exists():
        return "interrupted"
    if (folder / UNFINISHED).exists():
        return "unfinished"
    return "to train"


def status(names, profile, *, store=None, run_dir="runs") -> tuple[list[ExperimentStatus], list[str]]:
    """Per entry of ``names`` (``["all"]``: the profile's value order) that plans runs, its
    runs by state (``run_dir`` None: from the store alone), and the names :mod:`msr.sweep`
    does not know."""
    from msr import per_run
    from msr.budget import estimate_seconds, experiment_names, plan
    from msr.profiles import get_profile
    from msr.results import ResultsStore, default_root

    p = get_profile(profile)
    store = store or ResultsStore(default_root())
    order = experiment_names(names, p)
    tasks, unknown = plan(order, p, run_dir)
    rows = {e: ExperimentStatus(e, cost=expected_cost(p, e, order)) for e in order if e not in unknown}
    listed: dict[str, list[dict]] = {}  # experiment -> its stored results, read once
    for task in tasks:
        row = rows[task.entry]
        row.runs += 1
        r = store.get(p.name, task.name, task.cfg.hash_dict())
        state = run_state(task, r)
        row.states[state] += 1
        if state == "stored":
            if r.get("wall_time_s"):
                row.wall_s.append(r["wall_time_s"])
            row.analyses.update(per_run.pending(task.name, task.cfg, p.name, store))
        elif state != "diverged":
            stored = listed.setdefault(task.name, store.list(p.name, task.name))
            est = estimate_seconds(task.cfg, task.folder, stored)
            if est is None:
                row.unknown += 1
            else:  # an interrupted run needs the part it has not done; its share is unknown here: all of it
                row.left_s += est
    return [r for r in rows.values() if r.runs], unknown  # an entry planning no run (one seed) has nothing to do


def expected_cost(profile, entry: str, order) -> str | None:
    """The profile's expected cost (in words) of the runs ``entry`` of ``order`` plans: for
    an experiment estimated per seed, that estimate times the seeds it plans here (``table2``
    alone: every seed; ``table2`` beside ``table2_seeds``: seed 0, and ``table2_seeds`` the
    others, :func:`msr.budget.planned_seeds`).  A seeds entry of an experiment estimated as a
    whole has none: that estimate is the experiment's row's."""
    from msr.budget import planned_seeds
    from msr.sweep import experiment_of

    experiment = experiment_of(entry)
    if experiment != entry and experiment not in profile.seed_cost:
        return None
    return profile.expected_cost(experiment, planned_seeds(entry, order, profile))


def format_status(rows: list[ExperimentStatus], unknown: list[str], profile: str) -> list[str]:
    """The lines ``msr status`` prints."""
    total = sum(r.runs for r in rows)
    stored = sum(r.states["stored"] for r in rows)
    width = max([len(r.entry) for r in rows] + [4])
    lines = [f"{profile}: {stored} of {total} runs stored, in value order"]
    for r in rows:
        parts = [f"{r.states['stored']}/{r.runs} stored"]
        parts += [f"{r.states[s]} {s}" for s in STATES[1:] if r.states[s]]
        if r.analyses:
            parts.append("analyses missing: " + ", ".join(f"{k} ({n})" for k, n in sorted(r.analyses.items())))
        if r.wall_s:
            wall = statistics.median(r.wall_s)
            parts.append(f"median wall time {wall:.{0 if wall >= 10 else 1}f} s per stored run")
            if r.left_s:
                parts.append(f"about {r.left_s / 60:.{0 if r.left_s >= 600 else 1}f} min of training left at the "
                             f"speed of its stored runs" + (f" ({r.unknown} not estimated)" if r.unknown else ""))
        elif not r.done and r.cost:
            parts.append("expected: " + textwrap.shorten(r.cost, 110, placeholder=" ..."))
        lines.append(f"  {r.entry:<{width}}  {'done' if r.done else 'pending':<7}  " + "; ".join(parts))
    lines += [f"  {e:<{width}}  skipped  not an experiment msr.sweep knows" for e in unknown]
    left = [r.entry for r in rows if not r.done]
    lines.append("next: " + (", ".join(left) if left else "nothing pending is left"))
    return lines


def plan_table(store, profile) -> list[dict]:
    """The book's view of :func:`status`: per entry of the profile's value order, the runs
    planned, how many the store holds and how many analyses its stored runs lack, and the
    profile's expected cost (an estimate in words, not a measurement).  It reads the store
    alone (not ``runs/``), so every machine renders the same table from the same results."""
    rows, _ = status(["all"], profile, store=store, run_dir=None)
    return [{"experiment": r.entry, "runs planned": r.runs, "stored": r.states["stored"],
             "analyses missing": sum(r.analyses.values()),
             "expected cost (the profile's estimate)": r.cost or ""} for r in rows]
