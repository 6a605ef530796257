"""Compute step of every book chapter, as plain functions (``msr compute``).

One function per chapter, ``CHAPTERS[name](ctx) -> dict``.  Each one trains or
analyses through :mod:`msr.train`, :mod:`msr.sweep`, :mod:`msr.analysis` and stores
everything in the results store (:class:`msr.results.ResultsStore`), keyed by the hash
of the full configuration, so a second call with the same configuration only reads.

* ``ctx.recompute``: ignore what the store holds and compute again;
* ``ctx.render_only``: never train or analyse; an item the store lacks comes back as
  ``None`` and the book shows a "not computed yet" box for it.  Items marked *cheap*
  (structure counts, closed-form values: seconds on a CPU, no training) are computed
  even then.

The notebooks call the same functions, so ``msr compute NAMES --profile P --device cuda``
on a GPU box without Jupyter fills the store that ``make book`` then renders.  With
``--budget 9m`` the names are experiments instead, worked through in value order within
the time budget (:mod:`msr.budget`, ``notes/gpu-runs.md``).

Trained models are analysed as soon as they are trained (:mod:`msr.per_run`); the
chapters assemble those per-run results, so they need no checkpoint.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from msr import paper
from msr.results import ResultsStore, default_root, provenance

#: Chapters in book order (the names ``--only`` and ``msr compute`` take).
CHAPTER_ORDER = (
    "architectures", "degradation", "unavailing", "isometry", "benchmarks", "energy",
    "firing", "landscape", "init", "shortcuts", "two_phase", "report", "performance",
)


class IncompleteInputs(ValueError):
    """An analysis could not load every trained model it was asked for; nothing was stored."""


@dataclass
class Ctx:
    """What a compute function needs: the profile, where to run, what to reuse."""

    profile: str
    device: str = "cpu"
    recompute: bool = False
    render_only: bool = False
    data_root: str = "data"
    store: ResultsStore = field(default_factory=lambda: ResultsStore(default_root()))
    quiet: bool = False  # notebooks: one summary line per sweep instead of per-epoch logs
    seeds: tuple[int, ...] | None = None  # training seeds of Table II / VI / deep (None: the profile's)
    jobs: int = 1  # runs trained at once in worker processes (msr.jobs)

    @classmethod
    def from_params(cls, params) -> "Ctx":
        return cls(params.profile, params.device, params.recompute, params.render_only, params.data_root,
                   quiet=True)

    def reader(self) -> "Ctx":
        """The same context in render-only mode (for chapters that analyse another chapter's runs)."""
        return Ctx(self.profile, self.device, False, True, self.data_root, self.store, self.quiet, self.seeds)

    def item(self, experiment: str, config: dict, compute: Callable[[], Any], cheap: bool = False) -> dict | None:
        """The stored result of ``config``, computed first if allowed.  A trained model the
        computation needs that is missing or unreadable stops it: nothing is stored, and the
        error names the item and the weights (a result from fewer models than asked for
        would look complete)."""
        if self.render_only and not cheap:
            return self.store.get(self.profile, experiment, config)

        def complete():
            from msr.results import CheckpointError
            from msr.train import WeightsNotFound

            try:
                return compute()
            except (WeightsNotFound, CheckpointError) as err:
                raise IncompleteInputs(f"{experiment} not computed, nothing stored: {err}") from err

        return self.store.get_or_compute(self.profile, experiment, config, complete,
                                         recompute=self.recompute, device=self.device)


# ------------------------------------------------------------- architectures ----

#: Models whose structure chapter 1 counts: (label, model name, kwargs).
def _structure_models() -> list[tuple[str, str, dict]]:
    out = [(f"cifar_resnet{d} (ms)", "cifar_resnet", {"depth": d, "block": "ms"})
           for d in (8, 14, 20, 32, 44, 56, 104, 110, 482)]
    out += [(f"cifar_resnet20 ({b})", "cifar_resnet", {"depth": 20, "block": b})
            for b in ("plain", "vanilla", "wolif", "sr_b", "sr_c")]
    out += [(n, n, {}) for n in ("imagenet_resnet18", "imagenet_resnet34", "imagenet_resnet104", "dvs_resnet20")]
    return out


def stage_shapes(model) -> list[dict]:
    """Per stage: blocks, output size and channels, traced on a dummy input (Table I/IX as built)."""
    import torch

    shapes: list[dict] = []
    hooks = []
    for i, stage in enumerate(model.stages):
        def stage_hook(m, inp, out, i=i):
            shapes.append({"stage": i + 1, "blocks": len(m), "output": f"{out.shape[-2]}x{out.shape[-1]}",
                           "channels": int(out.shape[-3])})
        hooks.append(stage.register_forward_hook(stage_hook))
    stem: dict = {}

    def stem_hook(m, inp, out):
        stem.update(output=f"{out.shape[-2]}x{out.shape[-1]}", channels=int(out.shape[-3]),
                    kernel=m.kernel_size[0], stride=m.stride[0])
    hooks.append(model.stem_conv.conv.register_forward_hook(stem_hook))  # encode() calls the bare conv
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *model.input_size), T=1)
    for h in hooks:
        h.remove()
    return [{"stage": 0, "blocks": 0, **stem}] + shapes


def block_flow(block_name: str) -> dict:
    """The forward order of a block's named children, traced with hooks on a dummy input.

    Returns ``{"path": [...], "post": [...], "shortcut": bool, "spiking_input": bool,
    "spiking_output": bool}``: ``path`` is the residual path (names in call order),
    ``post`` the modules applied after the addition (the vanilla block's interblock
    LIF), found by following which module consumed which module's output.
    """
    import torch

    from msr.blocks import SpikingSpec, get_block

    cls = get_block(block_name)
    block = cls(4, 4, 1, SpikingSpec()).eval()
    calls: list[tuple[str, int, int]] = []  # name, id(input), id(output)
    keep = []  # keep tensors alive so ids stay unique

    def hook(name):
        def fn(module, inputs, output):  # returns None: the output is unchanged
            calls.append((name, id(inputs[0]), id(output)))
            keep.extend([inputs[0], output])
        return fn

    hooks = [m.register_forward_hook(hook(n)) for n, m in block.named_children()]
    x = (torch.rand(1, 1, 4, 6, 6) > 0.5).float()
    with torch.no_grad():
        y = block(x)
    for h in hooks:
        h.remove()
    outputs = {o: n for n, _, o in calls}
    path, post, cur = [], [], id(x)
    for name, i, o in calls:
        if name == "shortcut":
            continue
        if i == cur or outputs.get(i) in path:
            path.append(name)
            cur = o
        else:
            post.append(name)
    return {"block": block_name, "path": path, "post": post, "shortcut": cls.has_shortcut,
            "shortcut_identity": isinstance(block.shortcut, torch.nn.Identity),
            "spiking_input": cls.spiking_input, "spiking_output": cls.spiking_output,
            "kinds": {n: type(getattr(block, n)).__name__ for n in path + post},
            "ends_in": type(getattr(block, (post or path)[-1])).__name__, "out_shape": list(y.shape)}


