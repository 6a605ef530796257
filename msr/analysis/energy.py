"""Energy estimate of Table V (45 nm, 32-bit FP: 4.6 pJ per MAC, 0.9 pJ per AC).

* FLOPs: multiply-accumulates of the spike-driven convolutions of the residual paths,
  per image and timestep (the numbers of ``msr.structure.summarize(model).residual_convs``,
  here counted from the output shapes seen on the data, so any device works); the
  encoding layer and the shortcut downsampling are excluded, as in the paper.
* SyOPs, paper formula: ``T * r * FLOPs`` (Sec. IV-C, Table V) with the network firing
  rate r = #Spike / (#Neuron * T) (Sec. IV-B).
* SyOPs, measured: ``sum_conv rate_in(conv) * T * MACs(conv)``, with the input firing
  rate of every residual conv measured by a forward pre-hook (for MS blocks conv1
  sees lif1's spikes and conv2 lif2's).  This still assumes a conv's MACs spread
  evenly over its input neurons (padding makes edge neurons cheaper).
* E(ANN) = e_mac * FLOPs (the ANN runs once, no T); E(SNN) = e_ac * SyOPs.

Static images (ImageNet rows) are counted per sample: the ANN runs once, the SNN T
times, so SyOPs carry the factor T and the ratio tends to T * r * E(AC) / E(MAC).
Event streams (the CIFAR10-DVS row) are counted per frame on both sides: a sequence
model, ANN or SNN, processes every one of the T frames, so "the number of timesteps T
will not contribute as a factor to the energy consumption ratio" (Sec. IV-C), and the
paper's row is per frame: 40.11M FLOPs and 8.32M SyOPs = 40.11M x 0.207 (no T).
``per_frame`` selects this counting (:func:`table_v_row`, :func:`measure_energy`, which
picks it for ``[T, B, C, H, W]`` inputs).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from msr.analysis.firing import _as_inputs, _run, analysis_mode, record_spikes
from msr.paper import ENERGY_PJ


@dataclass
class Energy:
    """One row of Table V; energies in millijoules per sample."""

    flops: float
    syops: float
    e_ann_mj: float
    e_snn_mj: float
    ratio: float

    def to_dict(self) -> dict:
        return asdict(self)


def energy(flops: float, syops: float, e_mac_pj: float = ENERGY_PJ["mac"], e_ac_pj: float = ENERGY_PJ["ac"]) -> Energy:
    """E(ANN) = e_mac * FLOPs, E(SNN) = e_ac * SyOPs, and their ratio (Table V)."""
    if flops < 0 or syops < 0:
        raise ValueError(f"FLOPs and SyOPs must be >= 0, got {flops}, {syops}")
    e_ann = flops * e_mac_pj * 1e-9  # pJ -> mJ
    e_snn = syops * e_ac_pj * 1e-9
    return Energy(flops, syops, e_ann, e_snn, e_ann / e_snn if e_snn else float("inf"))


def syops_from_rate(flops: float, T: int, rate: float) -> float:
    """The paper's SyOPs = T * r * FLOPs (Table V, e.g. 3.53G * 6 * 0.225 = 4.77G)."""
    if T < 1 or not 0.0 <= rate <= 1.0:
        raise ValueError(f"need T >= 1 and a firing rate in [0, 1], got T={T}, rate={rate}")
    return T * rate * flops


def table_v_row(flops: float, T: int | None, rate: float, e_mac_pj: float = ENERGY_PJ["mac"],
                e_ac_pj: float = ENERGY_PJ["ac"], per_frame: bool = False) -> Energy:
    """A Table V row from FLOPs, T and the network firing rate (paper formula).

    ``per_frame`` (event data, the CIFAR10-DVS row): FLOPs and SyOPs both per frame,
    SyOPs = r * FLOPs, so T (which may then be None) is not a factor of the ratio."""
    if per_frame:
        return energy(flops, syops_from_rate(flops, 1, rate), e_mac_pj, e_ac_pj)
    if T is None:
        raise ValueError("T is needed for a per-sample row; pass per_frame=True for event data (Sec. IV-C)")
    return energy(flops, syops_from_rate(flops, T, rate), e_mac_pj, e_ac_pj)


def residual_conv_names(model: nn.Module) -> list[str]:
    """Names (``stages.s.b.conv1``/``conv2``) of the residual-path convs Table V counts."""
    return [f"stages.{s}.{b}.{c}" for s, stage in enumerate(model.stages) for b in range(len(stage))
            for c in ("conv1", "conv2")]


