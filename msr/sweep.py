"""The paper's experiments as data: ``EXPERIMENTS[name](profile) -> list[TrainConfig]``.

* ``table2``: plain / vanilla / wolif / ms x depth 8, 14, 20, 32, 44, 56 (Table II, Table VIII first block);
* ``table6``: ms / sr_b / sr_c x depth 32, 44, 56, 110 per data set (Table VI, Table VIII second block);
* ``init``: Fig. 5 (a) accuracy after one epoch for (gamma1, gamma2) pairs, BN and TDBN,
  MS-ResNet-56; (b) training-loss curves of MS-ResNet-104, gamma2 = 1 vs 0;
* ``deep``: MS-ResNet-110 and -482 (Sec. III-D) with the Table VI recipe (Table VIII second block);
* ``ablation``: vanilla and wolif with gamma2 = 0 at the six Table II depths (Table II recipe),
  the initialisation MS-ResNet uses in Table II;
* ``dvs``: MS-ResNet20 on CIFAR10-DVS (Table IV);
* ``imagenet``: MS-ResNet-18 / 34 (Table III, Table X);
* ``two_phase``: T = 1 pretrain, then T = 6 from those weights (Appendix B);
* ``short``: one short MS-ResNet20 run that fits on a CPU (minutes), whose firing rates
  feed the energy (Table V) and firing (Fig. 3) chapters until the long runs exist.

``run_sweep(name, profile)`` trains every config not yet in the results store (one
line per run), analyses each model as soon as it is trained (:mod:`msr.per_run`) and
skips the finished ones; ``msr sweep NAME --profile P`` (:mod:`msr.cli.sweep`).

Seeds: every config is run once per training seed (``TrainConfig.seed``, part of the
hash, so each seed is its own stored run); the profile says how many seeds an experiment
gets (:meth:`msr.profiles.Profile.seeds`), ``--seeds 0 1 2`` chooses them.  The names
``table2_seeds`` / ``table6_seeds`` (:data:`SEED_EXTRAS`) are the profile's seeds after
the first of ``table2`` / ``table6``, stored with them: the budgeted value order
(:mod:`msr.budget`) trains seed 0 of everything first.  Per-run analyses
(:mod:`msr.per_run`) are of seed :data:`PRIMARY_SEED` only.
"""
from __future__ import annotations

import time
from typing import Callable

from msr.config import TrainConfig
from msr.jobs import RunsFailed
from msr.profiles import Profile, get_profile
from msr.recipes import make_config
from msr.results import ResultsStore, default_root
from msr.train import TrainingDiverged, train

TABLE2_BLOCKS = ("plain", "vanilla", "wolif", "ms")
TABLE2_DEPTHS = (8, 14, 20, 32, 44, 56)
TABLE6_BLOCKS = ("ms", "sr_b", "sr_c")
ABLATION_BLOCKS = ("vanilla", "wolif")
TABLE6_DEPTHS = (32, 44, 56, 110)
#: Fig. 5a pairs (gamma1, gamma2): multipliers alpha of the first and second BN (msr.layers.initial_gamma).
FIG5A_PAIRS = ((1.0, 1.0), (1.0, 0.5), (1.0, 0.0), (0.5, 0.5), (0.5, 0.0), (0.0, 0.0))
FIG5A_DEPTH = 56
FIG5B_DEPTH = 104
#: The seed every experiment runs first; the per-run analyses and the chapters that show
#: one model (SSIM, isometry, landscape, firing, energy) use this seed's run.
PRIMARY_SEED = 0
#: value-order names for the seeds after the first of an experiment -> that experiment
SEED_EXTRAS = {"table2_seeds": "table2", "table6_seeds": "table6"}


def table2(profile) -> list[TrainConfig]:
    """Table II's runs in the order they train (:func:`table2_order`)."""
    p = get_profile(profile)
    depths = p.settings("table2").get("depths", TABLE2_DEPTHS)
    return [make_config("table2", p, "table2", model="cifar_resnet", block=b, depth=d)
            for b, d in table2_order(depths)]


