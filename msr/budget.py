"""Budgeted commands: the pending work of a profile, in value order, until a deadline.

GPU time comes in short commands on a fresh machine each time (see
``notes/gpu-runs.md``), so ``msr compute all --profile fmnist --budget 9m --pack-to OUT``

1. trains, experiment by experiment in the profile's value order
   (:attr:`msr.profiles.Profile.order`), every run the results store lacks, ``--jobs N``
   runs at once (each in its own process), and analyses each model as soon as it is
   trained, in the process that trained it (:mod:`msr.per_run`); names of the order that
   :mod:`msr.sweep` does not know are skipped with a note.  Where the order holds both
   ``table2`` and ``table2_seeds`` (:data:`msr.sweep.SEED_EXTRAS`), ``table2`` is its
   first seed only and ``table2_seeds`` the profile's other seeds, so seed 0 of every
   experiment comes before seeds 1 and 2;
2. stops cleanly before the budget ends: :func:`msr.train.train` checks the deadline
   after every training step, saves the run's checkpoint and raises
   :class:`BudgetExhausted`.  In the last ``reserve`` seconds of the budget no run and no
   analysis starts: they are for the analyses of the runs that finished before, while
   the runs in progress train on until :data:`PACK_SECONDS` before the end (a run that
   finishes there leaves its analyses, and its weights, to the next command);
3. packs what must leave the machine (:mod:`msr.pack`): the new results and the
   checkpoints of interrupted runs, split into parts under 16 MiB; with ``--pack-to``
   after every run that ends too, and every :data:`PROGRESS_EVERY` seconds in which none
   ends (``run_pending(on_progress=...)``), so that a command killed before its
   end still hands back every run it finished and the last epoch checkpoints of the others.

The checkpoints a stop can leave (of the runs training at once, and of interrupted runs
waiting to resume) are kept within ``max_checkpoint``, the room the next command's
carry has.  A run whose checkpoint alone is larger (MS-ResNet482: 59 MiB) cannot be
interrupted without losing its work: it trains alone (where it has no analyses, into
the reserve, less :data:`PACK_SECONDS`), and only where the budget leaves
:data:`ESTIMATE_MARGIN` times its estimated time (:func:`estimate_seconds`: from a
finished run of its experiment, scaled by parameters, or from its own earlier attempt,
:data:`UNFINISHED`).  It checks after every epoch that the epochs left fit the time left,
and gives up at once when they do not (:class:`WontFinish`): the command then goes on
with the other runs, and its :data:`UNFINISHED` mark makes the next estimate its own.
A run that fails for another reason is reported with its traceback and the others go on.

The next command unpacks them (``msr unpack``) and continues where this one stopped.
"""
from __future__ import annotations

import json
import re
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

#: a file in a run's folder that marks a run whose loss became NaN/inf (it travels with the pack)
DIVERGED = "diverged.txt"
#: a file in a run's folder holding how long a run whose checkpoint cannot travel trained
#: before a budget stopped it, and how far it got (it travels with the pack): the next
#: command starts it again only where its budget leaves the time the whole run needs
UNFINISHED = "unfinished.json"
#: a run whose checkpoint cannot travel starts when its estimated time, times this, fits the budget
ESTIMATE_MARGIN = 1.25
#: seconds before the budget's end at which the runs still training stop, for their checkpoints and
#: the last pack (seconds suffice)
PACK_SECONDS = 15.0
#: seconds between two ``on_progress`` calls of :func:`run_pending` while runs train and none ends
PROGRESS_EVERY = 60.0
#: runs that fail one after the other (an error, not the budget, missing data or a divergence)
#: before no run starts any more: a fault every run meets (a broken fast path, a CUDA context
#: an error left unusable in a worker) would otherwise spend the budget on one traceback per run
FAILURES_IN_A_ROW = 3


class BudgetExhausted(RuntimeError):
    """The time budget ran out during a training run; its checkpoint was saved first.
    ``elapsed_s``: the run's training time so far (all its segments); ``fraction``: the
    part of its training steps done."""

    def __init__(self, message: str, elapsed_s: float | None = None, fraction: float | None = None):
        super().__init__(message)
        self.elapsed_s, self.fraction = elapsed_s, fraction