def conv_macs(conv: nn.Conv2d, out: torch.Tensor) -> int:
    """MACs per image and timestep of ``conv`` producing ``out`` ``[..., C_out, H, W]``
    (the count ``msr.structure.summarize`` gets from ``torch.utils.flop_counter``)."""
    c_out, h, w = out.shape[-3:]
    kh, kw = conv.kernel_size
    return int(c_out * h * w * (conv.in_channels // conv.groups) * kh * kw)


@dataclass
class MeasuredEnergy:
    """Energy measured on data: per-conv input rates and both SyOPs estimates.

    ``per_frame``: FLOPs, SyOPs and energies are per frame (event data) rather than per
    sample; ``T`` is the number of timesteps the model ran either way."""

    T: int
    flops: float
    network_rate: float
    conv_macs: dict[str, int]
    conv_input_rate: dict[str, float]
    conv_input_binary: dict[str, bool]
    syops_measured: float
    syops_formula: float
    measured: Energy
    formula: Energy
    samples: int = 0
    notes: list[str] = field(default_factory=list)
    per_frame: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def measure_energy(
    model: nn.Module,
    batches,
    T: int | None = None,
    e_mac_pj: float = ENERGY_PJ["mac"],
    e_ac_pj: float = ENERGY_PJ["ac"],
    mode: str = "eval",
    per_frame: bool | None = None,
) -> MeasuredEnergy:
    """Table V for ``model`` on ``batches`` (tensor, ``(x, y)`` or a list of them), eval mode.

    ``conv_input_rate`` is the fraction of non-zero inputs of each residual conv (the
    firing rate where the input is spikes; ``conv_input_binary`` says whether it was).
    ``T``: timesteps for static images (default ``model.T``; ResNet-104 is evaluated at
    T = 5, Table V); event frames bring their own.  ``per_frame``: count both sides per
    frame (None: yes for event frames ``[T, B, C, H, W]``, no for images; module
    docstring).  ``mode``: see :func:`msr.analysis.firing.analysis_mode`.
    """
    inputs = _as_inputs(batches)
    x0 = inputs[0]
    T_run = x0.shape[0] if x0.dim() == 5 else (T if T is not None else model.T)
    if per_frame is None:
        per_frame = x0.dim() == 5
    steps = 1 if per_frame else T_run  # timesteps one counted unit (sample or frame) spans
    names = residual_conv_names(model)
    modules = dict(model.named_modules())
    counts = {n: [0.0, 0, True] for n in names}
    macs: dict[str, int] = {}

    def pre_hook(name):
        def fn(module, args):
            x = args[0].detach()
            c = counts[name]
            c[0] += float((x != 0).sum(dtype=torch.float64))
            c[1] += x.numel()
            c[2] = c[2] and bool(((x == 0) | (x == 1)).all())

        return fn

    def post_hook(name):
        def fn(module, args, out):
            macs[name] = conv_macs(module.conv, out)

        return fn

    handles = [modules[n].register_forward_pre_hook(pre_hook(n)) for n in names]
    handles += [modules[n].register_forward_hook(post_hook(n)) for n in names]
    samples = 0
    try:
        with torch.no_grad(), analysis_mode(model, mode), record_spikes(model) as rec:
            for x in inputs:
                _run(model, x, T)
                samples += x.shape[0] if x.dim() == 4 else x.shape[1]
    finally:
        for h in handles:
            h.remove()
    rates = {n: c[0] / c[1] for n, c in counts.items()}
    binary = {n: c[2] for n, c in counts.items()}
    flops = float(sum(macs.values()))
    syops_measured = sum(rates[n] * steps * macs[n] for n in macs)
    r = rec.network_rate()
    syops_formula = syops_from_rate(flops, steps, r)
    notes = []
    if not all(binary.values()):
        notes.append("some residual convs receive non-binary input: their operations are MACs, not ACs")
    return MeasuredEnergy(
        T=T_run, flops=flops, network_rate=r, conv_macs=dict(macs), conv_input_rate=rates,
        conv_input_binary=binary, syops_measured=syops_measured, syops_formula=syops_formula,
        measured=energy(flops, syops_measured, e_mac_pj, e_ac_pj),
        formula=energy(flops, syops_formula, e_mac_pj, e_ac_pj), samples=samples, notes=notes,
        per_frame=bool(per_frame),
    )
