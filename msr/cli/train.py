"""``msr train``: train one model and store its result (flags as in torchvision's
classification reference; ``--recipe`` loads Table VIII / X, the profile's defaults come
over it and every flag overrides both: :func:`msr.recipes.make_config`).

    msr train --recipe table2 --profile fmnist --model cifar_resnet --depth 20 --block ms
    torchrun --nproc_per_node 8 -m msr.cli train --recipe imagenet18_34 --profile paper
"""
from __future__ import annotations

import argparse

from msr.cli._options import add_device, add_profile, add_results, add_runs
from msr.config import COMPILE_MODES
from msr.recipes import list_recipes, make_config


def _opt_float(v: str) -> float | None:
    return None if v.lower() == "none" else float(v)


def _ints(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.replace(",", " ").split()) if v.strip() else ()


#: flag -> (TrainConfig field, type, help)
FLAGS = {
    "--model": ("model", str, "cifar_resnet, imagenet_resnet18/34/104, dvs_resnet20"),
    "--depth": ("depth", int, "cifar_resnet depth 6n+2"),
    "--block": ("block", str, "plain, vanilla, wolif, ms, sr_b, sr_c"),
    "--dataset": ("dataset", str, "fashion_mnist, cifar10, cifar100, imagenet, cifar10_dvs, fashion_mnist_dvs, "
                                  "synthetic_dvs, synthetic"),
    "--T": ("T", int, "timesteps"),
    "--test-T": ("test_T", int, "timesteps at inference (default T)"),
    "--epochs": ("epochs", int, None),
    "--batch-size": ("batch_size", int, "global batch size"),
    "--lr": ("lr", float, None),
    "--lr-scale-batch": ("lr_scale_batch", int, "lr is per this many images (Table X: 256)"),
    "--momentum": ("momentum", float, None),
    "--weight-decay": ("weight_decay", float, None),
    "--schedule": ("schedule", str, "multistep, cosine, constant"),
    "--milestones": ("milestones", _ints, "e.g. 40,60,80"),
    "--lr-factor": ("lr_factor", float, None),
    "--label-smoothing": ("label_smoothing", float, None),
    "--dropout": ("dropout", _opt_float, None),
    "--augment": ("augment", lambda v: tuple(a for a in v.replace(",", " ").split()), "comma list"),
    "--seed": ("seed", int, None),
    "--subset": ("subset", int, "train on the first N images"),
    "--test-subset": ("test_subset", int, "test on the first N images"),
    "--subset-mode": ("subset_mode", str, "first or random"),
    "--norm": ("norm", str, "tdbn or bn"),
    "--gamma1": ("gamma1", _opt_float, "initial alpha of the first BN (Fig. 5)"),
    "--gamma2": ("gamma2", _opt_float, "initial alpha of the second BN (Fig. 5)"),
    "--init-from": ("init_from", str, "weights file or hash:<run> (two-phase training)"),
    "--max-steps-per-epoch": ("max_steps_per_epoch", int, None),
    "--log-every": ("log_every", int, "steps per training-loss curve point"),
    "--data-root": ("data_root", str, "where data sets live (default data)"),
    "--lif-backend": ("lif_backend", str, "reference, cpu, triton, auto"),
    "--workers": ("workers", int, "data loader processes"),
    "--checkpoint-every": ("checkpoint_every", int, "also checkpoint every N steps"),
}
#: TrainConfig fields set by switches rather than FLAGS (default None: not given)
SWITCHES = ("device", "amp", "deterministic", "channels_last", "compile", "compact_spikes", "resident_data",
            "cuda_graph", "weight_decay_all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", default=None, help=f"preset: {', '.join(list_recipes())}")
    add_profile(parser)
    parser.add_argument("--experiment", default="train", help="results sub-folder (default train)")
    parser.add_argument("--force", action="store_true", help="retrain even if the result is stored")
    add_results(parser)
    add_runs(parser)
    add_device(parser)
    parser.add_argument("--no-amp", dest="amp", action="store_false", default=None, help="no bf16 autocast")
    parser.add_argument("--decay-weights-only", dest="weight_decay_all", action="store_false", default=None,
                        help="weight decay on conv and FC weights only (default: every parameter, BN included, "
                             "as the authors' optimizer)")
    parser.add_argument("--deterministic", action="store_true", default=None)
    parser.add_argument("--channels-last", action="store_true", default=None, help="NHWC weights and activations")
    parser.add_argument("--compile", nargs="?", const=True, default=None, choices=(True, *COMPILE_MODES),
                        metavar="MODE", help="torch.compile the training forward; MODE: torch.compile's mode "
                        f"({', '.join(COMPILE_MODES)}; default: its default)")
    parser.add_argument("--compact-spikes", action="store_true", default=None,
                        help="spike-fed convolutions save their input as bits for the backward")
    parser.add_argument("--resident-data", action=argparse.BooleanOptionalAction, default=None,
                        help="hold the data set on the device, augment there (default: on for CUDA where supported)")
    parser.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=None,
                        help="replay the training step as a CUDA graph (default: on for CUDA; ignored on CPU)")
    for flag, (dest, typ, help_text) in FLAGS.items():
        parser.add_argument(flag, dest=dest, type=typ, default=None, help=help_text)


def config_from_args(args: argparse.Namespace):
    """The run's TrainConfig: recipe < profile defaults < the flags given."""
    given = {k: getattr(args, k) for k in (*(dest for dest, _, _ in FLAGS.values()), *SWITCHES)
             if getattr(args, k) is not None}
    return make_config(args.recipe, args.profile, **given)


def main(args: argparse.Namespace) -> int:
    from msr.results import ResultsStore, default_root
    from msr.train import TrainingDiverged, train

    cfg = config_from_args(args)
    store = ResultsStore(args.results or default_root())
    try:
        result = train(cfg, profile=args.profile, experiment=args.experiment, store=store, force=args.force,
                       run_dir=args.runs)
    except TrainingDiverged as err:
        print(f"msr train: {err}", flush=True)
        return 3
    f = result["final"]
    how = "skipped: result already stored (use --force to retrain)" if result.get("skipped") else "trained"
    last = min(5, len(result["epochs"]["test_acc"]))
    print(f"{how}; reported acc {f['reported_acc']:.2f} % (mean of the last {last} "
          f"epochs), best {f['best_acc']:.2f} %, final {f['final_acc']:.2f} %  -> "
          f"{store.path(args.profile, args.experiment, cfg.hash_dict())}")
    return 0
