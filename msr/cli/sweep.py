"""``msr sweep NAME``: train every run of one of the paper's experiments that the results
store lacks, analysing each model as soon as it is trained (:func:`msr.sweep.run_sweep`)."""
from __future__ import annotations

import argparse

from msr.cli._options import add_device, add_profile, add_results, add_runs
from msr.sweep import EXPERIMENTS, SEED_EXTRAS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help=f"one of: {', '.join([*EXPERIMENTS, *SEED_EXTRAS])}")
    add_profile(parser)
    parser.add_argument("--force", action="store_true", help="retrain runs whose result is stored")
    add_device(parser)
    add_results(parser)
    add_runs(parser)
    parser.add_argument("--data-root", default=None, help="where data sets live (default data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                        help="training seeds, each its own stored run (default: the profile's, e.g. 0 1 2)")
    parser.add_argument("--where", nargs="+", default=None, metavar="FIELD=V[,V]",
                        help="only the runs whose config fields have these values, e.g. --where block=ms "
                             "depth=8,14,20 (a slice a CPU can train; results are the experiment's own)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="data-loader processes of each run (default: the profile's; on a machine with few "
                             "cores, 1 leaves the cores to training; the runs' hashes are unchanged)")
    parser.add_argument("--list", action="store_true", help="print the configs and exit")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="train N runs at once in N processes (default 1; msr.jobs)")


def main(args: argparse.Namespace) -> int:
    from msr.jobs import RunsFailed
    from msr.results import ResultsStore, default_root
    from msr.sweep import describe, experiment_configs, parse_where, run_sweep, runtime, select
    from msr.train import TrainingDiverged

    where = parse_where(args.where)
    if args.list:
        for cfg in select(experiment_configs(args.experiment, args.profile, args.seeds), where, args.experiment):
            cfg = cfg.replace(**runtime(args.device, args.data_root, args.workers))
            print(f"{cfg.hash()}  {describe(cfg)}  epochs={cfg.epochs} batch={cfg.batch_size} subset={cfg.subset} "
                  f"workers={cfg.workers}")
        return 0
    store = ResultsStore(args.results or default_root())
    try:  # no --device: each config keeps the profile's device
        run_sweep(args.experiment, args.profile, force=args.force, device=args.device, store=store,
                  run_dir=args.runs, data_root=args.data_root, seeds=args.seeds, jobs=args.jobs,
                  where=where, workers=args.workers)
    except TrainingDiverged as err:
        print(f"msr sweep: {err}", flush=True)
        return 3
    except RunsFailed as err:  # --jobs: a run failed; the others were stored
        print(f"msr sweep: {err}", flush=True)
        return 1
    return 0
