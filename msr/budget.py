"""Budgeted commands: the pending work of a profile, in value order, until a deadline.

GPU time comes in short commands on a fresh machine each time (see
``notes/gpu-runs.md``), so ``msr compute all --profile fmnist --budget 9m --pack-to OUT``

1. trains, experiment by experiment in the profile's value order
   (:attr:`msr.profiles.Profile.order`), every run the results store lacks, and analyses
   each model as soon as it is trained (:mod:`msr.per_run`); names of the order that
   :mod:`msr.sweep` does not know are skipped with a note.  Where the order holds both
   ``table2`` and ``table2_seeds`` (:data:`msr.sweep.SEED_EXTRAS`), ``table2`` is its
   first seed only and ``table2_seeds`` the profile's other seeds, so seed 0 of every
   experiment comes before seeds 1 and 2;
2. stops cleanly before the budget ends: :func:`msr.train.train` checks the deadline
   after every training step, saves the run's checkpoint and raises
   :class:`BudgetExhausted`; ``reserve`` seconds of the budget are kept for the
   analyses of the run that finished last and for packing;
3. packs what must leave the machine (:mod:`msr.pack`): the new results and the
   checkpoints of interrupted runs, split into parts under 16 MiB.

The next command unpacks them (``msr unpack``) and continues where this one stopped.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

#: a file in a run's folder that marks a run whose loss became NaN/inf (it travels with the pack)
DIVERGED = "diverged.txt"


class BudgetExhausted(RuntimeError):
    """The time budget ran out during a training run; its checkpoint was saved first."""


@dataclass
class Deadline:
    """A point in time on ``clock`` (monotonic seconds by default).

    :func:`msr.train.train` asks ``passed()`` once per training step; everything else
    (starting a run, an analysis) asks ``left()``."""

    end: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        return cls(clock() + seconds, clock)

    def left(self) -> float:
        return self.end - self.clock()

    def passed(self) -> bool:
        return self.left() <= 0


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str | float) -> float:
    """Seconds in ``"9m"``, ``"90s"``, ``"1h30m"``, ``"540"`` or a number."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        s = re.sub(r"\s", "", str(text).lower())
        if not re.fullmatch(r"(\d+(\.\d+)?[hms]?)+", s):
            raise ValueError(f"duration {text!r} not understood; valid: e.g. 9m, 90s, 1h30m, 540 (seconds)")
        seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([hms]?)", s))
    if seconds < 0:
        raise ValueError(f"duration must be >= 0, got {text!r}")
    return seconds


def default_reserve(budget_s: float) -> float:
    """Seconds of a budget kept from training: a quarter of it, at most 90 s."""
    return min(90.0, budget_s / 4)


@dataclass
class Outcome:
    """What a budgeted command did (also written into the pack's manifest)."""

    trained: list[str] = field(default_factory=list)  # "experiment/hash"
    analysed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # notes: unknown names, missing data
    stopped: str | None = None  # why it stopped early; None: nothing pending was left
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per experiment

    def as_dict(self) -> dict:
        return {"trained": self.trained, "analysed": self.analysed, "skipped": self.skipped,
                "stopped": self.stopped, "seconds": self.seconds}


def checkpoint_bytes(cfg) -> int:
    """About how large ``cfg``'s checkpoint is: fp32 weights, SGD momentum and buffers
    (the model is built on the meta device: no memory, no time)."""
    import torch

    from msr.train import build_model, model_info

    with torch.device("meta"):
        model = build_model(cfg, model_info(cfg))
    params = sum(p.numel() for p in model.parameters())
    return 4 * (2 * params + sum(b.numel() for b in model.buffers()))


def _weights_here(init_from: str, run_dir) -> bool:
    from msr.runs import resolve_init

    try:
        resolve_init(init_from, run_dir)
    except ValueError:
        return False
    return True


def experiment_names(names, profile) -> list[str]:
    """``["all"]`` -> the profile's value order; otherwise the names, each either known
    to :mod:`msr.sweep` or in the value order."""
    from msr.profiles import get_profile
    from msr.sweep import EXPERIMENTS, SEED_EXTRAS

    p = get_profile(profile)
    if list(names) == ["all"]:
        return list(p.order)
    bad = [n for n in names if n not in EXPERIMENTS and n not in SEED_EXTRAS and n not in p.order]
    if bad:
        raise ValueError(f"unknown experiment(s) {', '.join(bad)}; valid: all, "
                         f"{', '.join(dict.fromkeys([*p.order, *EXPERIMENTS, *SEED_EXTRAS]))}")
    return list(names)


def planned_seeds(name: str, names, profile) -> tuple[int, ...]:
    """The seeds a budgeted command trains under ``name``: the profile's, except that an
    experiment whose ``<name>_seeds`` is also in ``names`` gets its first seed only."""
    from msr.sweep import SEED_EXTRAS, default_seeds

    seeds = default_seeds(name, profile)
    extra = next((k for k, v in SEED_EXTRAS.items() if v == name), None)
    return seeds[:1] if extra is not None and extra in names else seeds


