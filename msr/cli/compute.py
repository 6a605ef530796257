"""``msr compute NAMES``: the compute step of book chapters without notebooks
(:mod:`msr.chapters`), e.g. on a GPU machine; with ``--budget``, the pending experiments of
the profile's value order until a deadline, then packed (:mod:`msr.budget`, :mod:`msr.pack`)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from msr.chapters import CHAPTER_ORDER
from msr.cli._options import add_device, add_profile, add_runs, device_of


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="+", metavar="NAME",
                   help=f"chapters to compute, or 'all' ({', '.join(CHAPTER_ORDER)})")
    add_profile(p)
    add_device(p)
    p.add_argument("--recompute", action="store_true", help="ignore stored results and compute again")
    p.add_argument("--data-root", default="data", help="where data sets live or are downloaded to")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                   help="training seeds of Table II, VI and the deep runs, each its own stored run "
                        "(default: the profile's; not with --budget, which follows the profile's value order)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N runs at once in N processes (default 1; msr.jobs, with --budget msr.budget)")
    g = p.add_argument_group("budgeted commands (msr.budget): NAMES are then experiments of the value order, or all")
    g.add_argument("--budget", default=None, metavar="TIME",
                   help="train and analyse what is pending in value order, stop cleanly within TIME (e.g. 9m)")
    g.add_argument("--reserve", default=None, metavar="TIME",
                   help="last part of the budget, in which no run and no analysis starts: for the analyses "
                        "of the runs that finished before it (default: a quarter, at most 90s); runs in progress "
                        "train on until 15s before the end")
    g.add_argument("--pack-to", default=None, metavar="DIR",
                   help="pack new results and needed checkpoints into DIR (msr.pack; <= 8 files) after each "
                        "run, every minute in which none ends and at the end, so that DIR always holds a whole pack")
    g.add_argument("--pack-after", default=None, metavar="FILE",
                   help="pack only once FILE exists (scripts/gpu_run.sh: the self-check of the fast paths has "
                        "passed); until then no pack is written")
    add_runs(g)
    g.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=None,
                   help="replay training steps as CUDA graphs (default: on for CUDA)")
    g.add_argument("--resident-data", action=argparse.BooleanOptionalAction, default=None,
                   help="hold the data set on the GPU, augment there (default: on for CUDA where supported)")
    g.add_argument("--lif-backend", default=None, metavar="NAME",
                   help="LIF implementation of every run: reference, cpu, triton or auto (default: the profile's)")
    g.add_argument("--max-checkpoint", default=None, metavar="SIZE",
                   help="keep the checkpoints a stop could leave (runs training at once, interrupted runs) "
                        "within SIZE (e.g. 30MiB), so that they can travel to the next command")


def main(args: argparse.Namespace) -> int:
    from msr.jobs import check_jobs

    if args.budget is not None:
        if args.seeds is not None:
            raise ValueError("--seeds is not for --budget: a budgeted command trains the profile's seeds "
                             "in value order (table2_seeds, table6_seeds)")
        check_jobs(args.jobs)
        if args.lif_backend is not None:
            from msr.neuron import check_backend

            check_backend(args.lif_backend)
        return _budgeted(args)
    given = [f"--{k.replace('_', '-')}" for k in ("pack_to", "pack_after", "reserve", "max_checkpoint", "cuda_graph",
                                                    "resident_data", "lif_backend") if getattr(args, k) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: only with --budget")
    return _chapters(args)


def _chapters(args: argparse.Namespace) -> int:
    """Each named chapter's compute step; one line per chapter, a failing one does not stop the others."""
    from msr.book import check_parameters
    from msr.chapters import CHAPTERS, run
    from msr.results import check_writable_dir, default_root

    names = list(CHAPTER_ORDER) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in CHAPTERS]
    if unknown:
        raise ValueError(f"unknown chapter(s) {', '.join(unknown)}; valid: {', '.join(CHAPTER_ORDER)} or all")
    params = check_parameters({"profile": args.profile, "device": device_of(args), "recompute": args.recompute,
                               "data_root": args.data_root})
    check_writable_dir(default_root(), "results folder ($MSR_RESULTS)")  # before hours of work
    check_writable_dir("runs", "runs folder")
    seeds = None
    if args.seeds is not None:
        from msr.sweep import check_seeds

        seeds = check_seeds(args.seeds)
    failed = []
    for name in names:
        start = time.perf_counter()
        try:
            out = run(name, params, seeds=seeds, jobs=args.jobs)
            status = "unavailable: " + out["unavailable"] if "unavailable" in out else "ok"
        except Exception as err:  # noqa: BLE001 - one chapter failing does not stop the others
            status = f"FAILED: {type(err).__name__}: {err}"
            failed.append(name)
        print(f"[{name}] {status} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


def interim_packer(out_dir, profile: str, store_root, run_dir, note, after=None):
    """``on_progress`` of a budgeted command with ``--pack-to``: after each run (and each
    minute in which none ends), the pack so far, so that a command killed before its end
    (a limit shorter than its budget) still hands back every run it finished and the last
    epoch's checkpoints of those it was training.  ``note(outcome)``: the manifest's
    ``run``.  Its summary line (``pack (so far): ...``) is printed where an archive
    changed since the last pack; the command's last pack lists the checkpoints and warns
    of those left out.  A pack that fails leaves the previous one standing.  ``after``: a
    file; while it does not exist, no pack is written (:func:`_may_pack`)."""
    from msr import pack

    last = {"archives": None}  # the sha256 of each archive of the last pack so far

    def interim_pack(outcome) -> None:
        if not _may_pack(after):
            return
        lines = []
        try:
            m = pack.pack(out_dir, profile, store_root=store_root, run_dir=run_dir, note=note(outcome), quiet=True,
                          log=lines.append)
        except Exception as err:  # noqa: BLE001 - the previous pack stands; the final pack comes at the end
            print(f"pack (so far): not written ({type(err).__name__}: {err}); the previous one stands", flush=True)
            return
        archives = [a["sha256"] for a in m["archives"]]
        if archives != last["archives"]:
            last["archives"] = archives
            for line in lines:
                print(line.replace("pack:", "pack (so far):", 1), flush=True)

    return interim_pack


def _may_pack(after) -> bool:
    """True where ``after`` (``--pack-after``) is None or exists."""
    return after is None or Path(after).exists()


def _budgeted(args: argparse.Namespace) -> int:
    """``--budget TIME [--reserve TIME] [--pack-to DIR]``: see :mod:`msr.budget`."""
    from msr import pack
    from msr.budget import PACK_SECONDS, Deadline, default_reserve, experiment_names, parse_duration, run_pending
    from msr.profiles import get_profile
    from msr.results import ResultsStore, default_root

    p = get_profile(args.profile)
    budget = parse_duration(args.budget)
    reserve = parse_duration(args.reserve) if args.reserve is not None else default_reserve(budget)
    if reserve > budget:
        raise ValueError(f"--reserve ({reserve:.0f} s) must not exceed --budget ({budget:.0f} s)")
    names = experiment_names(args.names, p)
    store = ResultsStore(default_root())
    pack.record_baseline(p.name, store.root, args.runs)
    t0 = time.monotonic()
    deadline = Deadline(t0 + budget - reserve, reserve=reserve)
    print(f"msr compute: profile {p.name}, budget {budget:.0f} s, no run or analysis starts in its last "
          f"{reserve:.0f} s, training stops {PACK_SECONDS:.0f} s before it ends; "
          f"{args.jobs} run(s) at once; order: {', '.join(names)}", flush=True)
    max_ck = None if args.max_checkpoint is None else pack.parse_size(args.max_checkpoint)
    switches = {k: getattr(args, k) for k in ("cuda_graph", "resident_data", "lif_backend")
                if getattr(args, k) is not None}

    def note(outcome, interim: bool) -> dict:
        return {**outcome.as_dict(), "names": names, "budget_s": budget, "reserve_s": reserve, "jobs": args.jobs,
                "switches": switches, "elapsed_s": time.monotonic() - t0, "interim": interim}

    if args.pack_to and not _may_pack(args.pack_after):
        print(f"msr compute: no pack until {args.pack_after} exists (the self-check of the fast paths)", flush=True)
    progress = None if not args.pack_to else interim_packer(args.pack_to, p.name, store.root, args.runs,
                                                             lambda outcome: note(outcome, True), args.pack_after)
    outcome = run_pending(names, p, deadline=deadline, store=store, run_dir=args.runs, device=device_of(args),
                          data_root=args.data_root, max_checkpoint=max_ck, jobs=args.jobs, switches=switches,
                          on_progress=progress, log=lambda *a: print(*a, flush=True))
    left_out = []
    if args.pack_to and _may_pack(args.pack_after):
        left_out = pack.pack(args.pack_to, p.name, store_root=store.root, run_dir=args.runs,
                             note=note(outcome, False))["left_out"]
    elif args.pack_to:
        print(f"msr compute: not packed: {args.pack_after} does not exist yet", flush=True)
    print(f"msr compute: {'stopped early' if outcome.stopped else 'all done'} after {time.monotonic() - t0:.0f} s "
          f"of {budget:.0f} s: {len(outcome.trained)} runs trained, {len(outcome.analysed)} analysed"
          + (f", {len(outcome.failed)} FAILED" if outcome.failed else ""), flush=True)
    return 1 if left_out or outcome.failed else 0