class WontFinish(BudgetExhausted):
    """A run that must finish within the budget (``train(..., must_finish=True)``: its
    checkpoint cannot travel) stopped after an epoch because the epochs left, at that
    epoch's pace, need more time than the budget leaves; its checkpoint was saved first.
    Unlike :class:`BudgetExhausted` the budget is not spent: other runs may still start."""


@dataclass
class Deadline:
    """A point in time on ``clock`` (monotonic seconds by default).

    :func:`msr.train.train` asks ``passed()`` once per training step; everything else
    (starting a run, an analysis) asks ``left()``.  ``reserve``: seconds after ``end``
    that the budget keeps for the analyses of the runs that finished last; runs in
    progress train on into it (:meth:`with_reserve`)."""

    end: float
    clock: Callable[[], float] = time.monotonic
    reserve: float = 0.0

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        return cls(clock() + seconds, clock)

    def with_reserve(self) -> "Deadline":
        """The deadline of training: the reserve too, less :data:`PACK_SECONDS` for the
        checkpoints and packing."""
        return Deadline(self.end + max(self.reserve - PACK_SECONDS, 0.0), self.clock)

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
    """Seconds at the end of a budget in which no run and no analysis starts: a quarter
    of it, at most 90 s."""
    return min(90.0, budget_s / 4)


@dataclass
class Outcome:
    """What a budgeted command did (also written into the pack's manifest)."""

    trained: list[str] = field(default_factory=list)  # "experiment/hash"
    analysed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # notes: unknown names, missing data
    failed: list[str] = field(default_factory=list)  # "experiment/hash: Error: message" of runs that broke
    stopped: str | None = None  # why it stopped early; None: nothing pending was left
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per experiment

    def as_dict(self) -> dict:
        return {"trained": self.trained, "analysed": self.analysed, "skipped": self.skipped, "failed": self.failed,
                "stopped": self.stopped, "seconds": self.seconds}


def _sizes(cfg) -> tuple[int, int]:
    """(parameters, buffer elements) of ``cfg``'s model, built on the meta device (no memory, no time)."""
    import torch

    from msr.train import build_model, model_info

    with torch.device("meta"):
        model = build_model(cfg, model_info(cfg))
    return sum(p.numel() for p in model.parameters()), sum(b.numel() for b in model.buffers())


def checkpoint_bytes(cfg) -> int:
    """About how large ``cfg``'s checkpoint is: fp32 weights, SGD momentum and buffers."""
    params, buffers = _sizes(cfg)
    return 4 * (2 * params + buffers)


def estimate_seconds(cfg, folder, stored: list[dict]) -> float | None:
    """How long training ``cfg`` takes, roughly: from its own :data:`UNFINISHED` mark in
    ``folder`` (None: none; time so far / part done), else from the ``stored`` results of the same
    experiment: the largest one's wall time, scaled by parameter count (depth scales the
    paper's networks' parameters and operations alike) and divided by the runs that
    shared the machine with it (``runtime.concurrent_runs``; its wall time then overstates
    what it needs alone).  That share makes the estimate optimistic where the runs did not
    slow each other down; the run gives up after its first epoch if it cannot finish
    (:class:`WontFinish`), and its own mark replaces the estimate.  None without either."""
    mark = Path(folder) / UNFINISHED if folder is not None else None
    if mark is not None and mark.exists():
        d = json.loads(mark.read_text())
        if d.get("fraction"):
            return d["elapsed_s"] / d["fraction"]
    refs = [r for r in stored if r.get("wall_time_s") and r.get("params")]
    if not refs:
        return None
    ref = max(refs, key=lambda r: r["params"])
    shared = (ref.get("runtime") or {}).get("concurrent_runs") or 1
    return ref["wall_time_s"] / shared * _sizes(cfg)[0] / ref["params"]


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


