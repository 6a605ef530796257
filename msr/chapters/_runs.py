"""Shared run helpers of the chapters: the training runs of an experiment (trained
unless stored, then analysed at once), their per-seed summaries, the per-run analyses
of chosen runs, and the trained models the energy and firing chapters measure."""
from __future__ import annotations

import contextlib
import io
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def sweep_command(experiment: str, profile: str) -> str:
    return f"msr sweep {experiment} --profile {profile} --device cuda"


def primary() -> tuple[int]:
    """The seed of the runs a chapter shows one model of (:data:`msr.sweep.PRIMARY_SEED`)."""
    from msr.sweep import PRIMARY_SEED

    return (PRIMARY_SEED,)


def recipe_base(runs) -> Any:
    """Of Table II's configs ``runs`` (``[(config, ...)]``), the first of its grid
    (PlainNet at the shallowest depth): the recipe that the networks a chapter builds
    untrained share (they set block and depth themselves), so that the key of such an
    item stays the same whatever order the runs train in (:func:`msr.sweep.table2_order`)."""
    from msr.sweep import TABLE2_BLOCKS

    return min((r[0] for r in runs), key=lambda c: (TABLE2_BLOCKS.index(c.block), c.depth))


def stored_seeds(ctx: ChapterContext, experiment: str) -> set[int]:
    """The training seeds of the results ``experiment`` holds in the store."""
    folder = ctx.store.root / ctx.profile / experiment
    if not folder.is_dir():
        return set()
    return {int((r.get("config") or {}).get("seed", 0)) for r in ctx.store.list(ctx.profile, experiment)}


def train_runs(ctx: ChapterContext, experiment: str, seeds=None) -> list[tuple[Any, dict | None, str | None]]:
    """``[(config, stored result or None, why not)]`` for every run of ``experiment``
    (``msr.sweep.EXPERIMENTS``) and every seed of ``seeds`` (default: ``ctx.seeds``, else
    the profile's; in render-only mode also every other seed the store holds, whose
    absence is not reported): trained unless stored (or ``recompute``), then analysed
    at once (:mod:`msr.per_run`); in render-only mode only read.  A run whose data set
    is missing is reported, not raised."""
    from msr import per_run
    from msr.data import MissingDataError
    from msr.sweep import check_seeds, default_seeds, experiment_configs
    from msr.train import train

    out, trained, start = [], 0, time.perf_counter()
    inputs = None
    planned = check_seeds(seeds or ctx.seeds or default_seeds(experiment, ctx.profile))
    extra = (tuple(sorted(stored_seeds(ctx, experiment) - set(planned)))
             if ctx.render_only and seeds is None and ctx.seeds is None else ())
    if ctx.jobs > 1 and not ctx.render_only:
        return _train_runs_jobs(ctx, experiment, planned)
    for cfg in experiment_configs(experiment, ctx.profile, planned + extra):
        cfg = cfg.replace(device=ctx.device, data_root=ctx.data_root, progress=False)
        if ctx.render_only:
            r = ctx.store.get(ctx.profile, experiment, cfg.hash_dict())
            if r is not None or cfg.seed in planned:
                out.append((cfg, r, None if r else "not computed"))
            continue
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log) if ctx.quiet else contextlib.nullcontext():
                r = train(cfg, profile=ctx.profile, experiment=experiment, store=ctx.store, force=ctx.recompute)
                if per_run.applicable(experiment, cfg):
                    inputs = inputs or per_run.Inputs(ctx.device)
                    per_run.analyse(cfg, experiment, ctx.profile, store=ctx.store, device=ctx.device,
                                    force=not r.get("skipped"), inputs=inputs)
            trained += not r.get("skipped")
            out.append((cfg, r, None))
        except MissingDataError as err:
            out.append((cfg, None, f"data missing: {str(err).splitlines()[0]}"))
    if not ctx.render_only and ctx.quiet:
        done = sum(r is not None for _, r, _ in out)
        print(f"{experiment}: {len(out)} runs, {trained} trained now, {done - trained} read from the store, "
              f"{len(out) - done} not run ({time.perf_counter() - start:.0f} s)")
    return out