def _architectures_payload() -> dict:
    from msr.models import create_model
    from msr.structure import summarize

    rows = []
    for label, name, kw in _structure_models():
        s = summarize(create_model(name, **kw), name=name).as_dict()
        s.pop("residual_convs")
        rows.append({"label": label, "model": name, **{k: v for k, v in kw.items()}, **s})
    tables = {
        "table1": {str(d): stage_shapes(create_model("cifar_resnet", depth=d)) for d in (20, 56)},
        "table9": {n: stage_shapes(create_model(n)) for n in ("imagenet_resnet18", "imagenet_resnet34", "imagenet_resnet104")},
        "dvs": stage_shapes(create_model("dvs_resnet20")),
    }
    flows = {b: block_flow(b) for b in ("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")}
    return {"models": rows, "tables": tables, "flows": flows}


def architectures(ctx: Ctx) -> dict:
    """Chapter 1: params and MACs of every model family (msr.structure.summarize),
    stage shapes as built (Table I, IX) and the traced block flows (Fig. 1, 2a)."""
    config = {"kind": "structure", "models": _structure_models(), "version": 1}
    return {"structure": ctx.item("structure", config, _architectures_payload, cheap=True)}


# --------------------------------------------------------- unavailing (Eq. 7-8) ----

def _eq8_payload(sigmas, rates, n) -> dict:
    from msr.analysis.unavailing import p_state_change, p_state_change_mc

    v = paper.NEURON["v_th"]
    grid = [{"sigma": s, "rate": r, "analytic": p_state_change(s, v, r),
             "monte_carlo": p_state_change_mc(s, v, r, n=n, seed=i)}
            for i, (s, r) in enumerate((s, r) for s in sigmas for r in rates)]
    return {"grid": grid, "at_vth": {"sigma": v, "analytic": p_state_change(v, v, 0.5),
                                     "monte_carlo": p_state_change_mc(v, v, 0.5, n=n, seed=99)}}


# ---------------------------------------------------------- training sweeps ----

def sweep_command(experiment: str, profile: str) -> str:
    return f"msr sweep {experiment} --profile {profile} --device cuda"


def _primary() -> tuple[int]:
    """The seed of the runs a chapter shows one model of (:data:`msr.sweep.PRIMARY_SEED`)."""
    from msr.sweep import PRIMARY_SEED

    return (PRIMARY_SEED,)


def stored_seeds(ctx: Ctx, experiment: str) -> set[int]:
    """The training seeds of the results ``experiment`` holds in the store."""
    folder = ctx.store.root / ctx.profile / experiment
    if not folder.is_dir():
        return set()
    return {int((r.get("config") or {}).get("seed", 0)) for r in ctx.store.list(ctx.profile, experiment)}


def train_runs(ctx: Ctx, experiment: str, seeds=None) -> list[tuple[Any, dict | None, str | None]]:
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

    import contextlib
    import io

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
    the first seed's :func:`_acc` with ``acc`` the mean over the seeds stored, ``std``
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
        out[k] = {**_acc(done[0][1]), **spread([r["final"]["reported_acc"] for _, r in done]),
                  "seeds": [seed for seed, _ in done], "planned": len(items), "hashes": [r.get("hash") for _, r in done]}
    return out


def _train_runs_jobs(ctx: Ctx, experiment: str, seeds) -> list[tuple[Any, dict | None, str | None]]:
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


def _acc(r: dict | None) -> dict | None:
    if not r:
        return None
    return {"acc": r["final"]["reported_acc"], "provenance": r.get("provenance"), "dataset": r["config"]["dataset"],
            "hash": r.get("hash"), "curve": r.get("steps"), "epochs": r.get("epochs"), "final": r["final"]}


def trained_model(ctx: Ctx, cfg, experiment: str):
    """The model of a finished run with its weights (``runs/``).  Weights not on this
    machine raise :class:`msr.train.WeightsNotFound`; weights present but unreadable (or
    of another model) raise :class:`msr.results.CheckpointError` naming the file."""
    from msr.train import load_trained

    return load_trained(cfg, profile=ctx.profile, experiment=experiment, device="cpu")


def test_batch(cfg, n: int, train_split: bool = False):
    """The first ``n`` test (or training) samples of ``cfg``'s data set as ``(x, y)``,
    model-ready, with the test transform (the training normalisation, no random
    augmentation): :func:`msr.per_run.analysis_batch`, the inputs of every analysis."""
    from msr.per_run import analysis_batch

    return analysis_batch(cfg, n, train_split)


def _analysis_sizes(profile: str) -> dict:
    """How much data each analysis looks at (smoke: seconds on a CPU)."""
    if profile == "smoke":
        return dict(samples=8, grid=5, probes=2, iso_depths=(8, 20, 44), iso_batch=4)
    return dict(samples=256, grid=21, probes=8, iso_depths=(8, 14, 20, 32, 44, 56, 110, 482), iso_batch=16)


def _by(runs, *keys) -> dict:
    return {tuple(getattr(c, k) for k in keys) if len(keys) > 1 else getattr(c, keys[0]): (c, r)
            for c, r, _ in runs}


# -------------------------------------------------------------- degradation ----

def degradation(ctx: Ctx) -> dict:
    """Chapter 2: Table II sweep (plain / vanilla / wolif / ms x depth) and MS-ResNet110/482;
    the gamma2 = 0 ablation of vanilla and wolif (``msr sweep ablation``) is only read.
    Each cell is the mean ± std over the seeds run (:func:`seed_summary`)."""
    t2 = train_runs(ctx, "table2")
    deep = train_runs(ctx, "deep")
    ablation = train_runs(ctx.reader(), "ablation")
    by = lambda c: (c.block, c.depth)  # noqa: E731
    return {"table2": seed_summary(t2, by), "deep": seed_summary(deep, by), "ablation": seed_summary(ablation, by),
            "missing": [why for _, _, why in t2 + deep if why], "dataset": t2[0][0].dataset}


# ------------------------------------------------------- unavailing (trained) ----

def _per_run(ctx: Ctx, kind: str, chosen: dict, experiment: str = "table2") -> dict:
    """``{label: (stored per-run item, arrays)}`` of analysis ``kind`` (:mod:`msr.per_run`)
    for the runs ``chosen`` (``{label: (config, stored result or None)}``) that have one."""
    from msr import per_run

    out = {}
    for label, (cfg, r) in chosen.items():
        found = per_run.result(ctx, kind, experiment, cfg) if r is not None else None
        if found is not None:
            out[label] = found
    return out


def _state_change_payload(ctx, base_cfg, depths) -> dict:
    """Per block, how often a vanilla block changes a neuron's firing state in freshly
    initialised networks at ``depths`` (BN in training mode, as they would first run);
    the trained networks' rows are per-run items (:mod:`msr.per_run`)."""
    import torch

    from msr.analysis.unavailing import state_change_fraction
    from msr.train import build_model, model_info

    x, _ = test_batch(base_cfg, _analysis_sizes(ctx.profile)["samples"])
    rows = {}
    for depth in depths:
        cfg = base_cfg.replace(block="vanilla", depth=depth)
        torch.manual_seed(cfg.seed)
        rows[f"vanilla-{depth} init"] = state_change_fraction(build_model(cfg, model_info(cfg)), x, mode="train")
    return {"rows": rows}