def run_pending(names, profile, *, deadline: Deadline | None = None, store=None, run_dir="runs",
                device: str | None = None, data_root: str | None = None, max_checkpoint: int | None = None,
                log=print) -> Outcome:
    """Train and analyse, in the order of ``names`` (``["all"]``: the profile's value
    order), every run the store lacks, and analyse stored runs whose analyses are
    missing while their weights are here; stop when ``deadline`` passes.

    ``max_checkpoint`` (bytes): a run not started yet whose checkpoint would be larger is
    skipped with a note, since, if the budget interrupted it, its checkpoint could not
    travel to the next command."""
    from msr import per_run
    from msr.data import MissingDataError
    from msr.profiles import get_profile
    from msr.results import ResultsStore, atomic_write_bytes, default_root
    from msr.runs import run_folder
    from msr.sweep import EXPERIMENTS, SEED_EXTRAS, describe, experiment_configs, experiment_of
    from msr.train import TrainingDiverged, train

    p = get_profile(profile)
    store = store or ResultsStore(default_root())
    out = Outcome()
    runtime = {k: v for k, v in (("device", device), ("data_root", data_root)) if v is not None}
    inputs = None

    def left() -> str:
        return "" if deadline is None else f"[{max(deadline.left(), 0):5.0f} s left] "

    order = experiment_names(names, p)
    for entry in order:
        if entry not in EXPERIMENTS and entry not in SEED_EXTRAS:
            out.skipped.append(f"{entry}: not an experiment msr.sweep knows")
            log(f"note: {entry!r} is in the value order but not an experiment msr.sweep knows; skipped")
            continue
        start = time.perf_counter()
        name = experiment_of(entry)  # the store folder: table2_seeds are runs of table2
        seeds = planned_seeds(entry, order, p)
        for cfg in experiment_configs(entry, p, seeds) if seeds else []:
            cfg = cfg.replace(progress=False, **runtime)  # runtime fields only: hashes unchanged
            if inputs is None:
                inputs = per_run.Inputs(cfg.device)
            tag = f"{name} {describe(cfg)} ({cfg.hash()})"
            folder = run_folder(run_dir, p.name, name, cfg)
            if (folder / DIVERGED).exists():
                out.skipped.append(f"{name}/{cfg.hash()}: diverged earlier")
                log(f"note: {tag} diverged in an earlier command ({folder / DIVERGED}); skipped")
                continue
            if store.get(p.name, name, cfg.hash_dict()) is None:
                if deadline is not None and deadline.left() <= 0:
                    out.stopped = f"time budget reached before {tag} started"
                    break
                started = (folder / "last.pt").exists()
                if cfg.init_from and not started and not _weights_here(cfg.init_from, run_dir):
                    out.skipped.append(f"{name}/{cfg.hash()}: its start weights are missing")
                    log(f"note: {tag} starts from {cfg.init_from}, whose weights are not here; skipped")
                    continue
                if max_checkpoint is not None and not started and checkpoint_bytes(cfg) > max_checkpoint:
                    out.skipped.append(f"{name}/{cfg.hash()}: checkpoint too large to travel")
                    log(f"note: {tag}: its checkpoint ({checkpoint_bytes(cfg) / 2**20:.1f} MiB) is larger than "
                        f"{max_checkpoint / 2**20:.1f} MiB and could not travel to the next command; skipped")
                    continue
                t0 = time.perf_counter()
                try:
                    r = train(cfg, profile=p.name, experiment=name, store=store, run_dir=run_dir, deadline=deadline)
                except BudgetExhausted as err:
                    out.stopped = str(err)
                    break
                except MissingDataError as err:
                    out.skipped.append(f"{name}: data missing")
                    log(f"note: {name}: {str(err).splitlines()[0]}; skipped")
                    break
                except TrainingDiverged as err:  # marked, so later commands do not spend time on it again
                    mark = f"{err}\n".encode()
                    atomic_write_bytes(folder / DIVERGED, lambda f, mark=mark: f.write(mark))
                    out.skipped.append(f"{name}/{cfg.hash()}: diverged")
                    log(f"{left()}{tag}: {err}")
                    continue
                out.trained.append(f"{name}/{cfg.hash()}")
                log(f"{left()}{tag}: trained, acc {r['final']['reported_acc']:.2f} % "
                    f"({time.perf_counter() - t0:.1f} s)")
                force = True  # analyses of earlier weights of the same config would be stale
            elif not per_run.pending(name, cfg, p.name, store):
                continue
            else:
                force = False
            status = per_run.analyse(cfg, name, p.name, store=store, run_dir=run_dir, force=force,
                                     deadline=deadline, inputs=inputs, log=log)
            done = [k for k, s in status.items() if s == "computed"]
            if done:
                out.analysed.append(f"{name}/{cfg.hash()}: {', '.join(done)}")
            if "out of time" in status.values():
                out.stopped = f"time budget reached during the analyses of {tag}"
                break
        out.seconds[entry] = out.seconds.get(entry, 0.0) + time.perf_counter() - start
        if out.stopped:
            break
    if out.stopped:
        log(f"stopped: {out.stopped}")
    else:
        log("nothing pending is left in " + ", ".join(experiment_names(names, p)))
    return out


__all__ = ["BudgetExhausted", "Deadline", "Outcome", "checkpoint_bytes", "default_reserve", "experiment_names",
           "parse_duration", "run_pending"]