def table2_order(depths) -> list[tuple[str, int]]:
    """(block, depth) of Table II's runs, most telling first, so that a budget that ends
    after any of them leaves the most the book can show: MS-ResNet and the vanilla ResNet
    side by side (the contrast of every per-run analysis, Fig. 2b and Fig. 4, and of two
    of the three Table II claims), the deepest depth first (Fig. 2b is drawn at 56, and it
    is where the two part), then from the shallowest up (three depths let the claims be
    judged); then PlainNet from the shallowest up (its deepest runs, where the paper's
    failed, tell least); W/O interblock LIF, on which no claim rests, last."""
    up = sorted(depths)
    pairs = [(b, d) for d in up[-1:] + up[:-1] for b in ("ms", "vanilla")]
    rest = [(b, d) for b in TABLE2_BLOCKS if b not in ("ms", "vanilla") for d in up]
    return pairs + rest


def table6(profile) -> list[TrainConfig]:
    p = get_profile(profile)
    s = p.settings("table6")
    return [make_config("table6", p, "table6", model="cifar_resnet", dataset=ds, block=b, depth=d)
            for ds in s.get("datasets", ("cifar10", "cifar100"))
            for d in s.get("depths", TABLE6_DEPTHS) for b in TABLE6_BLOCKS]


def init(profile) -> list[TrainConfig]:
    """Fig. 5: (a) one epoch per (norm, gamma1, gamma2) at depth 56; (b) depth 104,
    gamma2 = 1 (standard initialisation) vs 0, loss curve over several epochs.

    Fig. 5b's curves are the first 10 epochs of a 100-epoch run of the Table VI recipe
    (Table VIII), over which its cosine schedule keeps the lr within 2.5 % of 0.1.  A
    cosine laid over the plotted epochs alone would anneal it tenfold inside the window
    and lower every curve's end for that reason, so these runs train at the recipe's
    initial lr throughout (``schedule="constant"``).  Fig. 5a's single epoch is at that
    lr already."""
    p = get_profile(profile)
    s = p.settings("init")
    depth_a = s.get("depths", (FIG5A_DEPTH,))[0]
    out = [make_config("table6", p, "init", model="cifar_resnet", block="ms", depth=depth_a, norm=n,
                       gamma1=g1, gamma2=g2)
           for n in ("bn", "tdbn") for g1, g2 in FIG5A_PAIRS]
    out += [make_config("table6", p, "init", model="cifar_resnet", block="ms", depth=FIG5B_DEPTH, norm=n,
                        gamma1=1.0, gamma2=g2, epochs=s.get("fig5b_epochs", 10), schedule="constant")
            for n in ("bn", "tdbn") for g2 in (1.0, 0.0)]
    return out


def deep(profile) -> list[TrainConfig]:
    """MS-ResNet-110 and -482 on CIFAR-10 (Sec. III-D), with the Table VI recipe
    (Table VIII, second block: cosine, weight decay 1e-4, rotation and flip).

    Sec. III-D gives no recipe for these depths; Appendix B-A says that "the data
    pre-processing and weight decay are strengthened ... due to great depths of models",
    and the 91.7 % of MS-ResNet110 is Table VI's SR-A number at depth 110 (91.72 %), so
    these runs belong with Table VI's recipe, not Table II's."""
    p = get_profile(profile)
    return [make_config("table6", p, "deep", model="cifar_resnet", block="ms", depth=d)
            for d in p.settings("deep").get("depths", (110, 482))]