def unavailing(ctx: Ctx) -> dict:
    """Chapter 3: Eq. 7-8 closed form and Monte-Carlo (cheap), state changes measured in
    vanilla networks, and the SSIM radar of Fig. 2b (vanilla vs MS, depths 44 and 56)
    from the per-run analyses of the Table II models."""
    from msr.per_run import INPUTS, SSIM_DEPTHS, payload

    sigmas = [round(x, 2) for x in np.linspace(0.1, 1.5, 15)]
    rates = [0.1, 0.25, 0.5]
    n = 200_000 if ctx.profile == "smoke" else 2_000_000
    cfg = {"kind": "eq8", "sigmas": sigmas, "rates": rates, "n": n, "v_th": paper.NEURON["v_th"]}
    out = {"eq8": ctx.item("eq8", cfg, lambda: _eq8_payload(sigmas, rates, n), cheap=True)}
    runs = _by(train_runs(ctx.reader(), "table2", seeds=_primary()),
               "block", "depth")
    deepest = max(d for b, d in runs if b == "vanilla")
    sizes = _analysis_sizes(ctx.profile)
    ssim = _per_run(ctx, "ssim", {f"{b}-{d}": runs[(b, d)] for b in ("vanilla", "ms") for d in SSIM_DEPTHS
                                  if (b, d) in runs})
    out["ssim"] = ({"series": {k: payload(item) for k, (item, _) in ssim.items()},
                    "provenances": [item["provenance"] for item, _ in ssim.values()]} if ssim else None)
    base = next(iter(runs.values()))[0]
    # at initialisation: needs no training, so it is computed in every compute mode
    init_depths = sorted({20, deepest})
    c = {"kind": "state_change_init", "base": base.hash_dict(), "depths": init_depths, "samples": sizes["samples"],
         "inputs": INPUTS}
    init = ctx.item("state_change", c, lambda: _state_change_payload(ctx, base, init_depths))
    trained = _per_run(ctx, "state_change", {f"vanilla-{deepest} trained": runs[("vanilla", deepest)]})
    rows = {**(init["rows"] if init else {}), **{k: item["rows"] for k, (item, _) in trained.items()}}
    provs = [p["provenance"] for p in [init] + [item for item, _ in trained.values()] if p]
    out["state_change"] = {"rows": rows, "provenances": provs} if rows else None
    out["claims"] = _unavailing_claims(out)
    return out


def _unavailing_claims(out: dict) -> list[dict]:
    return [_state_change_claim(out.get("state_change")), _ssim_claim(out.get("ssim"))]


#: What each claim row is: ``evidence``, a trained or measured result that could have come
#: out either way (the only kind the report counts as shown / not shown); ``arithmetic``,
#: a closed form or a simulation checked against the paper's number or another closed
#: form; ``by construction``, true of the model as defined (e.g. an identity block at
#: initialisation), so it cannot fail.
CLAIM_KINDS = ("evidence", "arithmetic", "by construction")
#: SSIM claim (Fig. 2b): a block "changes nothing" when the SSIM of its firing-rate map with
#: the previous block's exceeds SSIM_SAME; the claim asks vanilla ResNet-56 for at least
#: SSIM_MIN_SAME such blocks (the paper shows five at +1) and MS-ResNet56 for fewer.
SSIM_SAME, SSIM_MIN_SAME = 0.99, 3


def _state_change_claim(sc: dict | None) -> dict:
    text = "measured in a vanilla network, a block changes a neuron's firing state about as often as Eq. 8 says"
    rows = {k: [r for r in v if r["changed"] is not None] for k, v in ((sc or {}).get("rows") or {}).items()}
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    parts, ok = [], True
    for label, v in rows.items():
        measured = float(np.mean([r["changed"] for r in v]))
        predicted = float(np.mean([r["eq8"] for r in v]))
        ok = ok and abs(measured - predicted) < 0.02
        parts.append(f"{label}: {100 * measured:.1f} % measured vs {100 * predicted:.1f} % from Eq. 8 with the "
                     f"measured sigma_F and firing rates (mean over {len(v)} blocks)")
    return {"paper": text, "shown": ok, "evidence": "; ".join(parts) + " (shown: within 2 points on average)",
            "kind": "evidence"}


def _ssim_claim(ssim_result: dict | None) -> dict:
    ssim = (ssim_result or {}).get("series") or {}
    text = ("vanilla ResNet-56 has several consecutive blocks with SSIM = +1 (they change nothing); "
            "MS-ResNet56 changes its representation more evenly (Fig. 2b)")
    if "vanilla-56" not in ssim or "ms-56" not in ssim:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    v = [x for x in ssim["vanilla-56"]["ssim"] if x is not None]
    m = [x for x in ssim["ms-56"]["ssim"] if x is not None]
    nv, nm = sum(x > SSIM_SAME for x in v), sum(x > SSIM_SAME for x in m)
    return {"paper": text, "shown": nv >= SSIM_MIN_SAME and nm < nv,
            "evidence": f"blocks with SSIM > {SSIM_SAME}: vanilla {nv} of {len(v)}, MS {nm} of {len(m)} "
                        f"(shown: vanilla at least {SSIM_MIN_SAME}, MS fewer); "
                        f"SSIM spread (std) vanilla {np.std(v):.3f}, MS {np.std(m):.3f}",
            "kind": "evidence"}


# ----------------------------------------------------------------- isometry ----

def _isometry_payload(ctx, base_cfg, depths) -> dict:
    """Rows ``{block, depth, state, grad_norms, phi, stages}``: vanilla and MS at every
    depth of ``depths`` at initialisation (gradient norms and phi(J J^T) per block); the
    trained models' rows are per-run items (:mod:`msr.per_run`)."""
    import torch

    from msr.analysis.isometry import block_isometry, gradient_norms
    from msr.train import build_model, model_info

    sizes = _analysis_sizes(ctx.profile)
    x, y = test_batch(base_cfg, sizes["iso_batch"], train_split=True)
    rows = []
    for block in ("vanilla", "ms"):
        for depth in depths:
            cfg = base_cfg.replace(block=block, depth=depth)
            torch.manual_seed(0)
            model = build_model(cfg, model_info(cfg))
            iso = block_isometry(model, x, probes=sizes["probes"])
            rows.append({"block": block, "depth": depth, "state": "init",
                         "grad_norms": gradient_norms(model, x, y), "phi": [r["phi"] for r in iso],
                         "stages": [r["stage"] for r in iso]})
    return {"rows": rows}


def isometry(ctx: Ctx) -> dict:
    """Chapter 4: gradient norms per block and phi(J J^T) at initialisation across depth
    (needs no training: computed in every compute mode), and gradient norms of the
    trained Table II models (their per-run analyses, when the store has them)."""
    from msr.per_run import INPUTS, payload

    runs = train_runs(ctx.reader(), "table2", seeds=_primary())
    base = runs[0][0]
    sizes = _analysis_sizes(ctx.profile)
    c = {"kind": "isometry_init", "base": base.hash_dict(), "depths": sizes["iso_depths"], "probes": sizes["probes"],
         "inputs": INPUTS,
         "batch": sizes["iso_batch"]}
    init = ctx.item("isometry", c, lambda: _isometry_payload(ctx, base, sizes["iso_depths"]))
    trained = _per_run(ctx, "isometry", {(cf.block, cf.depth): (cf, r) for cf, r, _ in sorted(
        runs, key=lambda run: (run[0].block, run[0].depth)) if cf.block in ("vanilla", "ms")})
    rows = (init["rows"] if init else []) + [payload(item) for item, _ in trained.values()]
    provs = [p["provenance"] for p in [init] + [item for item, _ in trained.values()] if p]
    res = {"rows": rows, "provenances": provs} if rows else None
    return {"isometry": res, "claims": [_isometry_claim(res)]}


