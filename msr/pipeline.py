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
on a GPU box without Jupyter fills the store that ``make book`` then renders.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from msr import paper
from msr.results import ResultsStore, default_root, provenance

#: Chapters in book order (the names ``--only`` and ``msr compute`` take).
CHAPTER_ORDER = (
    "architectures", "degradation", "unavailing", "isometry", "benchmarks", "energy",
    "firing", "landscape", "init", "shortcuts", "two_phase", "report", "performance",
)


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

    @classmethod
    def from_params(cls, params) -> "Ctx":
        return cls(params.profile, params.device, params.recompute, params.render_only, params.data_root,
                   quiet=True)

    def reader(self) -> "Ctx":
        """The same context in render-only mode (for chapters that analyse another chapter's runs)."""
        return Ctx(self.profile, self.device, False, True, self.data_root, self.store, self.quiet)

    def item(self, experiment: str, config: dict, compute: Callable[[], Any], cheap: bool = False) -> dict | None:
        """The stored result of ``config``, computed first if allowed."""
        if self.render_only and not cheap:
            return self.store.get(self.profile, experiment, config)
        return self.store.get_or_compute(self.profile, experiment, config, compute,
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


def train_runs(ctx: Ctx, experiment: str) -> list[tuple[Any, dict | None, str | None]]:
    """``[(config, stored result or None, why not)]`` for every run of ``experiment``
    (``msr.sweep.EXPERIMENTS``): trained unless stored (or ``recompute``); in render-only
    mode only read.  A run whose data set is missing is reported, not raised."""
    from msr.data import MissingDataError
    from msr.sweep import experiment_configs
    from msr.train import train

    import contextlib
    import io

    out, trained, start = [], 0, time.perf_counter()
    for cfg in experiment_configs(experiment, ctx.profile):
        cfg = cfg.replace(device=ctx.device, data_root=ctx.data_root, progress=False)
        if ctx.render_only:
            r = ctx.store.get(ctx.profile, experiment, cfg.hash_dict())
            out.append((cfg, r, None if r else "not computed"))
            continue
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log) if ctx.quiet else contextlib.nullcontext():
                r = train(cfg, profile=ctx.profile, experiment=experiment, store=ctx.store, force=ctx.recompute)
            trained += not r.get("skipped")
            out.append((cfg, r, None))
        except MissingDataError as err:
            out.append((cfg, None, f"data missing: {str(err).splitlines()[0]}"))
    if not ctx.render_only and ctx.quiet:
        done = sum(r is not None for _, r, _ in out)
        print(f"{experiment}: {len(out)} runs, {trained} trained now, {done - trained} read from the store, "
              f"{len(out) - done} not run ({time.perf_counter() - start:.0f} s)")
    return out


def _acc(r: dict | None) -> dict | None:
    if not r:
        return None
    return {"acc": r["final"]["reported_acc"], "provenance": r.get("provenance"), "dataset": r["config"]["dataset"],
            "hash": r.get("hash"), "curve": r.get("steps"), "epochs": r.get("epochs"), "final": r["final"]}


def trained_model(ctx: Ctx, cfg, experiment: str):
    """The weights of a finished run (``runs/``), or None when they are not on this machine."""
    from msr.train import load_trained

    try:
        return load_trained(cfg, profile=ctx.profile, experiment=experiment, device="cpu")
    except ValueError:
        return None


def test_batch(cfg, n: int, train_split: bool = False):
    """The first ``n`` test (or training) samples of ``cfg``'s data set as ``(x, y)``, model-ready."""
    import torch

    from msr.data import build_datasets
    from msr.train import to_model_input

    tr, te, info = build_datasets(cfg.replace(augment=()))
    ds = tr if train_split else te
    items = [ds[i] for i in range(min(n, len(ds)))]
    x = torch.stack([torch.as_tensor(a) for a, _ in items])
    y = torch.as_tensor([int(b) for _, b in items])
    return to_model_input(x, info.time_first), y


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
    """Chapter 2: Table II sweep (plain / vanilla / wolif / ms x depth) and MS-ResNet110/482."""
    t2 = train_runs(ctx, "table2")
    deep = train_runs(ctx, "deep")
    return {"table2": {(c.block, c.depth): _acc(r) for c, r, _ in t2},
            "deep": {(c.block, c.depth): _acc(r) for c, r, _ in deep},
            "missing": [why for _, _, why in t2 + deep if why], "dataset": t2[0][0].dataset}