def ablation(profile) -> list[TrainConfig]:
    """Table II's initialisation, ablated: vanilla and wolif with gamma2 = 0 (the second
    BN of each residual path starts at zero, as MS-ResNet's does) at the six Table II
    depths, with the Table II recipe and the profile's ``table2`` settings, so each run
    differs from its Table II twin (standard TDBN, gamma2 = 1) in gamma2 only.

    The paper does not say how its Table II vanilla and wolif runs were initialised; msr's
    Table II uses standard TDBN for them and gamma2 = 0 for MS (Sec. V-B).  Note on
    vanilla: with gamma2 = 0 an identity block hands its input spikes (0 or 1) unchanged
    to the interblock LIF, whose membrane is then exactly 0 or 1, the two edges where the
    surrogate window |u - V_th| < a/2 is closed (strict, as in the authors' release), so
    no gradient crosses such a block and the network behind it cannot learn."""
    p = get_profile(profile)
    depths = p.settings("table2").get("depths", TABLE2_DEPTHS)
    return [make_config("table2", p, "table2", model="cifar_resnet", block=b, depth=d, gamma2=0.0)
            for b in ABLATION_BLOCKS for d in depths]


def dvs(profile) -> list[TrainConfig]:
    p = get_profile(profile)
    return [make_config("dvs", p, "dvs", model="dvs_resnet20", block="ms")]


def imagenet(profile) -> list[TrainConfig]:
    p = get_profile(profile)
    return [make_config("imagenet18_34", p, "imagenet", model=m, block="ms")
            for m in ("imagenet_resnet18", "imagenet_resnet34")]


