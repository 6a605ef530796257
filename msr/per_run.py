"""Analyses of one trained model, run as soon as it is trained, stored per run.

A finished training run is analysed at once, in the process that trained it
(:func:`analyse`, called by ``msr sweep``, ``msr compute`` and the budgeted GPU
commands of :mod:`msr.budget`), and every analysis is stored as a small result keyed
by the run's hash: ``results/<profile>/<folder>/<key>.json`` (+ ``.npz``) with the
config ``{"kind", "experiment", "run": <run hash>, sizes...}``.  The chapters
(:mod:`msr.chapters`) assemble their figures from these items (:func:`result`), so no
checkpoint has to outlive the command that trained the model.

Which trained models get which analysis (``ANALYSES``):

* ``state_change`` (Sec. III-B, Eq. 8): Table II vanilla models;
* ``ssim`` (Fig. 2b): Table II vanilla and MS models at depth 44 and 56;
* ``isometry`` (Sec. III-B, gradient norm per block of the trained model): Table II
  vanilla and MS models;
* ``firing`` (Fig. 3, rates per LIF and rasters of 3 layers): every Table II model and
  the ``short``, ``dvs`` and ``imagenet`` runs;
* ``energy`` (Table V from measured rates): the MS models of those runs;
* ``landscape`` (Fig. 4): Table II vanilla and MS models at depth 20, 32, 44 and 56.

Inputs are the first test (or training) images of the run's data set with the test
transform (padding and normalisation as in training, no random augmentation); for data
sets stored class by class (:data:`msr.data.CLASS_ORDERED`: ImageNet, CIFAR10-DVS) a
seeded random draw instead, as the paper's "batch of random samples" (Sec. IV-B), since
their first samples are a few classes only.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np

SSIM_DEPTHS = (44, 56)
LANDSCAPE_DEPTHS = (20, 32, 44, 56)
#: the trained models the energy and firing chapters measure, besides Table II's
MEASURED_EXPERIMENTS = ("short", "dvs", "imagenet")
#: part of every key: what the analyses feed the model (changing it recomputes everything)
INPUTS = "test transform, first samples"
#: ... for the data sets stored class by class (msr.data.CLASS_ORDERED)
INPUTS_DRAWN = "test transform, seeded random samples"


def inputs_of(cfg) -> str:
    """Which samples the analyses of a run of ``cfg`` see (:data:`INPUTS` or :data:`INPUTS_DRAWN`)."""
    from msr.data import CLASS_ORDERED

    return INPUTS_DRAWN if cfg.dataset in CLASS_ORDERED else INPUTS


def analysis_sizes(profile: str) -> dict:
    """How much data each analysis looks at (smoke: seconds on a CPU); the sizes an
    analysis uses are part of its key (:func:`item_config`)."""
    if profile == "smoke":
        return dict(samples=8, grid=5, probes=2, iso_depths=(8, 20, 44), iso_batch=4)
    return dict(samples=256, grid=21, probes=8, iso_depths=(8, 14, 20, 32, 44, 56, 110, 482), iso_batch=16)


def analysis_T(cfg, x) -> int | None:
    """The T a trained model is analysed at: its inference T (``test_T``, ResNet-104: 5 as
    in Table V) for images, None for event frames (they bring their own T)."""
    return None if x.dim() == 5 else (cfg.test_T or cfg.T)


def _table2(*blocks: str, depths: tuple[int, ...] | None = None) -> Callable:
    def applies(experiment: str, cfg) -> bool:
        return (experiment == "table2" and (not blocks or cfg.block in blocks)
                and (depths is None or cfg.depth in depths))
    return applies


def _firing_applies(experiment: str, cfg) -> bool:
    """Table II, the measured experiments, and the MS-ResNet104s (Table V, Fig. 3a stage 3):
    the finetuned two-phase ImageNet model and Fig. 5b's CIFAR-family run with MS's own
    initialisation (``msr.chapters._runs.measured_models`` labels the same runs)."""
    if experiment == "two_phase":
        return cfg.model == "imagenet_resnet104" and bool(cfg.init_from)
    if experiment == "init":
        return cfg.depth == 104 and cfg.norm == "tdbn" and cfg.gamma1 == 1.0 and cfg.gamma2 == 0.0
    return experiment == "table2" or experiment in MEASURED_EXPERIMENTS


def _energy_applies(experiment: str, cfg) -> bool:
    return _firing_applies(experiment, cfg) and cfg.block == "ms"


# ------------------------------------------------------------------ analyses ----

def _state_change(model, cfg, inputs, sizes):
    from msr.analysis.unavailing import state_change_fraction

    x, _ = inputs.get(cfg, sizes["samples"])
    return {"rows": state_change_fraction(model, x)}


def _ssim(model, cfg, inputs, sizes):
    from msr.analysis.ssim import block_ssim

    x, _ = inputs.get(cfg, sizes["samples"])
    return block_ssim(model, x).to_dict()


def _isometry(model, cfg, inputs, sizes):
    from msr.analysis.isometry import gradient_norms

    x, y = inputs.get(cfg, sizes["iso_batch"], train_split=True)
    return {"block": cfg.block, "depth": cfg.depth, "state": "trained",
            "grad_norms": gradient_norms(model, x, y, mode="eval"),
            "stages": [s for s, st in enumerate(model.stages) for _ in st]}


def _firing(model, cfg, inputs, sizes):
    from msr.analysis.firing import firing_rates, spike_raster

    names = [n for n, _ in model.named_modules() if n.endswith(("lif1", "lif2"))]
    keep = [names[0], names[len(names) // 2], names[-1]] if names else []
    x, _ = inputs.get(cfg, sizes["samples"])
    T = analysis_T(cfg, x)  # the inference T (ResNet-104: 5, Table V); event frames bring theirs
    rec = firing_rates(model, x, T=T, keep=keep)
    d = rec.to_dict()
    arrays = {}
    for i, n in enumerate(keep):
        spikes = rec.kept(n)
        arrays[f"raster{i}"] = spike_raster(spikes, neurons=min(100, spikes[0, 0].numel()),
                                            samples=min(4, spikes.shape[1]))
    return {"network_rate": d["network_rate"], "blocks": d["blocks"], "stages": d["stages"], "kept": keep,
            "T": T or x.shape[0]}, arrays


def _energy(model, cfg, inputs, sizes):
    from msr.analysis.energy import measure_energy

    x, _ = inputs.get(cfg, sizes["samples"])
    m = measure_energy(model, x, T=analysis_T(cfg, x))  # event frames: counted per frame (Sec. IV-C)
    return {"T": m.T, "per_frame": m.per_frame, "flops": m.flops, "rate": m.network_rate, "syops": m.syops_formula,
            "syops_measured": m.syops_measured, "e_ann_mj": m.formula.e_ann_mj, "e_snn_mj": m.formula.e_snn_mj,
            "ratio": m.formula.ratio, "e_snn_measured_mj": m.measured.e_snn_mj,
            "ratio_measured": m.measured.ratio, "notes": m.notes}


def _landscape(model, cfg, inputs, sizes):
    from msr.analysis.landscape import loss_landscape, nonconvexity

    x, y = inputs.get(cfg, sizes["samples"], train_split=True)
    d = loss_landscape(model, [(x, y)], steps=sizes["grid"], span=1.0, seed=0).to_dict()
    d["nonconvexity"] = nonconvexity(np.asarray(d["loss"]))
    return d


@dataclass(frozen=True)
class Analysis:
    """One analysis of a trained model: where it is stored, which runs get it, the
    sizes (keys of :func:`analysis_sizes`) that are part of its key."""

    kind: str
    folder: str  # results-store folder (shared with the chapter's other items)
    applies: Callable[[str, object], bool]
    sizes: tuple[str, ...]
    compute: Callable
    version: int = 1  # of the analysis' definition; part of the key from 2 on (1 keeps older keys)


ANALYSES: tuple[Analysis, ...] = (
    Analysis("state_change", "state_change", _table2("vanilla"), ("samples",), _state_change, version=2),
    # 2: one value per block, block i at place i for both networks (stem_lif / head_lif)
    Analysis("ssim", "ssim", _table2("vanilla", "ms", depths=SSIM_DEPTHS), ("samples",), _ssim, version=2),
    Analysis("isometry", "isometry", _table2("vanilla", "ms"), ("iso_batch",), _isometry),
    Analysis("firing", "firing", _firing_applies, ("samples",), _firing),
    Analysis("energy", "energy_measured", _energy_applies, ("samples",), _energy),
    Analysis("landscape", "landscape", _table2("vanilla", "ms", depths=LANDSCAPE_DEPTHS), ("samples", "grid"),
             _landscape),
)
KINDS = tuple(a.kind for a in ANALYSES)


def _get(kind: str) -> Analysis:
    for a in ANALYSES:
        if a.kind == kind:
            return a
    raise ValueError(f"unknown per-run analysis {kind!r}; valid: {', '.join(KINDS)}")


def item_config(kind: str, experiment: str, cfg, profile: str, sizes: dict | None = None) -> dict:
    """The results-store key of analysis ``kind`` of the run ``cfg`` of ``experiment``
    (``sizes``: :func:`analysis_sizes` of the profile unless given)."""
    a = _get(kind)
    sizes = analysis_sizes(profile) if sizes is None else sizes
    return {"kind": f"{kind}_run", "experiment": experiment, "run": cfg.hash(), "inputs": inputs_of(cfg),
            **{k: sizes[k] for k in a.sizes}, **({"version": a.version} if a.version > 1 else {})}


def applicable(experiment: str, cfg) -> list[Analysis]:
    """The analyses the run ``cfg`` of ``experiment`` gets (possibly none): runs of the
    primary seed only (:data:`msr.sweep.PRIMARY_SEED`); the chapters show those models."""
    from msr.sweep import PRIMARY_SEED

    if cfg.seed != PRIMARY_SEED:
        return []
    return [a for a in ANALYSES if a.applies(experiment, cfg)]


def pending(experiment: str, cfg, profile: str, store) -> list[str]:
    """Kinds of analysis this run gets that the store does not hold yet."""
    return [a.kind for a in applicable(experiment, cfg)
            if store.get(profile, a.folder, item_config(a.kind, experiment, cfg, profile)) is None]


# -------------------------------------------------------------------- inputs ----

class Inputs:
    """Analysis batches ``(x, y)``, built once per data set and size and kept on ``device``."""

    def __init__(self, device="cpu"):
        from msr.train import resolve_device

        self.device = resolve_device(str(device))
        self._batches: dict = {}

    def get(self, cfg, n: int, train_split: bool = False):
        normalize = ("normalize",) if "normalize" in cfg.augment else ()
        key = (cfg.dataset, str(cfg.data_root), cfg.input_size, cfg.data_seed, cfg.T, normalize, n, train_split)
        if key not in self._batches:
            self._batches[key] = tuple(t.to(self.device) for t in analysis_batch(cfg, n, train_split))
        return self._batches[key]


def analysis_batch(cfg, n: int, train_split: bool = False):
    """The first ``n`` test (or training) samples of ``cfg``'s data set (``n`` drawn at
    random, seed 0, where it is stored class by class: :func:`inputs_of`), with the test
    transform (the training normalisation, no random augmentation), model-ready."""
    import torch

    from msr.data import build_datasets, take_subset
    from msr.train import to_model_input

    keep = tuple(a for a in cfg.augment if a == "normalize")
    tr, te, info = build_datasets(cfg.replace(augment=keep))
    ds = take_subset(tr if train_split else te, n, "random" if inputs_of(cfg) == INPUTS_DRAWN else "first")
    items = [ds[i] for i in range(len(ds))]
    x = torch.stack([torch.as_tensor(a) for a, _ in items])
    y = torch.as_tensor([int(b) for _, b in items])
    return to_model_input(x, info.time_first), y


# ------------------------------------------------------------------ running ----

def analyse(cfg, experiment: str, profile: str, *, store, run_dir="runs", device=None, kinds=None,
            force: bool = False, deadline=None, inputs: Inputs | None = None, sizes: dict | None = None,
            log=print) -> dict[str, str]:
    """Run the analyses of the finished run ``cfg`` (its weights in ``run_dir``) that the
    store lacks (all of them with ``force``) and store each one; ``kinds`` restricts them;
    ``sizes``: :func:`analysis_sizes` of the profile unless given.

    Starts no analysis once ``deadline.left() <= 0``.  An analysis that fails is
    reported and nothing of it is stored; the others still run.  Returns
    ``{kind: "stored" | "computed" | "failed: ..." | "no weights" | "out of time"}``.
    """
    from msr.results import CheckpointError
    from msr.train import WeightsNotFound, load_trained, resolve_device

    todo = [a for a in applicable(experiment, cfg) if kinds is None or a.kind in kinds]
    status = {}
    sizes = analysis_sizes(profile) if sizes is None else sizes
    keys = {a.kind: item_config(a.kind, experiment, cfg, profile, sizes) for a in todo}
    if not force:
        for a in todo:
            if store.get(profile, a.folder, keys[a.kind]) is not None:
                status[a.kind] = "stored"
        todo = [a for a in todo if a.kind not in status]
    if not todo:
        return status
    dev = resolve_device(str(device or cfg.device))
    try:
        model = load_trained(cfg, run_dir, profile=profile, experiment=experiment, device=dev)
    except WeightsNotFound:
        return {**status, **{a.kind: "no weights" for a in todo}}
    except CheckpointError as err:  # weights present but damaged: say so, store nothing
        log(f"  analyses of run {cfg.hash()} not computed, nothing stored: {err}")
        return {**status, **{a.kind: f"failed: {err}" for a in todo}}
    inputs = inputs if inputs is not None and inputs.device == dev else Inputs(dev)
    for a in todo:
        if deadline is not None and deadline.left() <= 0:
            status[a.kind] = "out of time"
            continue
        t0 = time.perf_counter()
        try:
            store.get_or_compute(profile, a.folder, keys[a.kind], lambda a=a: a.compute(model, cfg, inputs, sizes),
                                 recompute=True, device=dev)
            status[a.kind] = "computed"
        except Exception as err:  # noqa: BLE001 - one failing analysis must not stop the others
            status[a.kind] = f"failed: {type(err).__name__}: {err}"
            log(f"  analysis {a.kind} of run {cfg.hash()} failed ({type(err).__name__}: {err}); nothing stored\n"
                + "".join(traceback.format_exception(err)[-3:]))
            continue
        log(f"  analysis {a.kind} of run {cfg.hash()}: stored ({time.perf_counter() - t0:.1f} s)")
    return status


def result(ctx, kind: str, experiment: str, cfg) -> tuple[dict, dict | None] | None:
    """``(stored item, its arrays or None)`` of analysis ``kind`` of run ``cfg``; computed
    first when the store lacks it, the context may compute and the run's weights are
    on this machine (``runs/``).  None when it is neither stored nor computable."""
    a = _get(kind)
    key = item_config(kind, experiment, cfg, ctx.profile)
    found = ctx.store.get(ctx.profile, a.folder, key)
    if found is None and not ctx.render_only:
        status = analyse(cfg, experiment, ctx.profile, store=ctx.store, device=ctx.device, kinds=(kind,),
                         log=lambda *_: None)
        if status.get(kind, "").startswith("failed"):  # damaged weights or a failing analysis: an error
            from msr.results import IncompleteInputs

            raise IncompleteInputs(f"{kind} of run {cfg.hash()} not computed, nothing stored: "
                                   f"{status[kind][len('failed: '):]}")
        found = ctx.store.get(ctx.profile, a.folder, key)
    if found is None:
        return None
    return found, ctx.store.get_arrays(ctx.profile, a.folder, key)


def payload(item: dict) -> dict:
    """A stored item without its bookkeeping (config, hash, provenance, wall time)."""
    return {k: v for k, v in item.items() if k not in ("config", "hash", "provenance", "wall_time_s")}


__all__ = ["ANALYSES", "Analysis", "Inputs", "KINDS", "LANDSCAPE_DEPTHS", "SSIM_DEPTHS", "analyse",
           "analysis_batch", "applicable", "item_config", "payload", "pending", "result"]