# ------------------------------------------------------- unavailing (trained) ----

def _ssim_payload(ctx, runs, depths):
    from msr.analysis.ssim import block_ssim

    out = {}
    for (block, depth), (cfg, r) in runs.items():
        if block not in ("vanilla", "ms") or depth not in depths or r is None:
            continue
        model = trained_model(ctx, cfg, "table2")
        if model is None:
            continue
        x, _ = test_batch(cfg, _analysis_sizes(ctx.profile)["samples"])
        out[f"{block}-{depth}"] = block_ssim(model, x).to_dict()
    return out


def _state_change_payload(ctx, base_cfg, depths, trained_runs) -> dict:
    """Per block, how often a vanilla block changes a neuron's firing state: freshly
    initialised networks at ``depths`` (BN in training mode, as they would first run) and
    the trained ``trained_runs`` ({depth: (config, result)}, BN in eval mode)."""
    import torch

    from msr.analysis.unavailing import state_change_fraction
    from msr.train import build_model, model_info

    x, _ = test_batch(base_cfg, _analysis_sizes(ctx.profile)["samples"])
    rows = {}
    for depth in depths:
        cfg = base_cfg.replace(block="vanilla", depth=depth)
        torch.manual_seed(cfg.seed)
        rows[f"vanilla-{depth} init"] = state_change_fraction(build_model(cfg, model_info(cfg)), x, mode="train")
    for depth, (cfg, _) in sorted(trained_runs.items()):
        model = trained_model(ctx, cfg, "table2")
        if model is not None:
            rows[f"vanilla-{depth} trained"] = state_change_fraction(model, x)
    return {"rows": rows}


def unavailing(ctx: Ctx) -> dict:
    """Chapter 3: Eq. 7-8 closed form and Monte-Carlo (cheap), state changes measured in
    vanilla networks, and the SSIM radar of Fig. 2b (vanilla vs MS, depths 44 and 56)."""
    sigmas = [round(x, 2) for x in np.linspace(0.1, 1.5, 15)]
    rates = [0.1, 0.25, 0.5]
    n = 200_000 if ctx.profile == "smoke" else 2_000_000
    cfg = {"kind": "eq8", "sigmas": sigmas, "rates": rates, "n": n, "v_th": paper.NEURON["v_th"]}
    out = {"eq8": ctx.item("eq8", cfg, lambda: _eq8_payload(sigmas, rates, n), cheap=True)}
    runs = _by(train_runs(ctx.reader(), "table2"),
               "block", "depth")
    keys = {k: (r or {}).get("hash") for k, (c, r) in runs.items()}
    depths = (44, 56)
    have = all(keys.get((b, d)) for b in ("vanilla", "ms") for d in depths)
    deepest = max(d for b, d in runs if b == "vanilla")
    sizes = _analysis_sizes(ctx.profile)
    if have:
        c = {"kind": "ssim", "runs": {f"{b}-{d}": keys[(b, d)] for b in ("vanilla", "ms") for d in depths},
             "samples": sizes["samples"]}
        out["ssim"] = ctx.item("ssim", c, lambda: {"series": _ssim_payload(ctx, runs, depths)})
    else:
        out["ssim"] = None
    base = next(iter(runs.values()))[0]
    # at initialisation: needs no training, so it is computed in every compute mode
    init_depths = sorted({20, deepest})
    c = {"kind": "state_change_init", "base": base.hash_dict(), "depths": init_depths, "samples": sizes["samples"]}
    init = ctx.item("state_change", c, lambda: _state_change_payload(ctx, base, init_depths, {}))
    trained = {d: runs[("vanilla", d)] for d in (deepest,) if keys.get(("vanilla", d))}
    tr = None
    if trained:
        c = {"kind": "state_change_trained", "runs": sorted(keys[("vanilla", d)] for d in trained),
             "samples": sizes["samples"]}
        tr = ctx.item("state_change", c, lambda: _state_change_payload(ctx, base, (), trained))
    parts = [p for p in (init, tr) if p]
    out["state_change"] = ({"rows": {k: v for p in parts for k, v in p["rows"].items()},
                            "provenances": [p["provenance"] for p in parts]} if parts else None)
    out["claims"] = _unavailing_claims(out)
    return out