def two_phase(profile) -> list[TrainConfig]:
    """Appendix B: phase 1 at T = 1, phase 2 at T = 6 initialised from phase 1's final
    weights (``init_from="hash:..."``); phase 2's result also holds the T = 1 weights'
    accuracy at T = 6 before finetuning (``final.init_acc``).  Paper profile:
    ImageNet ResNet-104; others: the profile's data set with cifar_resnet."""
    p = get_profile(profile)
    s = p.settings("two_phase")
    if s.get("dataset") == "imagenet":
        first = make_config("imagenet104_pretrain", p, "two_phase")
        second = make_config("imagenet104_finetune", p, "two_phase", init_from=f"hash:{first.hash()}")
        return [first, second]
    out = []
    for d in s.get("depths", (56,)):
        first = make_config("table6", p, "two_phase", model="cifar_resnet", block="ms", depth=d, T=1,
                            label_smoothing=0.1)
        second = make_config("table6", p, "two_phase", model="cifar_resnet", block="ms", depth=d, T=6, lr=0.05,
                             weight_decay=1e-5, label_smoothing=0.1, epochs=max(1, first.epochs // 2),
                             init_from=f"hash:{first.hash()}")
        out += [first, second]
    return out


def short(profile) -> list[TrainConfig]:
    """MS-ResNet20 with the Table II recipe on the profile's budget for ``short``
    (fmnist: one epoch of 5,000 images, minutes on two CPU cores)."""
    p = get_profile(profile)
    return [make_config("table2", p, "short", model="cifar_resnet", block="ms", depth=20)]


#: experiment name -> builder(profile) -> list of configs
EXPERIMENTS: dict[str, Callable[[str | Profile], list[TrainConfig]]] = {
    "table2": table2, "table6": table6, "init": init, "deep": deep, "dvs": dvs, "imagenet": imagenet,
    "two_phase": two_phase, "short": short, "ablation": ablation,
}


def experiment_of(name: str) -> str:
    """The experiment (results-store folder) a sweep name trains: ``table2_seeds`` -> ``table2``."""
    return SEED_EXTRAS.get(name, name)


def default_seeds(name: str, profile: str | Profile) -> tuple[int, ...]:
    """The profile's seeds of ``name``; for a :data:`SEED_EXTRAS` name, those after the first."""
    p = get_profile(profile)
    seeds = p.seeds(experiment_of(name))
    return seeds[1:] if name in SEED_EXTRAS else seeds


def check_seeds(seeds) -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct non-negative integers, in the order given."""
    out = tuple(dict.fromkeys(seeds))
    if not out or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in out):
        raise ValueError(f"seeds must be non-negative integers, got {list(seeds)!r}; valid: e.g. --seeds 0 1 2")
    return out


def experiment_configs(name: str, profile: str | Profile, seeds=None) -> list[TrainConfig]:
    """Every config of ``name`` for each seed of ``seeds`` (default: :func:`default_seeds`),
    seed by seed: all configs of the first seed, then of the next."""
    base = experiment_of(name)
    if base not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join([*EXPERIMENTS, *SEED_EXTRAS])}")
    p = get_profile(profile)
    seeds = default_seeds(name, p) if seeds is None else check_seeds(seeds)
    if not seeds:  # e.g. table2_seeds in a profile that gives table2 one seed
        return []
    configs = EXPERIMENTS[base](p)
    if seeds == (PRIMARY_SEED,):
        return configs
    if any(c.init_from for c in configs):
        raise ValueError(f"{base} links its runs by hash (init_from) and runs seed {PRIMARY_SEED} only; "
                         f"valid: --seeds {PRIMARY_SEED}")
    return [c.replace(seed=s) for s in seeds for c in configs]


def parse_where(items) -> dict[str, tuple[str, ...]]:
    """``["block=ms", "depth=8,14"]`` (``--where``) as ``{"block": ("ms",), "depth": ("8", "14")}``."""
    out: dict[str, tuple[str, ...]] = {}
    for item in items or ():
        field, sep, values = item.partition("=")
        if not sep or not field or not values:
            raise ValueError(f"--where takes FIELD=VALUE[,VALUE...], got {item!r}; e.g. --where block=ms depth=8,14")
        out[field.strip()] = out.get(field.strip(), ()) + tuple(v.strip() for v in values.split(","))
    return out


def _read(text: str, like):
    """``text`` as a value of the type of ``like`` (a config field's value): ``0`` is 0.0 for
    a float field, ``none`` is None, ``true`` True for a bool; text that does not read stays text."""
    if text.lower() == "none":
        return None
    if isinstance(like, bool):
        return {"true": True, "false": False}.get(text.lower(), text)
    if isinstance(like, (int, float)):
        try:
            return type(like)(text)
        except ValueError:
            return text
    return text


def _matches(value, wanted: tuple[str, ...]) -> bool:
    """Whether a config field's ``value`` is one of ``wanted`` (each read by :func:`_read`)."""
    return any(_read(text, value) == value for text in wanted)


def select(configs: list[TrainConfig], where: dict[str, tuple[str, ...]], name: str = "the experiment") \
        -> list[TrainConfig]:
    """The configs of ``configs`` whose every field named in ``where`` has one of its values
    (``msr sweep table2 --where block=ms depth=8,14,20``: a slice of an experiment, e.g. the
    runs a CPU can train); each config keeps its hash, so the slice's results are the
    experiment's.  An unknown field, or a value no config has, is an error naming the valid ones."""
    from dataclasses import fields

    valid = [f.name for f in fields(TrainConfig)]
    for field, wanted in where.items():
        if field not in valid:
            raise ValueError(f"--where: unknown config field {field!r}; valid: {', '.join(valid)}")
        have = {getattr(c, field) for c in configs}
        try:
            have = sorted(have)
        except TypeError:  # e.g. None beside numbers
            have = sorted(have, key=str)
        missing = [w for w in wanted if not any(_matches(h, (w,)) for h in have)]
        if missing:
            raise ValueError(f"--where: no run of {name} has {field}={','.join(missing)}; "
                             f"valid: {', '.join(map(str, have))}")
    return [c for c in configs if all(_matches(getattr(c, f), w) for f, w in where.items())]

def describe(cfg: TrainConfig) -> str:
    parts = [cfg.model.replace("cifar_resnet", "resnet") + (str(cfg.depth) if cfg.model == "cifar_resnet" else ""),
             cfg.block, cfg.dataset, f"T={cfg.T}"]
    if cfg.seed != PRIMARY_SEED:
        parts.append(f"seed {cfg.seed}")
    if cfg.gamma1 is not None or cfg.gamma2 is not None:
        parts.append(f"{cfg.norm} g=({cfg.gamma1},{cfg.gamma2})")
    return " ".join(parts)


def runtime(device: str | None = None, data_root: str | None = None, workers: int | None = None) -> dict:
    """The runtime fields a sweep's command line replaces (those given): where a run trains and
    reads its data, not what it computes, so the runs' hashes are unchanged."""
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be 0 (load in the training process) or more, got {workers}")
    given = {"device": device, "data_root": data_root, "workers": workers}
    return {k: v for k, v in given.items() if v is not None}


def run_sweep(name: str, profile: str | Profile, force: bool = False, device: str | None = None,
              store: ResultsStore | None = None, run_dir: str = "runs", data_root: str | None = None,
              seeds=None, jobs: int = 1, where: dict | None = None, workers: int | None = None) -> list[dict]:
    """Train every config of experiment ``name`` under ``profile`` for each of ``seeds``
    (default: the profile's; ``where``: only the configs :func:`select` keeps; ``device``,
    ``data_root`` and ``workers`` replace the profile's, :func:`runtime`) and analyse
    each trained model at once (:mod:`msr.per_run`);
    finished runs are skipped.  ``jobs`` > 1: that many runs at once in worker processes
    (:mod:`msr.jobs`); a run that fails is reported and the others finish, then the first
    failure is raised (``TrainingDiverged`` as such)."""
    from msr import per_run
    from msr.jobs import check_jobs

    p = get_profile(profile)
    configs = select(experiment_configs(name, p, seeds), where or {}, name)
    name = experiment_of(name)
    configs = [c.replace(**runtime(device, data_root, workers)) for c in configs]
    store = store or ResultsStore(default_root())
    if check_jobs(jobs) > 1:
        return _run_sweep_jobs(name, p, configs, force, store, run_dir, jobs)
    out, inputs = [], None
    for i, cfg in enumerate(configs, 1):
        t0 = time.perf_counter()
        result = train(cfg, profile=p.name, experiment=name, store=store, force=force, run_dir=run_dir)
        if per_run.applicable(name, cfg):
            inputs = inputs or per_run.Inputs(cfg.device)
            per_run.analyse(cfg, name, p.name, store=store, run_dir=run_dir, force=not result.get("skipped"),
                            inputs=inputs)
        acc = result["final"]["reported_acc"]
        how = "skipped (stored)" if result.get("skipped") else "trained"
        print(f"[{i}/{len(configs)}] {name} {describe(cfg)}: {how}, acc {acc:.2f} %, "
              f"{time.perf_counter() - t0:.1f} s  ({cfg.hash()})", flush=True)
        out.append(result)
    return out


def _run_sweep_jobs(name, p, configs, force, store, run_dir, jobs) -> list[dict]:
    from msr.jobs import run_jobs

    def line(i, job):
        cfg = job.cfg
        if job.result is None:
            print(f"[{i + 1}/{len(configs)}] {name} {describe(cfg)}: FAILED: {job.error}  ({cfg.hash()})", flush=True)
            return
        how = "skipped (stored)" if job.result.get("skipped") else "trained"
        acc = job.result["final"]["reported_acc"]
        print(f"[{i + 1}/{len(configs)}] {name} {describe(cfg)}: {how}, acc {acc:.2f} %, "
              f"{job.seconds:.1f} s  ({cfg.hash()})", flush=True)

    configs = [c.replace(progress=False) for c in configs]  # no progress bars from N processes at once
    done = run_jobs(configs, profile=p.name, experiment=name, store_root=store.root, run_dir=run_dir, jobs=jobs,
                    force=force, on_done=line)
    failed = [j for j in done if j.result is None]
    if failed:
        print(f"{name}: {len(failed)} of {len(done)} runs failed; the others are stored", flush=True)
        first = failed[0]
        err = TrainingDiverged if first.kind == "TrainingDiverged" else RunsFailed
        raise err(f"{describe(first.cfg)} ({first.cfg.hash()}): {first.error}")
    return [j.result for j in done]