def _isometry_claim(res: dict | None) -> dict:
    """Gradient-norm spread across blocks at initialisation, deepest depth, MS vs vanilla.
    ``by construction``: with gamma2 = 0 every MS block is the identity at initialisation
    (Proposition 1), so equal gradient norms across its blocks follow from the definition."""
    text = ("MS-ResNet keeps gradient norms equal across blocks at initialisation (block dynamical "
            "isometry, Proposition 1); the vanilla network does not")
    init = [r for r in (res or {}).get("rows", []) if r["state"] == "init"]
    depths = {b: {r["depth"] for r in init if r["block"] == b} for b in ("vanilla", "ms")}
    common = depths["vanilla"] & depths["ms"]
    if not common:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "by construction"}
    deep = max(common)

    def spread(block):
        g = np.array(next(r for r in init if r["block"] == block and r["depth"] == deep)["grad_norms"])
        g = g[g > 0]
        return float(np.log10(g.max() / g.min())) if len(g) else float("inf")
    sv, sm = spread("vanilla"), spread("ms")
    return {"paper": text, "shown": sm < sv, "kind": "by construction",
            "evidence": f"depth {deep} at init: gradient norms span {sm:.2f} decades (MS) vs {sv:.2f} (vanilla); "
                        f"MS blocks start as the identity (gamma2 = 0)"}


# --------------------------------------------------------------- benchmarks ----

def benchmarks(ctx: Ctx) -> dict:
    """Chapter 5: ImageNet (Table III) and Table IV's DVS network.  ImageNet and CIFAR10-DVS
    need data we may not have (then: not run, with the command); the fmnist profile's DVS
    run trains on Fashion-MNIST made into event streams by emulated saccades
    (``fashion_mnist_dvs``, :mod:`msr.events`), which ``data`` names."""
    from msr.data import describe_dataset

    out = {}
    for exp in ("imagenet", "dvs"):
        runs = train_runs(ctx, exp, seeds=_primary())
        out[exp] = [{"model": c.model, "T": c.T, "dataset": c.dataset, "data": describe_dataset(c.dataset),
                     "result": _acc(r), "why": why, "command": sweep_command(exp, ctx.profile)}
                    for c, r, why in runs]
    return out


def dvs_examples(ctx: Ctx, n: int = 4) -> dict | None:
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


# ------------------------------------------------------------------- energy ----

def _energy_structure_payload() -> dict:
    from msr.models import create_model
    from msr.structure import summarize

    rows = {}
    for name in ("imagenet_resnet34", "imagenet_resnet104", "dvs_resnet20"):
        s = summarize(create_model(name), name=name)
        rows[name] = {"macs_residual": s.macs_residual, "macs_total": s.macs_total,
                      "macs_encoding": s.macs_encoding, "macs_shortcut": s.macs_shortcut,
                      "excluded_share": (s.macs_encoding + s.macs_shortcut) / s.macs_total, "params": s.params}
    return {"models": rows}


def _measured_models(ctx: Ctx) -> list[tuple[str, Any, str, dict | None]]:
    """(label, config, experiment, stored result) of the trained MS models we can measure:
    the deepest MS model of Table II, the CPU-sized ``short`` run (trained here when
    computing), MS-ResNet20 on DVS and the ImageNet models."""
    ro = ctx.reader()
    out = []
    t2 = [(c, r) for c, r, _ in train_runs(ro, "table2", seeds=_primary()) if c.block == "ms"]
    if t2:
        c, r = max(t2, key=lambda cr: cr[0].depth)
        out.append((f"cifar_resnet{c.depth}", c, "table2", r))
    out += [(f"cifar_resnet{c.depth} (short run)", c, "short", r) for c, r, _ in train_runs(ctx, "short", seeds=_primary())]
    for exp in ("dvs", "imagenet"):
        out += [(c.model, c, exp, r) for c, r, _ in train_runs(ro, exp, seeds=_primary())]
    # MS-ResNet104 (Table V, Fig. 3a stage 3): the finetuned two-phase ImageNet model where the
    # profile trains one, and Fig. 5b's CIFAR-family MS-ResNet104 with MS's own initialisation
    out += [(c.model, c, "two_phase", r) for c, r, _ in train_runs(ro, "two_phase", seeds=_primary())
            if c.model == "imagenet_resnet104" and c.init_from]
    out += [(f"cifar_resnet{c.depth} (Fig. 5b run)", c, "init", r) for c, r, _ in train_runs(ro, "init", seeds=_primary())
            if c.depth == 104 and c.norm == "tdbn" and c.gamma1 == 1.0 and c.gamma2 == 0.0]
    return out


def analysis_T(cfg, x) -> int | None:
    """The T a trained model is analysed at: its inference T (``test_T``, ResNet-104: 5 as
    in Table V) for images, None for event frames (they bring their own T)."""
    return None if x.dim() == 5 else (cfg.test_T or cfg.T)


def run_budget(cfg) -> str:
    """How much training a run had, in words (``1 epoch x 5,000 images``)."""
    n = f"{cfg.subset:,}" if cfg.subset else "all"
    return f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} x {n} images"


def _measured(ctx: Ctx, kind: str) -> dict:
    """``{label: (config, stored per-run item, arrays)}`` of analysis ``kind`` of the
    models :func:`_measured_models` lists."""
    from msr import per_run

    out = {}
    for label, cfg, exp, r in _measured_models(ctx):
        found = per_run.result(ctx, kind, exp, cfg) if r is not None else None
        if found is not None:
            out[label] = (cfg, *found)
    return out


def energy(ctx: Ctx) -> dict:
    """Chapter 6: Table V from our counted MACs (cheap) and firing rates measured on our
    trained models (their per-run analyses, when the store has them)."""
    from msr.per_run import payload

    cfg = {"kind": "energy_structure", "version": 1}
    out = {"structure": ctx.item("energy_structure", cfg, _energy_structure_payload, cheap=True)}
    measured = _measured(ctx, "energy")
    if measured:
        out["measured"] = {label: {**payload(item), "dataset": c.dataset, "run": item["config"]["run"],
                                   "budget": run_budget(c), "provenance": item["provenance"]}
                           for label, (c, item, _) in measured.items()}
    return out


# ------------------------------------------------------------------ firing ----

def firing(ctx: Ctx) -> dict:
    """Chapter 7: layer-wise firing rates (Fig. 3a) and rasters (Fig. 3b) of our trained MS
    models (their per-run analyses)."""
    from msr.per_run import payload

    measured = _measured(ctx, "firing")
    if not measured:
        return {"firing": None, "rates": {}, "claims": [_firing_claim(None)]}
    res = {"models": {label: {**payload(item), "dataset": c.dataset, "run": item["config"]["run"],
                              "budget": run_budget(c), "provenance": item["provenance"]}
                      for label, (c, item, _) in measured.items()},
           "provenances": [item["provenance"] for _, item, _ in measured.values()]}
    rasters = {f"{label}__{i}": arrays[f"raster{i}"] for label, (_, item, arrays) in measured.items()
               for i in range(len(item["kept"])) if arrays and f"raster{i}" in arrays}
    rates = {label: {"rate": item["network_rate"], "provenance": item["provenance"], "dataset": c.dataset}
             for label, (c, item, _) in measured.items()}
    return {"firing": res, "rasters": rasters, "rates": rates, "claims": [_firing_claim(res)]}