@dataclass
class Task:
    """One run of the value order: train it (if the store lacks it) and analyse it."""

    entry: str  # the value-order name (``table2_seeds``)
    name: str  # the experiment, i.e. the store folder (``table2``)
    cfg: object  # msr.config.TrainConfig
    folder: object  # its run folder (msr.runs.run_folder); None where planned without one (msr.pending)
    tag: str  # how the log names it


@dataclass
class TaskDone:
    """What :func:`run_task` did; ``kind``: the type name of the exception that ended it."""

    trained: bool = False
    acc: float | None = None
    analysed: list[str] = field(default_factory=list)
    out_of_time: bool = False
    kind: str | None = None
    error: str | None = None
    seconds: float = 0.0
    elapsed_s: float | None = None  # the budget stopped it: its training time so far
    fraction: float | None = None  # ... and the part of its steps done


def run_task(task: Task, profile: str, *, store, run_dir, deadline, train_it: bool, must_finish: bool = False,
             train_deadline=None, sizes: dict | None = None, inputs=None, threads: int | None = None,
             log=print) -> TaskDone:
    """Train ``task``'s run (``train_it``; until ``train_deadline``, default ``deadline``;
    ``must_finish``: give up after an epoch when the rest cannot fit, :class:`WontFinish`)
    and analyse the model (:mod:`msr.per_run`; no analysis starts after ``deadline``), in
    this process or in a ``--jobs`` worker.  Every exception comes back in the
    :class:`TaskDone`; one that is not the budget's, missing data or a divergence is logged
    with its traceback, and the command goes on with the other runs."""
    from msr import per_run
    from msr.train import train

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    done, t0 = TaskDone(), time.perf_counter()
    try:
        if train_it:
            r = train(task.cfg, profile=profile, experiment=task.name, store=store, run_dir=run_dir,
                      deadline=deadline if train_deadline is None else train_deadline, must_finish=must_finish)
            done.trained, done.acc = True, r["final"]["reported_acc"]
        status = per_run.analyse(task.cfg, task.name, profile, store=store, run_dir=run_dir, force=train_it,
                                 deadline=deadline, inputs=inputs, sizes=sizes, log=log)
        done.analysed = [k for k, s in status.items() if s == "computed"]
        done.out_of_time = "out of time" in status.values()
    except Exception as err:  # noqa: BLE001 - reported by the scheduler; the other runs go on
        done.kind, done.error = type(err).__name__, (str(err).splitlines() or [""])[0]
        done.elapsed_s, done.fraction = getattr(err, "elapsed_s", None), getattr(err, "fraction", None)
        if done.kind not in ("BudgetExhausted", "WontFinish", "MissingDataError", "TrainingDiverged"):
            log(f"{task.tag} failed:\n{traceback.format_exc()}")
    done.seconds = time.perf_counter() - t0
    return done


def plan(order: list[str], profile, run_dir="runs", runtime: dict | None = None) -> tuple[list[Task], list[str]]:
    """The runs of the experiments ``order`` names (:func:`experiment_names`), in that
    order, as :class:`Task` s with ``runtime`` fields set (they leave the hashes as they
    are; ``run_dir`` None: tasks without a run folder), and the names :mod:`msr.sweep`
    does not know."""
    from msr.profiles import get_profile
    from msr.runs import run_folder
    from msr.sweep import EXPERIMENTS, SEED_EXTRAS, describe, experiment_configs, experiment_of

    p = get_profile(profile)
    tasks: list[Task] = []
    unknown: list[str] = []
    for entry in order:
        if entry not in EXPERIMENTS and entry not in SEED_EXTRAS:
            unknown.append(entry)
            continue
        name = experiment_of(entry)  # the store folder: table2_seeds are runs of table2
        seeds = planned_seeds(entry, order, p)
        for cfg in experiment_configs(entry, p, seeds) if seeds else []:
            cfg = cfg.replace(progress=False, **(runtime or {}))  # runtime fields only: hashes unchanged
            folder = run_folder(run_dir, p.name, name, cfg) if run_dir is not None else None
            tasks.append(Task(entry, name, cfg, folder, f"{name} {describe(cfg)} ({cfg.hash()})"))
    return tasks, unknown


