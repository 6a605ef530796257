"""Benchmarks (book chapter 5): ImageNet (Table III) and Table IV's DVS network."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr.chapters._runs import acc_of, primary, sweep_command, train_runs

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 5: ImageNet (Table III) and Table IV's DVS network.  ImageNet and CIFAR10-DVS
    need data we may not have (then: not run, with the command); the fmnist profile's DVS
    run trains on Fashion-MNIST made into event streams by emulated saccades
    (``fashion_mnist_dvs``, :mod:`msr.events`), which ``data`` names."""
    from msr.data import describe_dataset, imagenet_available

    def reason(c, why):  # a run that cannot start here says what it needs, not only that it is missing
        if why == "not computed" and c.dataset == "imagenet" and not imagenet_available(ctx.data_root):
            return "needs ImageNet, which msr does not ship and the data root lacks"
        return why

    out = {}
    for exp in ("imagenet", "dvs"):
        runs = train_runs(ctx, exp, seeds=primary())
        out[exp] = [{"model": c.model, "T": c.T, "dataset": c.dataset, "data": describe_dataset(c.dataset),
                     "result": acc_of(r), "why": reason(c, why), "command": sweep_command(exp, ctx.profile)}
                    for c, r, why in runs]
    return out


def dvs_examples(ctx: ChapterContext, n: int = 4) -> dict | None:
    """A few test samples of the profile's emulated DVS data as event frames (the data the
    ``dvs`` run reads, not a result): emulated here in milliseconds, never stored.  None when
    the profile's DVS data is recorded (CIFAR10-DVS) or its source images are missing."""
    from msr.data import EMULATED_EVENTS, MissingDataError, emulated_examples
    from msr.sweep import experiment_configs

    cfg = experiment_configs("dvs", ctx.profile)[0]
    if cfg.dataset not in EMULATED_EVENTS:
        return None
    try:
        return emulated_examples(cfg.dataset, ctx.data_root, n, cfg.T, seed=cfg.data_seed)
    except MissingDataError:
        return None