def _firing_claim(res) -> dict:
    text = "the second LIF of each residual path fires less than the first (Sec. IV-B)"
    if not res or not res.get("models"):
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    parts, ok = [], True
    for label, m in res["models"].items():
        b = [x for x in m["blocks"] if "lif1" in x and "lif2" in x]
        if not b:
            continue
        lower = sum(x["lif2"] < x["lif1"] for x in b)
        ok = ok and lower > len(b) / 2
        parts.append(f"{label}: lif2 < lif1 in {lower} of {len(b)} blocks")
    return {"paper": text, "shown": ok if parts else None, "evidence": "; ".join(parts) or "no blocks",
            "kind": "evidence"}


# --------------------------------------------------------------- landscape ----

def _nonconvexity(loss: np.ndarray) -> float:
    """Share of interior grid points where the discrete Hessian along the axes is
    negative somewhere (a local non-convexity index; 0 for a convex bowl)."""
    if loss.shape[0] < 3:
        return float("nan")
    dxx = loss[1:-1, 2:] - 2 * loss[1:-1, 1:-1] + loss[1:-1, :-2]
    dyy = loss[2:, 1:-1] - 2 * loss[1:-1, 1:-1] + loss[:-2, 1:-1]
    return float(np.mean((dxx < 0) | (dyy < 0)))


def landscape(ctx: Ctx) -> dict:
    """Chapter 8: loss landscapes (Fig. 4) of trained vanilla and MS models at several
    depths (their per-run analyses)."""
    from msr.per_run import LANDSCAPE_DEPTHS, payload

    runs = {(c.block, c.depth): (c, r) for c, r, _ in
            train_runs(ctx.reader(), "table2", seeds=_primary())}
    depths = sorted({d for b, d in runs if d in LANDSCAPE_DEPTHS})
    found = _per_run(ctx, "landscape", {f"{b}-{d}": runs[(b, d)] for b in ("vanilla", "ms") for d in depths})
    res = ({"landscapes": {k: payload(item) for k, (item, _) in found.items()},
            "provenances": [item["provenance"] for item, _ in found.values()]} if found else None)
    return {"landscape": res, "claims": [_landscape_claim(res)]}


def _landscape_claim(res) -> dict:
    text = "the vanilla network's loss landscape grows non-convex with depth; MS-ResNet's stays well-conditioned (Fig. 4)"
    ls = (res or {}).get("landscapes") or {}
    v = sorted((int(k.split("-")[1]), d["nonconvexity"]) for k, d in ls.items() if k.startswith("vanilla"))
    m = sorted((int(k.split("-")[1]), d["nonconvexity"]) for k, d in ls.items() if k.startswith("ms"))
    if len(v) < 2 or len(m) < 2:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    shown = v[-1][1] > v[0][1] and m[-1][1] <= v[-1][1]
    fmt = lambda xs: ", ".join(f"{d}: {x:.2f}" for d, x in xs)
    return {"paper": text, "shown": shown, "evidence": f"non-convex share of the grid, vanilla {fmt(v)}; MS {fmt(m)}",
            "kind": "evidence"}


# -------------------------------------------------------------------- init ----

def init(ctx: Ctx) -> dict:
    """Chapter 9: Fig. 5a first-epoch accuracy per (norm, gamma1, gamma2) and Fig. 5b
    loss curves of MS-ResNet104 with gamma2 = 1 (standard) vs 0."""
    from msr.sweep import FIG5B_DEPTH

    runs = train_runs(ctx, "init", seeds=_primary())
    a = [{"norm": c.norm, "gamma1": c.gamma1, "gamma2": c.gamma2, "depth": c.depth, **(_acc(r) or {"acc": None})}
         for c, r, _ in runs if c.depth != FIG5B_DEPTH]
    b = [{"norm": c.norm, "gamma2": c.gamma2, "depth": c.depth, **(_acc(r) or {"acc": None})}
         for c, r, _ in runs if c.depth == FIG5B_DEPTH]
    return {"fig5a": a, "fig5b": b, "claims": _init_claims(a, b)}


def _init_claims(a, b) -> list[dict]:
    out = []
    text = "gamma2 = 0 converges markedly faster than gamma2 = 1: higher accuracy after the first epoch (Fig. 5a)"
    pairs = []
    for norm in ("bn", "tdbn"):
        g0 = next((r["acc"] for r in a if r["norm"] == norm and r["gamma1"] == 1.0 and r["gamma2"] == 0.0), None)
        g1 = next((r["acc"] for r in a if r["norm"] == norm and r["gamma1"] == 1.0 and r["gamma2"] == 1.0), None)
        if g0 is not None and g1 is not None:
            pairs.append((norm, g0, g1))
    out.append({"paper": text, "shown": all(g0 > g1 for _, g0, g1 in pairs) if pairs else None,
                "evidence": "; ".join(f"{n}: {g0:.2f} % (gamma2 = 0) vs {g1:.2f} % (gamma2 = 1)" for n, g0, g1 in pairs)
                + "; one seed" if pairs else "not run", "kind": "evidence"})
    text = "with standard BN initialisation (gamma2 = 1) MS-ResNet104's training loss does not decrease (Fig. 5b)"
    r = next((x for x in b if x["norm"] == "bn" and x["gamma2"] == 1.0 and x.get("curve")), None)
    if r and len(r["curve"]["loss"]) >= 2:
        l = r["curve"]["loss"]
        k = max(1, len(l) // 5)
        first, last = float(np.mean(l[:k])), float(np.mean(l[-k:]))
        out.append({"paper": text, "shown": last > 0.95 * first, "kind": "evidence",
                    "evidence": f"loss {first:.3f} over the first fifth of steps, {last:.3f} over the last; one seed"})
    else:
        out.append({"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"})
    return out


# --------------------------------------------------------------- shortcuts ----

def shortcuts(ctx: Ctx) -> dict:
    """Chapter 10: Table VI sweep, SR-A (ms) / SR-B / SR-C x depth per data set."""
    runs = train_runs(ctx, "table6")
    t6 = seed_summary(runs, lambda c: (c.dataset, c.block, c.depth))
    return {"table6": t6, "datasets": sorted({c.dataset for c, _, _ in runs}), "claims": [_shortcuts_claim(t6)]}


def _shortcuts_claim(t6: dict) -> dict:
    """SR-A vs SR-B at each (data set, depth) both were run: SR-A is clearly better, within
    the seed spread, or clearly worse (:data:`SPREAD_RULE`); shown when it is not clearly
    worse at more than half of them.  ``t6``: {(dataset, block, depth): {"acc", "std", "n"}
    or None}."""
    text = "SR-A (MS-ResNet) is at least as accurate as SR-B at most depths (Table VI)"
    pairs = [(f"{ds} {d}", t6[(ds, "ms", d)], t6[(ds, "sr_b", d)]) for ds, b, d in t6
             if b == "ms" and t6.get((ds, "ms", d)) and t6.get((ds, "sr_b", d))]
    if not pairs:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    better = sum(clearly_above(a, b) for _, a, b in pairs)
    worse = sum(clearly_above(b, a) for _, a, b in pairs)
    return {"paper": text, "shown": len(pairs) - worse > len(pairs) / 2, "kind": "evidence",
            "evidence": "; ".join(f"{d}: {pm(a)} vs {pm(b)}" for d, a, b in pairs)
                        + f" (SR-A clearly better at {better}, within the seed spread at {len(pairs) - better - worse}, "
                          f"clearly worse at {worse}); {seeds_note([x for _, a, b in pairs for x in (a, b)])}"}


# --------------------------------------------------------------- two-phase ----

def two_phase(ctx: Ctx) -> dict:
    """Chapter 11: T = 1 pretraining, those weights at T = 6, then finetuning at T = 6."""
    runs = train_runs(ctx, "two_phase", seeds=_primary())
    first, second = runs[0], runs[1]
    res = {}
    if first[1]:
        res["T1_pretrained"] = _acc(first[1])
    if second[1]:
        r = _acc(second[1])
        res["finetuned_T6"] = r
        if second[1]["final"].get("init_acc") is not None:
            res["T1_weights_at_T6"] = {**r, "acc": second[1]["final"]["init_acc"]}
    return {"two_phase": res, "model": f"{first[0].model}{first[0].depth or ''}", "dataset": first[0].dataset,
            "claims": [_two_phase_claim(res)]}


def _two_phase_claim(res: dict) -> dict:
    """Shown when the T = 1 weights lose at most 1 point at T = 6 and finetuning beats both.
    ``res``: {"T1_pretrained", "T1_weights_at_T6", "finetuned_T6": {"acc": ...}}, any may be missing."""
    text = "T = 1 weights run at T = 6 lose nothing, and finetuning at T = 6 improves on both (Appendix B)"
    keys = ("T1_pretrained", "T1_weights_at_T6", "finetuned_T6")
    if not all((res or {}).get(k) for k in keys):
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    a, b, c = (res[k]["acc"] for k in keys)
    return {"paper": text, "shown": b >= a - 1.0 and c > max(a, b), "kind": "evidence",
            "evidence": f"T = 1: {a:.2f} %, its weights at T = 6: {b:.2f} %, finetuned: {c:.2f} %; one seed"}


# ------------------------------------------------------------- performance ----

def performance(ctx: Ctx) -> dict:
    """Chapter 13: the `msr bench` results (results/bench; in the smoke profile
    a quick CPU bench is run when none is stored) and the wall time and images/s of every
    stored run and analysis of this profile."""
    from msr import bench

    found = bench.load_results(include_quick=ctx.profile == "smoke")
    if not found and ctx.profile == "smoke" and not ctx.render_only:
        bench.store_result(bench.run_bench(quick=True, device="cpu"))
        found = bench.load_results(include_quick=True)
    return {"bench": found, "runs": run_times(ctx.store, ctx.profile)}


def run_times(store: ResultsStore, profile: str) -> list[dict]:
    """Per experiment folder of ``results/<profile>/``: how many results, their total wall
    time, the training runs' median images/s (mean over each run's epochs) and the hardware."""
    from statistics import median

    from msr.book import hardware_of

    rows = []
    folder = store.root / profile
    for exp in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "tables") if folder.is_dir() else []:
        items = store.list(profile, exp)
        if not items:
            continue
        speeds = [float(np.mean(r["epochs"]["images_per_s"])) for r in items
                  if isinstance(r.get("epochs"), dict) and r["epochs"].get("images_per_s")]
        rows.append({"experiment": exp, "results": len(items),
                     "wall time (min)": sum(r.get("wall_time_s") or 0.0 for r in items) / 60,
                     "training images/s (median)": median(speeds) if speeds else None,
                     "hardware": ", ".join(sorted({hardware_of(r.get("provenance")) for r in items}))})
    return rows