def run_pending(names, profile, *, deadline: Deadline | None = None, store=None, run_dir="runs",
                device: str | None = None, data_root: str | None = None, max_checkpoint: int | None = None,
                jobs: int = 1, switches: dict | None = None, on_progress: Callable[[Outcome], None] | None = None,
                log=print) -> Outcome:
    """Train and analyse, in the order of ``names`` (``["all"]``: the profile's value
    order), every run the store lacks, and analyse stored runs whose analyses are
    missing while their weights are here; stop when ``deadline`` passes.

    ``switches``: runtime fields of :class:`msr.config.TrainConfig` set on every run
    (``cuda_graph``, ``resident_data``, ``lif_backend``, ...; not hashed).

    ``jobs``: runs trained at once, each in its own process (:func:`run_task` in a
    ``spawn`` pool; 1: in this process).  Runs start in value order; one that starts
    from another run's weights (two-phase) waits for that run.  Once one run reports
    the budget's end no run starts and the others stop at the deadline themselves,
    each with its checkpoint.

    ``max_checkpoint`` (bytes): the checkpoints that could be left when the budget ends
    (of the runs training at once, and of interrupted runs waiting to resume) stay
    within it, so that they can travel to the next command; a run not started yet whose
    checkpoint alone is larger is skipped with a note.

    ``on_progress(outcome)``: called with the outcome so far once each run that started
    has ended (trained, analysed, stopped by the budget or failed), and every
    :data:`PROGRESS_EVERY` seconds in which none ended (with one job, from a background
    thread while the run trains in this one); ``msr compute
    --pack-to`` packs there, so that a command killed later still hands back those runs,
    and the checkpoints the runs still training saved at their last epoch's end."""
    from msr import per_run
    from msr.config import RUNTIME_FIELDS
    from msr.jobs import check_jobs
    from msr.profiles import get_profile
    from msr.results import ResultsStore, default_root

    check_jobs(jobs)
    p = get_profile(profile)
    store = store or ResultsStore(default_root())
    out = Outcome()
    runtime = {k: v for k, v in (("device", device), ("data_root", data_root)) if v is not None}
    bad = sorted(set(switches or {}) - set(RUNTIME_FIELDS))
    if bad:
        raise ValueError(f"switches {', '.join(bad)} would change results; valid: {', '.join(RUNTIME_FIELDS)}")
    runtime.update(switches or {})
    if jobs > 1:
        runtime["concurrent_runs"] = jobs  # recorded with each result: its images/s is a share of the machine

    order = experiment_names(names, p)
    tasks, unknown = plan(order, p, run_dir, runtime)
    for entry in unknown:
        out.skipped.append(f"{entry}: not an experiment msr.sweep knows")
        log(f"note: {entry!r} is in the value order but not an experiment msr.sweep knows; skipped")

    def left() -> str:
        return "" if deadline is None else f"[{max(deadline.left(), 0):5.0f} s left] "

    sizes = per_run.analysis_sizes(p.name)
    ck_bytes: dict[str, int] = {}

    def ck(task: Task) -> int:
        return ck_bytes.setdefault(task.cfg.hash(), checkpoint_bytes(task.cfg))

    def started(task: Task) -> bool:
        return (Path(task.folder) / "last.pt").exists()

    missing_data: set[str] = set()
    failed_in_a_row = 0
    waiting, running = list(tasks), {}  # running: key -> Task
    # interrupted runs this command found (their checkpoints travel whether or not they resume here);
    # a run this command interrupts is running until then, and no run starts afterwards
    carried = {id(t) for t in tasks if started(t) and store.get(p.name, t.name, t.cfg.hash_dict()) is None}

    def decide(task: Task, final: bool) -> str:
        """``train``, ``analyse``, ``wait`` (not ``final``: for a run still training or for
        room) or ``skip``; sets ``out.stopped`` when the deadline has passed."""
        if task.name in missing_data:
            return "skip"
        if (Path(task.folder) / DIVERGED).exists():
            out.skipped.append(f"{task.name}/{task.cfg.hash()}: diverged earlier")
            log(f"note: {task.tag} diverged in an earlier command ({Path(task.folder) / DIVERGED}); skipped")
            return "skip"
        if store.get(p.name, task.name, task.cfg.hash_dict()) is not None:
            return "analyse" if per_run.pending(task.name, task.cfg, p.name, store) else "skip"
        if deadline is not None and deadline.left() <= 0:
            out.stopped = out.stopped or f"time budget reached before {task.tag} started"
            return "skip"
        if started(task):
            return "train"  # its checkpoint is here: it travelled, so it fits
        init = task.cfg.init_from
        if init:
            dep = init[len("hash:"):] if init.startswith("hash:") else None
            if not final and any(t.cfg.hash() == dep for t in [*running.values(), *waiting] if t is not task):
                return "wait"  # its start weights come from a run of this command still to finish
            if not _weights_here(init, run_dir):
                out.skipped.append(f"{task.name}/{task.cfg.hash()}: its start weights are missing")
                log(f"note: {task.tag} starts from {init}, whose weights are not here; skipped")
                return "skip"
        if max_checkpoint is not None:
            if ck(task) > max_checkpoint:
                return untravelled(task, final)
            held = sum(ck(t) for t in running.values()) + sum(ck(t) for t in waiting
                                                              if t is not task and id(t) in carried)
            if held + ck(task) > max_checkpoint:
                if not final:
                    return "wait"  # room comes when a run ends
                out.skipped.append(f"{task.name}/{task.cfg.hash()}: checkpoint too large to travel with the "
                                   "interrupted runs'")
                log(f"note: {task.tag}: its checkpoint and those of the interrupted runs ({held / 2**20:.1f} MiB) "
                    f"exceed {max_checkpoint / 2**20:.1f} MiB; skipped")
                return "skip"
        return "train"

    def untravelled(task: Task, final: bool) -> str:
        """A run whose checkpoint could not travel: ``alone`` (nothing else trains beside it)
        where the budget leaves :data:`ESTIMATE_MARGIN` times its estimated time, ``block``
        (nothing after it starts) while a run that gives the estimate trains, else ``skip``."""
        mib = f"{ck(task) / 2**20:.1f} MiB"
        if deadline is None:
            return "alone"  # no budget: it is never interrupted
        window = _alone_deadline(task, deadline).left()
        est = estimate_seconds(task.cfg, task.folder, store.list(p.name, task.name))
        if est is None and not final and any(t.name == task.name for t in running.values()):
            return "block"  # a run of its experiment will give the estimate
        if est is not None and est * ESTIMATE_MARGIN < window:
            if running and not final:
                return "block"  # it trains alone: let the others finish first
            log(f"{left()}{task.tag}: its checkpoint ({mib}) could not travel; training it alone, about "
                f"{est:.0f} s of {window:.0f} s")
            return "alone"
        why = ("its time cannot be estimated yet (no finished run of its experiment)" if est is None else
               f"it needs about {est:.0f} s of training, {max(window, 0):.0f} s are left")
        out.skipped.append(f"{task.name}/{task.cfg.hash()}: checkpoint too large to travel; {why}")
        log(f"note: {task.tag}: its checkpoint ({mib}) is larger than {max_checkpoint / 2**20:.1f} MiB and "
            f"could not travel to the next command, and {why}; skipped")
        return "skip"

    def record(task: Task, train_it: bool, done: TaskDone) -> None:
        from msr.results import atomic_write_bytes

        nonlocal failed_in_a_row
        failed = False

        out.seconds[task.entry] = out.seconds.get(task.entry, 0.0) + done.seconds
        if done.kind in ("BudgetExhausted", "WontFinish"):
            if done.kind == "BudgetExhausted":
                out.stopped = f"{out.stopped}; {done.error}" if out.stopped else done.error
            else:  # it gave up early: the budget is not spent, the others go on
                out.skipped.append(f"{task.name}/{task.cfg.hash()}: {done.error}")
                log(f"{left()}{task.tag}: {done.error}")
            if max_checkpoint is not None and ck(task) > max_checkpoint and done.fraction:
                mark = json.dumps({"elapsed_s": done.elapsed_s, "fraction": done.fraction}).encode()
                atomic_write_bytes(Path(task.folder) / UNFINISHED, lambda f, mark=mark: f.write(mark))
                log(f"note: {task.tag} was stopped {100 * done.fraction:.0f} % through after {done.elapsed_s:.0f} s "
                    f"and its checkpoint cannot travel: a later command starts it again only with about "
                    f"{done.elapsed_s / done.fraction * ESTIMATE_MARGIN:.0f} s of budget")
        elif done.kind == "MissingDataError":
            if task.name not in missing_data:
                missing_data.add(task.name)
                out.skipped.append(f"{task.name}: data missing")
                log(f"note: {task.name}: {done.error}; skipped")
        elif done.kind == "TrainingDiverged":  # marked, so later commands do not spend time on it again
            mark = f"{done.error}\n".encode()
            atomic_write_bytes(Path(task.folder) / DIVERGED, lambda f, mark=mark: f.write(mark))
            out.skipped.append(f"{task.name}/{task.cfg.hash()}: diverged")
            log(f"{left()}{task.tag}: {done.error}")
        elif done.kind is not None:
            out.failed.append(f"{task.name}/{task.cfg.hash()}: {done.kind}: {done.error}")
            log(f"{left()}{task.tag}: FAILED: {done.kind}: {done.error}")
            failed = True
        failed_in_a_row = failed_in_a_row + 1 if failed else 0
        if failed_in_a_row >= FAILURES_IN_A_ROW and not out.stopped:
            out.stopped = (f"{failed_in_a_row} runs failed one after the other (the last: {done.kind}); no run "
                           "starts after them")
        if done.trained:
            out.trained.append(f"{task.name}/{task.cfg.hash()}")
            log(f"{left()}{task.tag}: trained, acc {done.acc:.2f} % ({done.seconds:.1f} s)")
        if done.analysed:
            out.analysed.append(f"{task.name}/{task.cfg.hash()}: {', '.join(done.analysed)}")
        if done.out_of_time and not out.stopped:
            out.stopped = f"time budget reached during the analyses of {task.tag}"
        if on_progress is not None:
            on_progress(out)

    if jobs == 1:
        inputs = None
        for task in tasks:
            waiting.remove(task)
            what = decide(task, final=True)
            if out.stopped:
                break
            if what == "skip":
                continue
            if inputs is None:
                inputs = per_run.Inputs(task.cfg.device)
            task, how = _started_as(task, what, deadline)
            with _every(PROGRESS_EVERY, None if on_progress is None else lambda: on_progress(out)):
                done = run_task(task, p.name, store=store, run_dir=run_dir, sizes=sizes, inputs=inputs, log=log,
                                **how)
            record(task, how["train_it"], done)
            if out.stopped:
                break
    else:
        _run_concurrently(jobs, out, waiting, running, decide, record, p.name, store, run_dir, deadline, sizes,
                          on_progress)
    if out.failed:
        log(f"{len(out.failed)} run(s) failed: " + "; ".join(out.failed))
    if out.stopped:
        log(f"stopped: {out.stopped}")
    else:
        log("nothing pending is left in " + ", ".join(order))
    return out