def _train_runs_jobs(ctx: ChapterContext, experiment: str, seeds) -> list[tuple[Any, dict | None, str | None]]:
    """:func:`train_runs` with ``ctx.jobs`` worker processes (:mod:`msr.jobs`): a run whose
    data set is missing is reported; any other failure is raised once all runs ended."""
    from msr.jobs import RunsFailed, run_jobs
    from msr.sweep import experiment_configs

    start = time.perf_counter()
    configs = [c.replace(device=ctx.device, data_root=ctx.data_root, progress=False)
               for c in experiment_configs(experiment, ctx.profile, seeds)]
    done = run_jobs(configs, profile=ctx.profile, experiment=experiment, store_root=ctx.store.root, jobs=ctx.jobs,
                    force=ctx.recompute, quiet=ctx.quiet)
    failed = [j for j in done if j.result is None and j.kind != "MissingDataError"]
    if failed:
        raise RunsFailed(f"{len(failed)} of {len(done)} {experiment} runs failed, first {failed[0].cfg.hash()}: "
                         f"{failed[0].error}")
    out = [(j.cfg, j.result, None if j.result else f"data missing: {j.error.split(': ', 1)[-1]}") for j in done]
    if ctx.quiet:
        trained = sum(bool(j.result) and not j.result.get("skipped") for j in done)
        stored = sum(r is not None for _, r, _ in out)
        print(f"{experiment}: {len(out)} runs, {trained} trained now ({ctx.jobs} at once), {stored - trained} read "
              f"from the store, {len(out) - stored} not run ({time.perf_counter() - start:.0f} s)")
    return out


def by(runs, *keys) -> dict:
    """``{config attributes keys: (config, stored result or None)}`` of :func:`train_runs`' runs."""
    return {tuple(getattr(c, k) for k in keys) if len(keys) > 1 else getattr(c, keys[0]): (c, r)
            for c, r, _ in runs}


def acc_of(r: dict | None) -> dict | None:
    """The accuracy, curve and provenance of a stored training result (None: not stored)."""
    if not r:
        return None
    return {"acc": r["final"]["reported_acc"], "provenance": r.get("provenance"), "dataset": r["config"]["dataset"],
            "hash": r.get("hash"), "curve": r.get("steps"), "epochs": r.get("epochs"), "final": r["final"]}