def energy_rows(structure: dict | None, measured: dict | None = None) -> list[dict]:
    """Table V rows: our MACs and the paper's, energies at 4.6 pJ/MAC and 0.9 pJ/AC.
    ``measured`` maps a model to our firing rate and T (None: not run); a model measured
    on event frames (``per_frame``) is counted per frame, SyOPs = r x MACs (Sec. IV-C)."""
    rows = []
    if structure is None:
        return rows
    for name, p in paper.TABLE_V.items():
        s = structure["models"][name]
        macs = s["macs_residual"]
        e_ann = macs * paper.ENERGY_PJ["mac"] * 1e-9  # mJ
        row = {"model": name, "paper FLOPs (M)": p["flops"] / 1e6, "our MACs (M)": macs / 1e6,
               "paper E(ANN) mJ": p["e_ann_mj"], "our E(ANN) mJ": e_ann,
               "paper SyOPs (M)": p["syops"] / 1e6, "paper E(SNN) mJ": p["e_snn_mj"], "paper ratio": p["ratio"]}
        m = (measured or {}).get(name)
        if m:
            syops = macs * (1 if m.get("per_frame") else m["T"]) * m["rate"]
            row.update({"our rate": m["rate"], "our SyOPs (M)": syops / 1e6,
                        "our E(SNN) mJ": syops * paper.ENERGY_PJ["ac"] * 1e-9,
                        "our ratio": e_ann / (syops * paper.ENERGY_PJ["ac"] * 1e-9)})
        else:
            row.update({"our rate": None, "our SyOPs (M)": None, "our E(SNN) mJ": None, "our ratio": None})
        rows.append(row)
    return rows


# ------------------------------------------------------------------- report ----

def collect(ctx: Ctx, chapters=None) -> dict:
    """Every chapter's results as the store holds them (render-only: nothing trains)."""
    ro = ctx.reader()
    names = [c for c in (chapters or CHAPTER_ORDER) if c not in ("report", "performance")]
    return {c: CHAPTERS[c](ro) for c in names}


@dataclass
class Row:
    """One number of the paper beside ours (NUMBERS.md, from :mod:`msr.paper`)."""

    section: str
    quantity: str
    paper: float | None
    ours: float | None = None
    unit: str = ""
    prov: dict | None = None
    dataset: str = ""
    note: str = ""

    def as_dict(self, profile: str) -> dict:
        from msr.book import commit_of, date_of, hardware_of

        run = self.ours is not None
        delta = (self.ours - self.paper) if run and self.paper is not None else None
        return {"section": self.section, "quantity": self.quantity, "paper": self.paper,
                "ours": self.ours if run else "not run", "delta": delta, "unit": self.unit,
                "profile": profile if run else "", "data set": self.dataset if run else "",
                "hardware": hardware_of(self.prov) if run else "", "date": date_of(self.prov)[:10] if run else "",
                "commit": commit_of(self.prov) if run else "", "note": self.note}