@contextmanager
def _every(seconds: float, call: Callable[[], None] | None):
    """Inside the block, ``call()`` every ``seconds`` from a background thread (``None``:
    nothing).  :func:`run_pending` with one job trains in its own thread; this gives it
    the packs each minute that ``--jobs`` > 1 makes between its workers' ends.  On leaving,
    the thread is joined (a call in progress finishes first), so no call overlaps what
    comes after the block."""
    if call is None:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(seconds):
            call()

    thread = threading.Thread(target=tick, name="msr-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _alone_deadline(task: Task, deadline):
    """The deadline of a run that trains alone: where it has no analyses, the budget's
    end less :data:`PACK_SECONDS` (nothing runs beside it, so no other run's analyses
    need the reserve either), else the training deadline."""
    from msr import per_run

    if deadline is not None and not per_run.applicable(task.name, task.cfg):
        return deadline.with_reserve()
    return deadline


def _started_as(task: Task, what: str, deadline) -> tuple[Task, dict]:
    """``task`` as ``decide``'s verdict ``what`` starts it, and :func:`run_task`'s arguments.
    A run trains on into the reserve, until :data:`PACK_SECONDS` before the budget's end
    (:meth:`Deadline.with_reserve`): once the deadline has passed no run and no analysis
    starts, so the reserve is for the analyses of the runs that finished before it, and
    a run still training there is stopped with its checkpoint anyway.  One that finishes
    in the reserve leaves its analyses (and its weights, which travel) to the next
    command.  A run trained ``alone`` records that nothing shared the machine with it and,
    under a deadline, must finish (its checkpoint cannot travel), by :func:`_alone_deadline`."""
    if what != "alone":
        return task, dict(train_it=what == "train", must_finish=False, deadline=deadline,
                          train_deadline=None if deadline is None else deadline.with_reserve())
    task = replace(task, cfg=task.cfg.replace(concurrent_runs=1))
    return task, dict(train_it=True, must_finish=deadline is not None, deadline=_alone_deadline(task, deadline))


def _run_concurrently(jobs, out, waiting, running, decide, record, profile, store, run_dir, deadline, sizes,
                      on_progress=None) -> None:
    """:func:`run_pending`'s scheduler for ``jobs`` > 1: up to ``jobs`` tasks in worker
    processes, started in value order as ``decide`` allows; ``running`` maps each future
    to its task while it runs; ``record`` takes each finished task, and ``on_progress``
    the outcome after :data:`PROGRESS_EVERY` seconds in which none finished.  No task
    starts once ``out.stopped`` is set; the running ones finish (at the deadline, with
    checkpoints)."""
    import multiprocessing as mp
    import os
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        modes, alone = {}, set()  # alone: futures of runs nothing else may train beside
        while waiting or running:
            for final in (False, True):  # final: nothing runs, so waiting brings no room and no start weights
                for task in list(waiting):
                    if len(running) >= jobs or out.stopped or alone:
                        break
                    what = decide(task, final)
                    if what == "block":
                        break  # nothing after it starts before it does
                    if what == "wait" or (what == "alone" and running):
                        continue
                    waiting.remove(task)
                    if what == "skip":
                        continue
                    task, how = _started_as(task, what, deadline)
                    try:
                        fut = pool.submit(run_task, task, profile, store=store, run_dir=run_dir, sizes=sizes,
                                          threads=threads, **how)
                    except BrokenProcessPool as err:  # a worker was killed (e.g. out of memory): no new ones start
                        out.stopped = out.stopped or f"a worker process died, no run starts after it ({err})"
                        break
                    running[fut], modes[fut] = task, how["train_it"]
                    if what == "alone":
                        alone.add(fut)
                if running:
                    break
            if out.stopped:
                waiting.clear()
            if not running:
                continue
            finished, _ = wait(list(running), timeout=None if on_progress is None else PROGRESS_EVERY,
                               return_when=FIRST_COMPLETED)
            if not finished:
                on_progress(out)
            for fut in finished:
                task, train_it = running.pop(fut), modes.pop(fut)
                alone.discard(fut)
                try:
                    done = fut.result()
                except Exception as err:  # noqa: BLE001 - a worker died (killed, out of memory): its run keeps its checkpoint
                    done = TaskDone(kind=type(err).__name__, error=f"worker process died: {err}")
                record(task, train_it, done)


__all__ = ["FAILURES_IN_A_ROW", "PROGRESS_EVERY", "BudgetExhausted", "Deadline", "Outcome", "Task", "TaskDone",
           "WontFinish", "checkpoint_bytes", "default_reserve", "experiment_names", "parse_duration", "run_pending",
           "run_task"]