def _unavailing_claims(out: dict) -> list[dict]:
    return [_state_change_claim(out.get("state_change")), _ssim_claim(out.get("ssim"))]


def _state_change_claim(sc: dict | None) -> dict:
    text = "measured in a vanilla network, a block changes a neuron's firing state about as often as Eq. 8 says"
    rows = {k: [r for r in v if r["changed"] is not None] for k, v in ((sc or {}).get("rows") or {}).items()}
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        return {"paper": text, "shown": None, "evidence": "not run"}
    parts, ok = [], True
    for label, v in rows.items():
        measured = float(np.mean([r["changed"] for r in v]))
        predicted = float(np.mean([r["eq8"] for r in v]))
        ok = ok and abs(measured - predicted) < 0.02
        parts.append(f"{label}: {100 * measured:.1f} % measured vs {100 * predicted:.1f} % from Eq. 8 with the "
                     f"measured sigma_F and firing rates (mean over {len(v)} blocks)")
    return {"paper": text, "shown": ok, "evidence": "; ".join(parts) + " (shown: within 2 points on average)"}


def _ssim_claim(ssim_result: dict | None) -> dict:
    ssim = (ssim_result or {}).get("series") or {}
    text = ("vanilla ResNet-56 has several consecutive blocks with SSIM = +1 (they change nothing); "
            "MS-ResNet56 changes its representation more evenly (Fig. 2b)")
    if "vanilla-56" not in ssim or "ms-56" not in ssim:
        return {"paper": text, "shown": None, "evidence": "not run"}
    v = [x for x in ssim["vanilla-56"]["ssim"] if x is not None]
    m = [x for x in ssim["ms-56"]["ssim"] if x is not None]
    nv, nm = sum(x > 0.99 for x in v), sum(x > 0.99 for x in m)
    return {"paper": text, "shown": nv >= 3 and nm < nv,
            "evidence": f"blocks with SSIM > 0.99: vanilla {nv} of {len(v)}, MS {nm} of {len(m)}; "
                        f"SSIM spread (std) vanilla {np.std(v):.3f}, MS {np.std(m):.3f}"}


# ----------------------------------------------------------------- isometry ----

def _isometry_payload(ctx, base_cfg, depths, trained_runs) -> dict:
    """Rows ``{block, depth, state, grad_norms, phi, stages}``: vanilla and MS at every
    depth of ``depths`` at initialisation (gradient norms and phi(J J^T) per block), and
    the gradient norms of the trained ``trained_runs`` ({(block, depth): (config, result)})."""
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
    for (block, depth), (cfg, r) in sorted(trained_runs.items()):
        model = trained_model(ctx, cfg, "table2")
        if model is None:
            continue
        rows.append({"block": block, "depth": depth, "state": "trained",
                     "grad_norms": gradient_norms(model, x, y, mode="eval"),
                     "stages": [s for s, st in enumerate(model.stages) for _ in st]})
    return {"rows": rows}


