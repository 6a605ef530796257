"""Energy estimate of Table V (45 nm, 32-bit FP: 4.6 pJ per MAC, 0.9 pJ per AC).

* FLOPs: multiply-accumulates of the spike-driven convolutions of the residual paths,
  per image and timestep (the numbers of ``msr.structure.summarize(model).residual_convs``,
  here counted from the output shapes seen on the data, so any device works); the
  encoding layer and the shortcut downsampling are excluded, as in the paper.
* SyOPs, paper formula: ``T * r * FLOPs`` with the network firing rate r (Sec. IV-B).
* SyOPs, measured: ``sum_conv rate_in(conv) * T * MACs(conv)``, with the input firing
  rate of every residual conv measured by a forward pre-hook (for MS blocks conv1
  sees lif1's spikes and conv2 lif2's).  This still assumes a conv's MACs spread
  evenly over its input neurons (padding makes edge neurons cheaper).
* E(ANN) = e_mac * FLOPs (the ANN runs once, no T); E(SNN) = e_ac * SyOPs.
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


def table_v_row(flops: float, T: int, rate: float, e_mac_pj: float = ENERGY_PJ["mac"], e_ac_pj: float = ENERGY_PJ["ac"]) -> Energy:
    """A Table V row from FLOPs, T and the network firing rate (paper formula)."""
    return energy(flops, syops_from_rate(flops, T, rate), e_mac_pj, e_ac_pj)


def residual_conv_names(model: nn.Module) -> list[str]:
    """Names (``stages.s.b.conv1``/``conv2``) of the residual-path convs Table V counts."""
    return [f"stages.{s}.{b}.{c}" for s, stage in enumerate(model.stages) for b in range(len(stage)) for c in ("conv1", "conv2")]


def conv_macs(conv: nn.Conv2d, out: torch.Tensor) -> int:
    """MACs per image and timestep of ``conv`` producing ``out`` ``[..., C_out, H, W]``
    (the count ``msr.structure.summarize`` gets from ``torch.utils.flop_counter``)."""
    c_out, h, w = out.shape[-3:]
    kh, kw = conv.kernel_size
    return int(c_out * h * w * (conv.in_channels // conv.groups) * kh * kw)


@dataclass
class MeasuredEnergy:
    """Energy measured on data: per-conv input rates and both SyOPs estimates."""

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

    def to_dict(self) -> dict:
        return asdict(self)


def measure_energy(
    model: nn.Module,
    batches,
    T: int | None = None,
    e_mac_pj: float = ENERGY_PJ["mac"],
    e_ac_pj: float = ENERGY_PJ["ac"],
    mode: str = "eval",
) -> MeasuredEnergy:
    """Table V for ``model`` on ``batches`` (tensor, ``(x, y)`` or a list of them), eval mode.

    ``conv_input_rate`` is the fraction of non-zero inputs of each residual conv (the
    firing rate where the input is spikes; ``conv_input_binary`` says whether it was).
    ``mode``: see :func:`msr.analysis.firing.analysis_mode`.
    """
    inputs = _as_inputs(batches)
    x0 = inputs[0]
    T_run = x0.shape[0] if x0.dim() == 5 else (T if T is not None else model.T)
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
    syops_measured = sum(rates[n] * T_run * macs[n] for n in macs)
    r = rec.network_rate()
    syops_formula = syops_from_rate(flops, T_run, r)
    notes = []
    if not all(binary.values()):
        notes.append("some residual convs receive non-binary input: their operations are MACs, not ACs")
    return MeasuredEnergy(
        T=T_run, flops=flops, network_rate=r, conv_macs=dict(macs), conv_input_rate=rates,
        conv_input_binary=binary, syops_measured=syops_measured, syops_formula=syops_formula,
        measured=energy(flops, syops_measured, e_mac_pj, e_ac_pj),
        formula=energy(flops, syops_formula, e_mac_pj, e_ac_pj), samples=samples, notes=notes,
    )
