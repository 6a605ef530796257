"""Concurrent training runs: ``--jobs N`` of ``msr sweep`` and ``msr compute``.

Small networks (the paper's CIFAR-size MS-ResNets at batch 100-128) leave most of a GPU
idle between kernel launches; N processes training N different runs at once fill it.
:func:`run_jobs` hands the runs of one experiment to N worker processes (``spawn``, so
CUDA works in them).  Each worker calls :func:`msr.train.train`, which claims its run
(:func:`msr.runs.claim_run`: no two processes train the same run, also across
commands) and writes its result atomically (:class:`msr.results.ResultsStore`), then
analyses the model (:mod:`msr.per_run`) when asked.  A run that fails is reported as
one line and the others go on; a run whose start weights come from another run of the
same list (``init_from="hash:..."``, two-phase training) starts once that run is stored.
Every run is seeded as it would be alone, so its numbers do not depend on N.

On a CPU each worker gets ``cpu_count // N`` threads.  Budgeted commands (``msr compute
--budget --jobs N``) schedule their runs themselves across the whole value order
(:func:`msr.budget.run_pending`).  A run trained beside others records
``concurrent_runs``: its images/s is a share of the machine.
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class RunsFailed(RuntimeError):
    """Some runs of a ``--jobs`` sweep failed (each was reported); the others are stored."""


@dataclass
class JobResult:
    """One run's outcome: the stored result (``None`` when it failed), the error as one
    line with its type's name in ``kind`` (``MissingDataError``, ``TrainingDiverged``, ...)."""

    cfg: object
    result: dict | None
    error: str | None = None
    kind: str | None = None
    seconds: float = 0.0


def check_jobs(jobs) -> int:
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"--jobs must be an integer >= 1, got {jobs!r}")
    return jobs


def _one(cfg, profile: str, experiment: str, store_root: str, run_dir: str, force: bool, analyse: bool,
         threads: int, quiet: bool):
    """Worker: train (and analyse) one run; exceptions come back as (kind, one line)."""
    import torch

    from msr import per_run
    from msr.results import ResultsStore
    from msr.train import train

    torch.set_num_threads(threads)
    store = ResultsStore(store_root)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            r = train(cfg, profile=profile, experiment=experiment, store=store, force=force, run_dir=run_dir)
            if analyse and per_run.applicable(experiment, cfg):
                per_run.analyse(cfg, experiment, profile, store=store, run_dir=run_dir, force=not r.get("skipped"))
        return r, None, None, time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001 - reported by the parent, the other runs go on
        line = (str(err).splitlines() or [""])[0]
        return None, f"{type(err).__name__}: {line}", type(err).__name__, time.perf_counter() - t0


def _start_hash(cfg) -> str | None:
    init = getattr(cfg, "init_from", None)
    return init[len("hash:"):] if isinstance(init, str) and init.startswith("hash:") else None


def run_jobs(configs, *, profile: str, experiment: str, store_root: str | Path, run_dir: str | Path = "runs",
             jobs: int = 2, force: bool = False, analyse: bool = True, quiet: bool = False,
             on_done: Callable[[int, JobResult], None] | None = None) -> list[JobResult]:
    """Train ``configs`` (``msr.config.TrainConfig``) of ``experiment`` with ``jobs`` worker
    processes; returns one :class:`JobResult` per config, in the configs' order.
    ``on_done(index, job)`` is called in this process as each run ends."""
    check_jobs(jobs)
    configs = list(configs)
    hashes = [c.hash() for c in configs]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    out: list[JobResult | None] = [None] * len(configs)
    waiting = list(range(len(configs)))

    def finish(i: int, job: JobResult) -> None:
        out[i] = job
        if on_done is not None:
            on_done(i, job)

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        running = {}
        while waiting or running:
            for i in list(waiting):
                dep = _start_hash(configs[i])
                if dep in hashes:  # starts from a run of this list: once that one is done
                    j = hashes.index(dep)
                    if out[j] is None:
                        continue
                    if out[j].result is None:
                        waiting.remove(i)
                        finish(i, JobResult(configs[i], None, f"its start weights' run {dep} failed",
                                            "DependencyFailed"))
                        continue
                waiting.remove(i)
                try:
                    running[pool.submit(_one, configs[i], profile, experiment, str(store_root), str(run_dir), force,
                                        analyse, threads, quiet)] = i
                except BrokenProcessPool as err:  # an earlier worker was killed: no new ones start
                    finish(i, JobResult(configs[i], None, f"not started: a worker process died ({err})",
                                        "BrokenProcessPool"))
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                i = running.pop(fut)
                try:
                    r, error, kind, seconds = fut.result()
                except BrokenProcessPool as err:  # a worker was killed: its run keeps its checkpoint
                    r, error, kind, seconds = None, f"worker process died ({err})", "BrokenProcessPool", 0.0
                finish(i, JobResult(configs[i], r, error, kind, seconds))
    return out  # type: ignore[return-value]


__all__ = ["JobResult", "RunsFailed", "check_jobs", "run_jobs"]