def isometry(ctx: Ctx) -> dict:
    """Chapter 4: gradient norms per block and phi(J J^T) at initialisation across depth
    (needs no training: computed in every compute mode), and gradient norms of the
    trained Table II models (when the store has them)."""
    runs = train_runs(ctx.reader(), "table2")
    base = runs[0][0]
    sizes = _analysis_sizes(ctx.profile)
    c = {"kind": "isometry_init", "base": base.hash_dict(), "depths": sizes["iso_depths"], "probes": sizes["probes"],
         "batch": sizes["iso_batch"]}
    init = ctx.item("isometry", c, lambda: _isometry_payload(ctx, base, sizes["iso_depths"], {}))
    trained = {(c.block, c.depth): (c, r) for c, r, _ in runs if c.block in ("vanilla", "ms") and r}
    tr = None
    if trained:
        c = {"kind": "isometry_trained", "runs": sorted(r["hash"] for _, r in trained.values()),
             "batch": sizes["iso_batch"]}
        tr = ctx.item("isometry", c, lambda: _isometry_payload(ctx, base, (), trained))
    parts = [p for p in (init, tr) if p]
    res = ({"rows": [row for p in parts for row in p["rows"]], "provenances": [p["provenance"] for p in parts]}
           if parts else None)
    out = {"isometry": res}
    text = ("MS-ResNet keeps gradient norms equal across blocks at initialisation (block dynamical "
            "isometry, Proposition 1); the vanilla network does not")
    init = [r for r in (res or {}).get("rows", []) if r["state"] == "init"]
    if init:
        deep = max(r["depth"] for r in init)

        def spread(block):
            g = np.array(next(r for r in init if r["block"] == block and r["depth"] == deep)["grad_norms"])
            g = g[g > 0]
            return float(np.log10(g.max() / g.min())) if len(g) else float("inf")
        sv, sm = spread("vanilla"), spread("ms")
        out["claims"] = [{"paper": text, "shown": sm < sv,
                          "evidence": f"depth {deep} at init: gradient norms span {sm:.2f} decades (MS) vs "
                                      f"{sv:.2f} (vanilla)"}]
    else:
        out["claims"] = [{"paper": text, "shown": None, "evidence": "not run"}]
    return out


# --------------------------------------------------------------- benchmarks ----

def benchmarks(ctx: Ctx) -> dict:
    """Chapter 5: ImageNet (Table III) and CIFAR10-DVS (Table IV) runs; they need data we
    may not have (then: not run, with the command)."""
    out = {}
    for exp in ("imagenet", "dvs"):
        runs = train_runs(ctx, exp)
        out[exp] = [{"model": c.model, "T": c.T, "dataset": c.dataset, "result": _acc(r), "why": why,
                     "command": sweep_command(exp, ctx.profile)} for c, r, why in runs]
    return out


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
    t2 = [(c, r) for c, r, _ in train_runs(ro, "table2") if c.block == "ms"]
    if t2:
        c, r = max(t2, key=lambda cr: cr[0].depth)
        out.append((f"cifar_resnet{c.depth}", c, "table2", r))
    out += [(f"cifar_resnet{c.depth} (short run)", c, "short", r) for c, r, _ in train_runs(ctx, "short")]
    for exp in ("dvs", "imagenet"):
        out += [(c.model, c, exp, r) for c, r, _ in train_runs(ro, exp)]
    return out


def run_budget(cfg) -> str:
    """How much training a run had, in words (``1 epoch x 5,000 images``)."""
    n = f"{cfg.subset:,}" if cfg.subset else "all"
    return f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} x {n} images"


def _energy_measured_payload(ctx, models) -> dict:
    from msr.analysis.energy import measure_energy

    out = {}
    for label, cfg, exp, r in models:
        model = trained_model(ctx, cfg, exp)
        if model is None:
            continue
        x, _ = test_batch(cfg, _analysis_sizes(ctx.profile)["samples"])
        m = measure_energy(model, x)
        out[label] = {"T": m.T, "flops": m.flops, "rate": m.network_rate, "syops": m.syops_formula,
                      "syops_measured": m.syops_measured, "e_ann_mj": m.formula.e_ann_mj,
                      "e_snn_mj": m.formula.e_snn_mj, "ratio": m.formula.ratio,
                      "e_snn_measured_mj": m.measured.e_snn_mj, "ratio_measured": m.measured.ratio,
                      "dataset": cfg.dataset, "run": r.get("hash"), "budget": run_budget(cfg), "notes": m.notes}
    return {"models": out}