def spread(values) -> dict:
    """``{"acc": mean, "std": sample std (None with one value), "n", "accs"}`` of per-seed accuracies."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("spread of no values; valid: at least one accuracy")
    return {"acc": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else None, "n": len(v),
            "accs": v}


def seed_summary(runs, key: Callable) -> dict:
    """``{key(config): summary or None}`` over ``runs`` (``[(config, result or None, why)]``
    of :func:`train_runs`), grouping the seeds of one config (``key`` leaves the seed out):
    the first seed's :func:`acc_of` with ``acc`` the mean over the seeds stored, ``std``
    (None for one seed), ``n``, ``accs``, ``seeds`` and ``planned`` (how many were asked
    for); None when no seed of the config is stored."""
    groups: dict = {}
    for c, r, _ in runs:
        groups.setdefault(key(c), []).append((c.seed, r))
    out = {}
    for k, items in groups.items():
        done = sorted(((seed, r) for seed, r in items if r), key=lambda sr: sr[0])
        if not done:
            out[k] = None
            continue
        out[k] = {**acc_of(done[0][1]), **spread([r["final"]["reported_acc"] for _, r in done]),
                  "seeds": [seed for seed, _ in done], "planned": len(items),
                  "hashes": [r.get("hash") for _, r in done]}
    return out


def trained_model(ctx: ChapterContext, cfg, experiment: str):
    """The model of a finished run with its weights (``runs/``).  Weights not on this
    machine raise :class:`msr.train.WeightsNotFound`; weights present but unreadable (or
    of another model) raise :class:`msr.results.CheckpointError` naming the file."""
    from msr.train import load_trained

    return load_trained(cfg, profile=ctx.profile, experiment=experiment, device="cpu")


def initial_model(cfg):
    """The untrained network a run of ``cfg`` starts from: its seed's initial weights
    (what the chapters measure at initialisation)."""
    import torch

    from msr.train import build_model, model_info

    torch.manual_seed(cfg.seed)
    return build_model(cfg, model_info(cfg))


def test_batch(cfg, n: int, train_split: bool = False):
    """The first ``n`` test (or training) samples of ``cfg``'s data set as ``(x, y)``,
    model-ready, with the test transform (the training normalisation, no random
    augmentation): :func:`msr.per_run.analysis_batch`, the inputs of every analysis."""
    from msr.per_run import analysis_batch

    return analysis_batch(cfg, n, train_split)


def per_run_items(ctx: ChapterContext, kind: str, chosen: dict, experiment: str = "table2") -> dict:
    """``{label: (stored per-run item, arrays)}`` of analysis ``kind`` (:mod:`msr.per_run`)
    for the runs ``chosen`` (``{label: (config, stored result or None)}``) that have one."""
    from msr import per_run

    out = {}
    for label, (cfg, r) in chosen.items():
        found = per_run.result(ctx, kind, experiment, cfg) if r is not None else None
        if found is not None:
            out[label] = found
    return out


def measured_models(ctx: ChapterContext) -> list[tuple[str, Any, str, dict | None]]:
    """(label, config, experiment, stored result) of the trained MS models we can measure:
    the trained MS models of Table II, deepest first (:func:`measured_items` keeps the
    deepest that has the analysis), the CPU-sized ``short`` run (trained here when
    computing), MS-ResNet20 on DVS and the ImageNet models."""
    ro = ctx.reader()
    t2 = [(c, r) for c, r, _ in train_runs(ro, "table2", seeds=primary()) if c.block == "ms" and r is not None]
    out = [(f"cifar_resnet{c.depth}", c, "table2", r) for c, r in sorted(t2, key=lambda cr: -cr[0].depth)]
    out += [(f"cifar_resnet{c.depth} (short run)", c, "short", r)
            for c, r, _ in train_runs(ctx, "short", seeds=primary())]
    for exp in ("dvs", "imagenet"):
        out += [(c.model, c, exp, r) for c, r, _ in train_runs(ro, exp, seeds=primary())]
    # MS-ResNet104 (Table V, Fig. 3a stage 3): the finetuned two-phase ImageNet model where the
    # profile trains one, and Fig. 5b's CIFAR-family MS-ResNet104 with MS's own initialisation
    out += [(c.model, c, "two_phase", r) for c, r, _ in train_runs(ro, "two_phase", seeds=primary())
            if c.model == "imagenet_resnet104" and c.init_from]
    out += [(f"cifar_resnet{c.depth} (Fig. 5b run)", c, "init", r)
            for c, r, _ in train_runs(ro, "init", seeds=primary())
            if c.depth == 104 and c.norm == "tdbn" and c.gamma1 == 1.0 and c.gamma2 == 0.0]
    return out


def measured_items(ctx: ChapterContext, kind: str, every_depth: bool = False) -> dict:
    """``{label: (config, stored per-run item, arrays)}`` of analysis ``kind`` of the
    models :func:`measured_models` lists; of Table II's only the deepest that has it (while
    the deepest is not trained or analysed yet, the next deepest stands in, under its own name),
    or, with ``every_depth``, each trained Table II MS model that has it, deepest first."""
    from msr import per_run

    out = {}
    for label, cfg, exp, r in measured_models(ctx):
        found = per_run.result(ctx, kind, exp, cfg) if r is not None else None
        if found is not None:
            out[label] = (cfg, *found)
    return out if every_depth else {k: out[k] for k in one_table2_depth(out)}


def one_table2_depth(items: dict) -> list[str]:
    """The labels of :func:`measured_items` (``every_depth``) with one Table II model, the
    deepest (they come deepest first), and every other measured model."""
    keep, table2_found = [], False
    for label, (_, item, *_) in items.items():
        table2 = item["config"]["experiment"] == "table2"
        if not (table2 and table2_found):
            keep.append(label)
        table2_found = table2_found or table2
    return keep


def run_budget(cfg) -> str:
    """How much training a run had, in words (``1 epoch x 5,000 images``)."""
    n = f"{cfg.subset:,}" if cfg.subset else "all"
    return f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} x {n} images"