def report_rows(profile: str, results: dict) -> list[Row]:
    """Every number of NUMBERS.md (from :mod:`msr.paper`) with ours where a stored result has it."""
    from msr.book import dataset_of

    ds = dataset_of(profile)
    rows: list[Row] = []
    deg = (results.get("degradation") or {}).get("table2") or {}
    for block, by_depth in paper.TABLE_II.items():
        for depth, acc in by_depth.items():
            r = deg.get((block, depth))
            rows.append(Row("Table II", f"{paper.TABLE_II_LABELS[block]}, depth {depth}", acc,
                            r["acc"] if r else None, "%", r and r.get("provenance"), ds,
                            "; ".join(x for x in ("paper: N/A" if acc is None else "", _seeds_row(r)) if x)))
    deep = (results.get("degradation") or {}).get("deep") or {}
    for depth, acc in paper.DEEP_CIFAR10.items():
        r = deep.get(("ms", depth))
        rows.append(Row("Sec. III-D", f"MS-ResNet{depth}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds, _seeds_row(r)))
    eq8 = (results.get("unavailing") or {}).get("eq8")
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (closed form)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["analytic"] if eq8 else None, "", eq8 and eq8.get("provenance"), "analytic"))
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (Monte-Carlo)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["monte_carlo"] if eq8 else None, "", eq8 and eq8.get("provenance"), "simulated"))
    bench_runs = results.get("benchmarks") or {}
    ours_in = {(b["model"], b["T"]): b["result"] for b in bench_runs.get("imagenet", []) if b["result"]}
    for (model, T), acc in paper.TABLE_III.items():
        r = ours_in.get((model, T))
        rows.append(Row("Table III", f"{model}, T = {T}", acc, r and r["acc"], "%", r and r.get("provenance"),
                        r["dataset"] if r else "", "needs ImageNet" if not r else ""))
    rows.append(Row("Table III", "imagenet_resnet104, 288x288 crops", paper.TABLE_III_104_AT_288, None, "%",
                    note="needs ImageNet"))
    for model, acc in paper.TABLE_III_ANN.items():
        rows.append(Row("Table III", f"{model}, ANN", acc, None, "%", note="ANN baseline, not in scope"))
    dvs_runs = bench_runs.get("dvs", [])
    dvs = next((b for b in dvs_runs if b["result"]), None)
    for work, method, params, acc in paper.TABLE_IV:
        ours = work == "paper"
        r = dvs["result"] if ours and dvs else None
        if not ours:
            note = "cited work, not reproduced"
        elif r:
            note = f"ours on {dvs['data']}" + ("" if r["dataset"] == "cifar10_dvs" else ", not CIFAR10-DVS")
        else:
            data = dvs_runs[0]["data"] if dvs_runs else "CIFAR10-DVS"
            note = f"not run (ours would use {data})"
        rows.append(Row("Table IV", f"{work}: {method}", acc, r and r["acc"], "%", r and r.get("provenance"),
                        r["dataset"] if r else "", note))
    arch = (results.get("architectures") or {}).get("structure")
    if arch:
        by = {r["label"]: r for r in arch["models"]}
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS, float(by["dvs_resnet20"]["params"]),
                        "", arch.get("provenance"), "structure"))
    else:
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS))
    en = (results.get("energy") or {}).get("structure")
    measured = (results.get("energy") or {}).get("measured") or {}
    for model, p in paper.TABLE_V.items():
        s = en["models"][model] if en else None
        prov = en and en.get("provenance")
        rows.append(Row("Table V", f"{model} FLOPs (residual-path MACs)", p["flops"], s and float(s["macs_residual"]),
                        "", prov, "structure"))
        rows.append(Row("Table V", f"{model} E(ANN)", p["e_ann_mj"],
                        s and s["macs_residual"] * paper.ENERGY_PJ["mac"] * 1e-9, "mJ", prov, "structure"))
        m = measured.get(model)
        for key, unit in (("syops", ""), ("e_snn_mj", "mJ"), ("ratio", "")):
            rows.append(Row("Table V", f"{model} {key}", p[key], m and m.get(key), unit, m and m.get("provenance"),
                            m and m.get("dataset") or ds, _measured_on(m)))
    for model, share in paper.EXCLUDED_FLOPS_SHARE.items():
        s = en["models"][model] if en else None
        rows.append(Row("Sec. IV-B", f"{model} share of MACs outside residual paths", share,
                        s and s["excluded_share"], "", en and en.get("provenance"), "structure"))
    fir = (results.get("firing") or {}).get("rates") or {}
    for model, rate in paper.FIRING_RATE.items():
        m = fir.get(model)
        rows.append(Row("Fig. 3", f"{model} network firing rate", rate, m and m["rate"], "",
                        m and m.get("provenance"), m and m.get("dataset") or ds, _measured_on(m)))
    s3 = _stage3_lif2_104((results.get("firing") or {}).get("firing"))
    rows.append(Row("Fig. 3", "MS-ResNet104 stage 3, second LIF rate", paper.FIRING_STAGE3_SECOND_LIF_104,
                    s3 and s3["rate"], "", s3 and s3["provenance"], s3["dataset"] if s3 else ds,
                    s3["note"] if s3 else ""))
    t6 = (results.get("shortcuts") or {}).get("table6") or {}
    ours_ds = sorted({k[0] for k in t6})
    for data, by_depth in paper.TABLE_VI.items():
        # our stand-in for CIFAR-10 is the profile's data set; CIFAR-100 only maps to itself
        mine = data if data in ours_ds else (next((d for d in ours_ds if d != "cifar100"), None)
                                             if data == "cifar10" else None)
        for depth, by_block in by_depth.items():
            for block, acc in by_block.items():
                r = t6.get((mine, block, depth))
                rows.append(Row("Table VI", f"{data} depth {depth} {block}", acc, r["acc"] if r else None, "%",
                                r and r.get("provenance"), r["dataset"] if r else ds, _seeds_row(r)))
    tp = (results.get("two_phase") or {}).get("two_phase") or {}
    for key, acc in paper.TWO_PHASE.items():
        r = tp.get(key)
        rows.append(Row("Appendix B", f"ResNet-104 two-phase: {key}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds))
    from msr import neuron

    ours = {"tau": neuron.TAU, "v_th": neuron.V_TH, "v_reset": neuron.V_RESET, "a": neuron.SURROGATE_WIDTH}
    for key, val in paper.NEURON.items():
        if key in ours:
            rows.append(Row("Table VII", f"neuron {key} (library default)", val, ours[key], "", None, "code",
                            note="a setting, not a result"))
    return rows


def _seeds_row(r: dict | None) -> str:
    """A report note on the seeds behind a trained cell: "mean of 3 seeds, std 0.41" or "one seed"."""
    if not r:
        return ""
    n = r.get("n", 1)
    return f"mean of {n} seeds, std {r['std']:.2f}" if n > 1 and r.get("std") is not None else "one seed"


def _measured_on(m: dict | None) -> str:
    """A report note naming emulated event data a measured number comes from ("" otherwise)."""
    from msr.data import EMULATED_EVENTS

    ds = (m or {}).get("dataset")
    return f"measured on {EMULATED_EVENTS[ds]}, not CIFAR10-DVS" if ds in EMULATED_EVENTS else ""


def _stage3_lif2_104(firing_result: dict | None) -> dict | None:
    """Firing rate of the second LIF of every residual path in stage 3 (Fig. 3a, Sec. IV-B:
    5.2 % in MS-ResNet104) from a measured MS-ResNet104 of the firing chapter: the ImageNet
    model if measured, else the CIFAR-family one; None when neither is stored."""
    models = (firing_result or {}).get("models") or {}
    found = [l for l in models if l.startswith("imagenet_resnet104")] + \
            [l for l in models if l.startswith("cifar_resnet104")]
    for label in found:
        stage = next((st for st in models[label].get("stages", []) if st["stage"] == 2 and "lif2" in st), None)
        if stage is not None:
            return {"rate": stage["lif2"], "lif1": stage.get("lif1"), "label": label,
                    "dataset": models[label].get("dataset", ""), "provenance": models[label].get("provenance", firing_result.get("provenance")),
                    "note": f"{label}; its first LIF: {stage['lif1']:.3f}" if "lif1" in stage else label}
    return None


def _peak(accs: dict) -> tuple[int, float] | None:
    """(depth, accuracy) of the best depth among at least 3 depths run."""
    done = {d: a for d, a in accs.items() if a is not None}
    if len(done) < 3:
        return None
    d = max(done, key=done.get)
    return d, done[d]


#: How claims judge trained numbers against seed noise (the report chapter states it too).
SPREAD_RULE = ("A difference between two trained accuracies counts only when it is larger than the sum of "
               "their standard deviations over seeds, that is when their mean ± std bars do not overlap. "
               "A cell trained with one seed has no known spread: its value is compared as it is, and the "
               "verdict says 'one seed'.")


def _sd(r: dict | None) -> float:
    return (r or {}).get("std") or 0.0


def clearly_above(a: dict, b: dict) -> bool:
    """``a`` is more accurate than ``b`` beyond the seed spread (:data:`SPREAD_RULE`)."""
    return a["acc"] - b["acc"] > _sd(a) + _sd(b)


def pm(r: dict) -> str:
    """``"91.23 ± 0.41 (n = 3)"``, or ``"91.23"`` for one seed."""
    n = r.get("n", 1)
    return f"{r['acc']:.2f} ± {r['std']:.2f} (n = {n})" if n > 1 and r.get("std") is not None else f"{r['acc']:.2f}"


def seeds_note(items) -> str:
    """How many seeds stand behind the stored cells ``items``: "one seed", "3 seeds", "2-3 seeds"."""
    ns = sorted({(r or {}).get("n", 1) for r in items if r})
    if not ns or ns == [1]:
        return "one seed"
    return f"{ns[0]} seeds" if len(ns) == 1 else f"{ns[0]}-{ns[-1]} seeds"


def _table2_claims(t2: dict) -> list[dict]:
    """The three Table II claims from ``t2`` ({(block, depth): {"acc", "std", "n"} or None,
    :func:`seed_summary`}): where PlainNet and the vanilla ResNet peak (shown when the best
    mean is at the paper's depth and the drop to the deepest depth exceeds the seed spread),
    and whether MS-ResNet keeps improving (no depth clearly better than its deepest, which
    is clearly better than its shallowest); each needs at least 3 depths run.  The rule:
    :data:`SPREAD_RULE`."""
    out = []
    for block, depth, text in (("plain", 14, "PlainNet peaks at 14 layers and degrades beyond"),
                               ("vanilla", 20, "the vanilla spiking ResNet peaks at 20 layers")):
        rows = {d: r for (b, d), r in t2.items() if b == block and r}
        pk = _peak({d: r["acc"] for d, r in rows.items()})
        if pk is None:
            out.append({"paper": text, "shown": None, "kind": "evidence", "evidence": "fewer than 3 depths run"})
            continue
        peak, deepest = rows[pk[0]], max(rows)
        drop, noise = peak["acc"] - rows[deepest]["acc"], _sd(peak) + _sd(rows[deepest])
        ev = f"ours peaks at depth {pk[0]} ({pm(peak)} %)"
        if pk[0] != depth and depth in rows:
            ev += f"; depth {depth} ({pm(rows[depth])} %) is {'below' if clearly_above(peak, rows[depth]) else 'within'} " \
                  f"the seed spread of it"
        if deepest > pk[0]:
            ev += f"; drop to depth {deepest}: {drop:.2f} points, {'beyond' if drop > noise else 'inside'} " \
                  f"the seed spread ({noise:.2f})"
        out.append({"paper": text, "shown": pk[0] == depth and deepest > depth and drop > noise, "kind": "evidence",
                    "evidence": f"{ev}; {seeds_note(rows.values())}"})
    ms = {d: r for (b, d), r in t2.items() if b == "ms" and r}
    pk = _peak({d: r["acc"] for d, r in ms.items()})
    text = "MS-ResNet keeps improving with depth (its deepest model is its best)"
    if pk is None:
        out.append({"paper": text, "shown": None, "kind": "evidence", "evidence": "fewer than 3 depths run"})
        return out
    deepest, shallowest = max(ms), min(ms)
    beaten = [d for d in ms if d != deepest and clearly_above(ms[d], ms[deepest])]
    gain = clearly_above(ms[deepest], ms[shallowest])
    out.append({"paper": text, "shown": not beaten and gain, "kind": "evidence",
                "evidence": f"ours is best at depth {pk[0]} of depths up to {deepest}; depth {deepest} "
                            f"({pm(ms[deepest])} %) is "
                            + (f"clearly below depth(s) {', '.join(map(str, sorted(beaten)))}" if beaten else
                               "below no depth beyond the seed spread")
                            + f" and {'clearly above' if gain else 'within the spread of'} depth {shallowest} "
                              f"({pm(ms[shallowest])} %); {seeds_note(ms.values())}"})
    return out


def _eq8_claim(eq8: dict | None) -> dict:
    """Eq. 8's closed form at sigma = V_th against the paper's 16 %, and the Monte-Carlo
    estimate against the closed form: ``arithmetic`` (no network is involved)."""
    text = "a vanilla block changes a neuron's firing state with probability about 16 % (Eq. 8)"
    if not eq8:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "arithmetic"}
    a, m = eq8["at_vth"]["analytic"], eq8["at_vth"]["monte_carlo"]
    return {"paper": text, "shown": abs(a - paper.EQ8_PROBABILITY) < 0.01 and abs(m - a) < 0.005,
            "evidence": f"closed form {100 * a:.2f} %, Monte-Carlo {100 * m:.2f} %", "kind": "arithmetic"}


def claims(results: dict) -> list[dict]:
    """Each of the paper's qualitative claims with whether our stored results show it
    (``shown`` True/False, None = not run), the evidence, its ``kind``
    (:data:`CLAIM_KINDS`) and the ``chapter`` that checks it, computed from the store."""
    out = [{**c, "chapter": "degradation"}
           for c in _table2_claims((results.get("degradation") or {}).get("table2") or {})]
    out.append({**_eq8_claim((results.get("unavailing") or {}).get("eq8")), "chapter": "unavailing"})
    for chapter, res in results.items():
        for c in (res or {}).get("claims", []) if isinstance(res, dict) else []:
            out.append({**c, "chapter": chapter})
    return out


def report(ctx: Ctx) -> dict:
    """Chapter 12: what the store holds for every chapter (never trains)."""
    return {"results": collect(ctx)}


# ------------------------------------------------------------------ registry ----

CHAPTERS: dict[str, Callable[[Ctx], dict]] = {
    "architectures": architectures, "degradation": degradation, "unavailing": unavailing, "isometry": isometry,
    "benchmarks": benchmarks, "energy": energy, "firing": firing, "landscape": landscape, "init": init,
    "shortcuts": shortcuts, "two_phase": two_phase, "report": report, "performance": performance,
}


def run(name: str, params=None, seeds=None, jobs: int = 1, **kw) -> dict:
    """The compute step of chapter ``name`` with a notebook's :class:`msr.book.Params` (or
    keywords); ``seeds``: the training seeds of the seeded sweeps (default: the profile's);
    ``jobs``: runs trained at once in worker processes (:mod:`msr.jobs`)."""
    from dataclasses import replace

    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid: {', '.join(CHAPTER_ORDER)}")
    ctx = Ctx.from_params(params) if params is not None else Ctx(**kw)
    if seeds is not None:
        from msr.sweep import check_seeds

        ctx = replace(ctx, seeds=check_seeds(seeds))
    if jobs != 1:
        from msr.jobs import check_jobs

        ctx = replace(ctx, jobs=check_jobs(jobs))
    return CHAPTERS[name](ctx)


__all__ = ["CHAPTERS", "CHAPTER_ORDER", "Ctx", "collect", "run", "report_rows", "energy_rows",
           "block_flow", "stage_shapes", "provenance"]