def energy(ctx: Ctx) -> dict:
    """Chapter 6: Table V from our counted MACs (cheap) and firing rates measured on our
    trained models (when the store has them)."""
    cfg = {"kind": "energy_structure", "version": 1}
    out = {"structure": ctx.item("energy_structure", cfg, _energy_structure_payload, cheap=True)}
    models = [m for m in _measured_models(ctx) if m[3] is not None]
    if models:
        c = {"kind": "energy_measured", "runs": [m[3]["hash"] for m in models],
             "samples": _analysis_sizes(ctx.profile)["samples"]}
        res = ctx.item("energy_measured", c, lambda: _energy_measured_payload(ctx, models))
        if res:
            out["measured"] = {k: {**v, "provenance": res.get("provenance")} for k, v in res["models"].items()}
    return out


# ------------------------------------------------------------------ firing ----

def _firing_payload(ctx, models):
    from msr.analysis.firing import spike_raster

    out, arrays = {}, {}
    for label, cfg, exp, r in models:
        model = trained_model(ctx, cfg, exp)
        if model is None:
            continue
        names = [n for n, _ in model.named_modules() if n.endswith(("lif1", "lif2"))]
        keep = [names[0], names[len(names) // 2], names[-1]] if names else []
        from msr.analysis.firing import firing_rates

        x, _ = test_batch(cfg, _analysis_sizes(ctx.profile)["samples"])
        rec = firing_rates(model, x, keep=keep)
        d = rec.to_dict()
        out[label] = {"network_rate": d["network_rate"], "blocks": d["blocks"], "stages": d["stages"],
                      "kept": keep, "dataset": cfg.dataset, "T": model.T, "run": r.get("hash"),
                      "budget": run_budget(cfg)}
        for i, n in enumerate(keep):
            spikes = rec.kept(n)
            arrays[f"{label}__{i}"] = spike_raster(spikes, neurons=min(100, spikes[0, 0].numel()),
                                                   samples=min(4, spikes.shape[1]))
    return {"models": out}, arrays


def firing(ctx: Ctx) -> dict:
    """Chapter 7: layer-wise firing rates (Fig. 3a) and rasters (Fig. 3b) of our trained MS models."""
    models = [m for m in _measured_models(ctx) if m[3] is not None]
    if not models:
        return {"firing": None, "rates": {}, "claims": [_firing_claim(None)]}
    c = {"kind": "firing", "runs": [m[3]["hash"] for m in models], "samples": _analysis_sizes(ctx.profile)["samples"]}
    res = ctx.item("firing", c, lambda: _firing_payload(ctx, models))
    arrays = ctx.store.get_arrays(ctx.profile, "firing", c) if res else None
    rates = {k: {"rate": v["network_rate"], "provenance": res.get("provenance")} for k, v in (res or {}).get("models", {}).items()}
    return {"firing": res, "rasters": arrays or {}, "rates": rates, "claims": [_firing_claim(res)]}


def _firing_claim(res) -> dict:
    text = "the second LIF of each residual path fires less than the first (Sec. IV-B)"
    if not res or not res.get("models"):
        return {"paper": text, "shown": None, "evidence": "not run"}
    parts, ok = [], True
    for label, m in res["models"].items():
        b = [x for x in m["blocks"] if "lif1" in x and "lif2" in x]
        if not b:
            continue
        lower = sum(x["lif2"] < x["lif1"] for x in b)
        ok = ok and lower > len(b) / 2
        parts.append(f"{label}: lif2 < lif1 in {lower} of {len(b)} blocks")
    return {"paper": text, "shown": ok if parts else None, "evidence": "; ".join(parts) or "no blocks"}


# --------------------------------------------------------------- landscape ----

def _landscape_payload(ctx, chosen):
    from msr.analysis.landscape import loss_landscape

    sizes = _analysis_sizes(ctx.profile)
    out = {}
    for key, (cfg, r) in chosen.items():
        model = trained_model(ctx, cfg, "table2")
        if model is None:
            continue
        x, y = test_batch(cfg, sizes["samples"], train_split=True)
        ls = loss_landscape(model, [(x, y)], steps=sizes["grid"], span=1.0, seed=0)
        d = ls.to_dict()
        d["nonconvexity"] = _nonconvexity(np.asarray(d["loss"]))
        out[key] = d
    return {"landscapes": out}


def _nonconvexity(loss: np.ndarray) -> float:
    """Share of interior grid points where the discrete Hessian along the axes is
    negative somewhere (a local non-convexity index; 0 for a convex bowl)."""
    if loss.shape[0] < 3:
        return float("nan")
    dxx = loss[1:-1, 2:] - 2 * loss[1:-1, 1:-1] + loss[1:-1, :-2]
    dyy = loss[2:, 1:-1] - 2 * loss[1:-1, 1:-1] + loss[:-2, 1:-1]
    return float(np.mean((dxx < 0) | (dyy < 0)))


def landscape(ctx: Ctx) -> dict:
    """Chapter 8: loss landscapes (Fig. 4) of trained vanilla and MS models at several depths."""
    runs = {(c.block, c.depth): (c, r) for c, r, _ in
            train_runs(ctx.reader(), "table2")}
    depths = sorted({d for b, d in runs if d in (20, 32, 44, 56)})
    chosen = {f"{b}-{d}": runs[(b, d)] for b in ("vanilla", "ms") for d in depths if runs[(b, d)][1] is not None}
    if not chosen:
        return {"landscape": None, "claims": [_landscape_claim(None)]}
    c = {"kind": "landscape", "runs": sorted(r["hash"] for _, r in chosen.values()),
         "grid": _analysis_sizes(ctx.profile)["grid"], "samples": _analysis_sizes(ctx.profile)["samples"]}
    res = ctx.item("landscape", c, lambda: _landscape_payload(ctx, chosen))
    return {"landscape": res, "claims": [_landscape_claim(res)]}


def _landscape_claim(res) -> dict:
    text = "the vanilla network's loss landscape grows non-convex with depth; MS-ResNet's stays well-conditioned (Fig. 4)"
    ls = (res or {}).get("landscapes") or {}
    v = sorted((int(k.split("-")[1]), d["nonconvexity"]) for k, d in ls.items() if k.startswith("vanilla"))
    m = sorted((int(k.split("-")[1]), d["nonconvexity"]) for k, d in ls.items() if k.startswith("ms"))
    if len(v) < 2 or len(m) < 2:
        return {"paper": text, "shown": None, "evidence": "not run"}
    shown = v[-1][1] > v[0][1] and m[-1][1] <= v[-1][1]
    fmt = lambda xs: ", ".join(f"{d}: {x:.2f}" for d, x in xs)
    return {"paper": text, "shown": shown, "evidence": f"non-convex share of the grid, vanilla {fmt(v)}; MS {fmt(m)}"}


# -------------------------------------------------------------------- init ----

def init(ctx: Ctx) -> dict:
    """Chapter 9: Fig. 5a first-epoch accuracy per (norm, gamma1, gamma2) and Fig. 5b
    loss curves of MS-ResNet104 with gamma2 = 1 (standard) vs 0."""
    from msr.sweep import FIG5B_DEPTH

    runs = train_runs(ctx, "init")
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
                or "not run"})
    text = "with standard BN initialisation (gamma2 = 1) MS-ResNet104's training loss does not decrease (Fig. 5b)"
    r = next((x for x in b if x["norm"] == "bn" and x["gamma2"] == 1.0 and x.get("curve")), None)
    if r and len(r["curve"]["loss"]) >= 2:
        l = r["curve"]["loss"]
        k = max(1, len(l) // 5)
        first, last = float(np.mean(l[:k])), float(np.mean(l[-k:]))
        out.append({"paper": text, "shown": last > 0.95 * first,
                    "evidence": f"loss {first:.3f} over the first fifth of steps, {last:.3f} over the last"})
    else:
        out.append({"paper": text, "shown": None, "evidence": "not run"})
    return out


# --------------------------------------------------------------- shortcuts ----

def shortcuts(ctx: Ctx) -> dict:
    """Chapter 10: Table VI sweep, SR-A (ms) / SR-B / SR-C x depth per data set."""
    runs = train_runs(ctx, "table6")
    t6 = {(c.dataset, c.block, c.depth): _acc(r) for c, r, _ in runs}
    text = "SR-A (MS-ResNet) is at least as accurate as SR-B at most depths (Table VI)"
    pairs = [(f"{ds} {d}", t6[(ds, "ms", d)]["acc"], t6[(ds, "sr_b", d)]["acc"]) for ds, b, d in t6
             if b == "ms" and t6.get((ds, "ms", d)) and t6.get((ds, "sr_b", d))]
    claim = {"paper": text, "shown": sum(a >= bb for _, a, bb in pairs) > len(pairs) / 2 if pairs else None,
             "evidence": "; ".join(f"{d}: {a:.2f} vs {bb:.2f}" for d, a, bb in pairs) or "not run"}
    return {"table6": t6, "datasets": sorted({c.dataset for c, _, _ in runs}), "claims": [claim]}


# --------------------------------------------------------------- two-phase ----

def two_phase(ctx: Ctx) -> dict:
    """Chapter 11: T = 1 pretraining, those weights at T = 6, then finetuning at T = 6."""
    runs = train_runs(ctx, "two_phase")
    first, second = runs[0], runs[1]
    res = {}
    if first[1]:
        res["T1_pretrained"] = _acc(first[1])
    if second[1]:
        r = _acc(second[1])
        res["finetuned_T6"] = r
        if second[1]["final"].get("init_acc") is not None:
            res["T1_weights_at_T6"] = {**r, "acc": second[1]["final"]["init_acc"]}
    text = "T = 1 weights run at T = 6 lose nothing, and finetuning at T = 6 improves on both (Appendix B)"
    if len(res) == 3:
        a, b, c = (res[k]["acc"] for k in ("T1_pretrained", "T1_weights_at_T6", "finetuned_T6"))
        claim = {"paper": text, "shown": b >= a - 1.0 and c > max(a, b),
                 "evidence": f"T = 1: {a:.2f} %, its weights at T = 6: {b:.2f} %, finetuned: {c:.2f} %"}
    else:
        claim = {"paper": text, "shown": None, "evidence": "not run"}
    return {"two_phase": res, "model": f"{first[0].model}{first[0].depth or ''}", "dataset": first[0].dataset,
            "claims": [claim]}


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
    ``measured`` maps a model to our firing rate and T (None: not run)."""
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
            syops = macs * m["T"] * m["rate"]
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
                            "paper: N/A" if acc is None else ""))
    deep = (results.get("degradation") or {}).get("deep") or {}
    for depth, acc in paper.DEEP_CIFAR10.items():
        r = deep.get(("ms", depth))
        rows.append(Row("Sec. III-D", f"MS-ResNet{depth}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds))
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
    dvs = next((b["result"] for b in bench_runs.get("dvs", []) if b["result"]), None)
    for work, method, params, acc in paper.TABLE_IV:
        ours = work == "paper"
        r = dvs if ours else None
        rows.append(Row("Table IV", f"{work}: {method}", acc, r and r["acc"], "%", r and r.get("provenance"),
                        r["dataset"] if r else "",
                        ("" if r else "needs CIFAR10-DVS") if ours else "cited work, not reproduced"))
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
                            m and m.get("dataset") or ds))
    for model, share in paper.EXCLUDED_FLOPS_SHARE.items():
        s = en["models"][model] if en else None
        rows.append(Row("Sec. IV-B", f"{model} share of MACs outside residual paths", share,
                        s and s["excluded_share"], "", en and en.get("provenance"), "structure"))
    fir = (results.get("firing") or {}).get("rates") or {}
    for model, rate in paper.FIRING_RATE.items():
        m = fir.get(model)
        rows.append(Row("Fig. 3", f"{model} network firing rate", rate, m and m["rate"], "",
                        m and m.get("provenance"), ds))
    rows.append(Row("Fig. 3", "MS-ResNet104 stage 3, second LIF rate", paper.FIRING_STAGE3_SECOND_LIF_104,
                    fir.get("stage3_lif2_104"), "", None, ds))
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
                                r and r.get("provenance"), r["dataset"] if r else ds))
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


def _peak(accs: dict) -> tuple[int, float] | None:
    """(depth, accuracy) of the best depth among at least 3 depths run."""
    done = {d: a for d, a in accs.items() if a is not None}
    if len(done) < 3:
        return None
    d = max(done, key=done.get)
    return d, done[d]


def claims(results: dict) -> list[dict]:
    """Each of the paper's qualitative claims with whether our stored results show it
    (``shown`` True/False, None = not run), the evidence, computed from the store, and
    the ``chapter`` that checks it."""
    out = []

    def add(paper_text, shown, evidence, chapter="degradation"):
        out.append({"paper": paper_text, "shown": shown, "evidence": evidence, "chapter": chapter})

    t2 = (results.get("degradation") or {}).get("table2") or {}
    for block, depth, text in (("plain", 14, "PlainNet peaks at 14 layers and degrades beyond"),
                               ("vanilla", 20, "the vanilla spiking ResNet peaks at 20 layers")):
        pk = _peak({d: (r or {}).get("acc") for (b, d), r in t2.items() if b == block})
        add(text, None if pk is None else pk[0] == depth,
            "fewer than 3 depths run" if pk is None else f"ours peaks at depth {pk[0]} ({pk[1]:.2f} %)")
    ms = {d: (r or {}).get("acc") for (b, d), r in t2.items() if b == "ms"}
    pk = _peak(ms)
    deepest = max((d for d, a in ms.items() if a is not None), default=None)
    add("MS-ResNet keeps improving with depth (its deepest model is its best)",
        None if pk is None else pk[0] == deepest,
        "fewer than 3 depths run" if pk is None else f"ours is best at depth {pk[0]} of depths up to {deepest}")

    eq8 = (results.get("unavailing") or {}).get("eq8")
    if eq8:
        a, m = eq8["at_vth"]["analytic"], eq8["at_vth"]["monte_carlo"]
        add("a vanilla block changes a neuron's firing state with probability about 16 % (Eq. 8)",
            abs(a - paper.EQ8_PROBABILITY) < 0.01 and abs(m - a) < 0.005,
            f"closed form {100 * a:.2f} %, Monte-Carlo {100 * m:.2f} %", chapter="unavailing")
    else:
        add("a vanilla block changes a neuron's firing state with probability about 16 % (Eq. 8)", None, "not run",
            chapter="unavailing")
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


def run(name: str, params=None, **kw) -> dict:
    """The compute step of chapter ``name`` with a notebook's :class:`msr.book.Params` (or keywords)."""
    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid: {', '.join(CHAPTER_ORDER)}")
    ctx = Ctx.from_params(params) if params is not None else Ctx(**kw)
    return CHAPTERS[name](ctx)


# ----------------------------------------------------------------------- CLI ----

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="+", metavar="NAME",
                   help=f"chapters to compute, or 'all' ({', '.join(CHAPTER_ORDER)})")
    p.add_argument("--profile", default="fmnist", help="smoke, fmnist or paper (msr.profiles)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--recompute", action="store_true", help="ignore stored results and compute again")
    p.add_argument("--data-root", default="data", help="where data sets live or are downloaded to")


def main(args: argparse.Namespace) -> int:
    from msr.book import check_parameters

    names = list(CHAPTER_ORDER) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in CHAPTERS]
    if unknown:
        raise ValueError(f"unknown chapter(s) {', '.join(unknown)}; valid: {', '.join(CHAPTER_ORDER)} or all")
    params = check_parameters({"profile": args.profile, "device": args.device, "recompute": args.recompute,
                               "data_root": args.data_root})
    failed = []
    for name in names:
        start = time.perf_counter()
        try:
            out = run(name, params)
            status = "unavailable: " + out["unavailable"] if "unavailable" in out else "ok"
        except Exception as err:  # one chapter failing does not stop the others
            status = f"FAILED: {type(err).__name__}: {err}"
            failed.append(name)
        print(f"[{name}] {status} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


__all__ = ["CHAPTERS", "CHAPTER_ORDER", "Ctx", "collect", "run", "report_rows", "energy_rows",
           "block_flow", "stage_shapes", "provenance"]
