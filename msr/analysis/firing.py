"""Firing patterns (Fig. 3, Sec. IV-B): spike counts of every LIF, recorded with hooks.

:func:`record_spikes` attaches a forward hook to every :class:`msr.neuron.LIF` of a
model (the model itself is not modified) and aggregates, per LIF, the number of
spikes and of neuron-timesteps on the fly, so memory stays constant whatever the
number of batches.  Full spike tensors are kept only for the layers named in
``keep`` (for the raster of Fig. 3b).

Definitions (Sec. IV-B):

* layer rate  = #spikes of the layer / (#neurons of the layer * T * #samples);
* network rate r = #spikes / (#neurons * T), summed over all LIFs of the network
  (the quantity Table V multiplies with T and FLOPs);
* per block: the rate of each LIF of the block by role (``lif1``, ``lif2``,
  ``lif_out``), so Fig. 3a can show both LIFs of each residual path separately.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from msr.neuron import LIF

MODES = ("eval", "train")
_BLOCK_LIF = re.compile(r"^stages\.(\d+)\.(\d+)\.(\w+)$")


@dataclass
class LayerCount:
    """Running totals of one LIF layer."""

    spikes: float = 0.0
    elements: int = 0  # neurons * T * samples
    neurons: int = 0  # neurons per sample and timestep
    T: int = 0

    @property
    def rate(self) -> float:
        return self.spikes / self.elements if self.elements else float("nan")


class SpikeRecorder:
    """Aggregated spike counts of every LIF of a model; see :func:`record_spikes`.

    ``counts[name]`` holds the totals of the LIF registered as ``name`` in
    ``model.named_modules()`` (e.g. ``stem_lif``, ``stages.1.0.lif2``, ``head_lif``),
    complete once the ``with`` block ended (inside it, after :meth:`flush`);
    ``spikes[name]`` the full ``[T, B, ...]`` spike tensors (uint8, CPU), one per
    forward call, for the kept layers only.
    """

    def __init__(self, names: list[str], keep: set[str]):
        self.names = list(names)
        self.keep = set(keep)
        self.counts: dict[str, LayerCount] = {n: LayerCount() for n in names}
        self.spikes: dict[str, list[torch.Tensor]] = {n: [] for n in sorted(keep)}
        self._pending: dict[str, torch.Tensor] = {}  # spike sums on the model's device, not yet in counts

    def _hook(self, name: str) -> Callable:
        def hook(module, inputs, output):
            o = output.detach()
            c = self.counts[name]
            s = o.sum(dtype=torch.float64)  # summed where the model runs: no device sync per call
            self._pending[name] = self._pending[name] + s if name in self._pending else s
            c.elements += o.numel()
            c.T = o.shape[0]
            c.neurons = o[0, 0].numel() if o.dim() >= 2 else 1
            if name in self.keep:
                self.spikes[name].append(o.to(device="cpu", dtype=torch.uint8))

        return hook

    def flush(self) -> None:
        """Move the device-side spike sums into ``counts`` (one transfer for all layers);
        :func:`record_spikes` calls it when its block ends."""
        if self._pending:
            names = list(self._pending)
            for n, v in zip(names, torch.stack([self._pending[n] for n in names]).tolist(), strict=True):
                self.counts[n].spikes += v
            self._pending.clear()

    # ----- summaries ---------------------------------------------------------
    def layer_rates(self) -> dict[str, float]:
        """Firing rate of every LIF that fired at least one forward call, in model order."""
        self.flush()
        return {n: c.rate for n, c in self.counts.items() if c.elements}

    def network_rate(self) -> float:
        """r = #spikes / (#neurons * T) over all LIFs (Sec. IV-B, Table V)."""
        self.flush()
        spikes = sum(c.spikes for c in self.counts.values())
        elements = sum(c.elements for c in self.counts.values())
        if not elements:
            raise RuntimeError("no LIF output recorded; run the model inside record_spikes(...)")
        return spikes / elements

    def block_rates(self) -> list[dict]:
        """Per residual block (Fig. 3a): ``{"block", "stage", "index", role: rate, ...}``
        with one entry per LIF role of the block (``lif1``, ``lif2``, ``lif_out``)."""
        self.flush()
        blocks: dict[tuple[int, int], dict] = {}
        for name, c in self.counts.items():
            m = _BLOCK_LIF.match(name)
            if not m or not c.elements:
                continue
            s, b, role = int(m[1]), int(m[2]), m[3]
            entry = blocks.setdefault((s, b), {"block": f"stages.{s}.{b}", "stage": s, "index": b})
            entry[role] = c.rate
        return [blocks[k] for k in sorted(blocks)]

    def stage_rates(self) -> list[dict]:
        """Per stage: pooled rate of each LIF role and of all block LIFs of the stage
        (``{"stage": s, "all": r, "lif1": r1, ...}``), pooled as spikes / elements."""
        self.flush()
        acc: dict[int, dict[str, list[float]]] = {}
        for name, c in self.counts.items():
            m = _BLOCK_LIF.match(name)
            if not m or not c.elements:
                continue
            s, role = int(m[1]), m[3]
            for key in (role, "all"):
                tot = acc.setdefault(s, {}).setdefault(key, [0.0, 0])
                tot[0] += c.spikes
                tot[1] += c.elements
        return [{"stage": s, **{k: v[0] / v[1] for k, v in acc[s].items()}} for s in sorted(acc)]

    def kept(self, name: str) -> torch.Tensor:
        """Kept spikes of layer ``name`` concatenated over forward calls: ``[T, N, ...]`` uint8."""
        if name not in self.spikes:
            raise KeyError(f"layer {name!r} was not kept; kept layers: {sorted(self.spikes)}")
        if not self.spikes[name]:
            raise RuntimeError(f"layer {name!r} recorded no forward call")
        return torch.cat(self.spikes[name], dim=1)

    def to_dict(self) -> dict:
        """JSON-ready summary (no spike tensors)."""
        return {
            "network_rate": self.network_rate(),
            "layers": {n: {**asdict(c), "rate": c.rate} for n, c in self.counts.items() if c.elements},
            "blocks": self.block_rates(),
            "stages": self.stage_rates(),
        }


@contextlib.contextmanager
def analysis_mode(model: nn.Module, mode: str):
    """Put ``model`` in ``mode`` and restore its modes and buffers on exit.

    ``eval``: BN uses running statistics (for trained models).  ``train``: BN uses the
    statistics of the batch, as in training -- use it at initialisation, where the
    running statistics (0 and 1) describe nothing; the running statistics it updates
    are restored on exit.  Dropout is off in both, so analyses are deterministic.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    was_training = {m: m.training for m in model.modules()}
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    model.train(mode == "train")
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    try:
        yield model
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(buffers[n])
        for m, t in was_training.items():
            m.training = t


def _run(model: nn.Module, x: torch.Tensor, T: int | None):
    return model(x, T=T) if T is not None else model(x)


def lif_names(model: nn.Module) -> list[str]:
    """Names of every :class:`msr.neuron.LIF` of ``model`` in registration order."""
    return [n for n, m in model.named_modules() if isinstance(m, LIF)]


@contextlib.contextmanager
def record_spikes(model: nn.Module, keep: Iterable[str] = ()) -> Iterator[SpikeRecorder]:
    """Hook every LIF of ``model`` for the duration of the ``with`` block.

    ``keep``: LIF names whose full spike tensors to store (e.g. 3 layers for the
    raster of Fig. 3b); everything else is only counted.  The hooks are removed on
    exit and never change the model's outputs.
    """
    names = lif_names(model)
    keep = set(keep)
    unknown = keep - set(names)
    if unknown:
        raise ValueError(f"unknown LIF layer(s) {sorted(unknown)}; valid: {', '.join(names)}")
    rec = SpikeRecorder(names, keep)
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_hook(rec._hook(n)) for n in names]
    try:
        yield rec
    finally:
        for h in handles:
            h.remove()
        rec.flush()


def _as_inputs(batches) -> list[torch.Tensor]:
    """A tensor, an ``(x, y)`` pair or a list of either -> list of input tensors."""
    if isinstance(batches, torch.Tensor):
        return [batches]
    if isinstance(batches, tuple) and len(batches) == 2 and isinstance(batches[0], torch.Tensor):
        return [batches[0]]
    out = []
    for b in batches:
        out.append(b[0] if isinstance(b, (tuple, list)) else b)
    if not out:
        raise ValueError("no input batch given")
    return out


@torch.no_grad()
def firing_rates(model: nn.Module, batches, T: int | None = None, keep: Iterable[str] = (),
                 mode: str = "eval") -> SpikeRecorder:
    """Run ``model`` over ``batches`` (tensor, ``(x, y)`` or a list of them) and return
    the filled :class:`SpikeRecorder` (Fig. 3a).  ``mode``: see :func:`analysis_mode`."""
    with analysis_mode(model, mode), record_spikes(model, keep=keep) as rec:
        for x in _as_inputs(batches):
            _run(model, x, T)
    return rec


def spike_raster(spikes: torch.Tensor, neurons: int = 100, samples: int | None = None, seed: int = 0) -> np.ndarray:
    """Raster of Fig. 3b from one layer's spikes ``[T, N, ...]``.

    Picks ``neurons`` neurons at random (fixed by ``seed``, the same neurons for every
    sample) and returns a binary ``uint8`` array ``[neurons, samples * T]``: column
    ``s * T + t`` is timestep ``t`` of sample ``s``.
    """
    if spikes.dim() < 3:
        raise ValueError(f"spikes must be [T, N, ...] with per-sample neurons, got shape {tuple(spikes.shape)}")
    T, N = spikes.shape[:2]
    flat = spikes.reshape(T, N, -1)
    total = flat.shape[2]
    if not 1 <= neurons <= total:
        raise ValueError(f"neurons must lie in [1, {total}] (the layer's size), got {neurons}")
    samples = N if samples is None else samples
    if not 1 <= samples <= N:
        raise ValueError(f"samples must lie in [1, {N}], got {samples}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(total, generator=g)[:neurons].sort().values
    sel = flat[:, :samples, idx]  # [T, S, neurons]
    return sel.permute(2, 1, 0).reshape(neurons, samples * T).to(torch.uint8).cpu().numpy()


def plot_raster(ax, rasters: dict[str, np.ndarray], T: int | None = None, marker_size: float = 2.0):
    """Fig. 3b: spike rasters of several layers stacked on one Axes.

    ``rasters`` maps a layer label to a ``[neurons, steps]`` binary array (from
    :func:`spike_raster`); layers are separated by thin solid lines and, with ``T``,
    samples by dashed dark lines.  The Axes' grid is turned off, so that no line but
    these two kinds crosses the spikes.
    """
    ax.grid(False)
    total = sum(r.shape[0] for r in rasters.values())
    offset = 0
    yticks, ylabels = [], []
    for label, r in rasters.items():
        n, steps = r.shape
        ys, xs = np.nonzero(r)
        ax.scatter(xs, ys + offset, s=marker_size, marker="|", linewidths=0.8)
        yticks.append(offset + n / 2)
        ylabels.append(label)
        offset += n
        if offset < total:  # between layers, not below the last
            ax.axhline(offset - 0.5, color="0.35", lw=0.8)
    if T:
        steps = max(r.shape[1] for r in rasters.values())
        for x in range(T, steps, T):
            ax.axvline(x - 0.5, color="0.1", lw=1.4, ls=(0, (4, 2)))
    ax.set_yticks(yticks, ylabels)
    ax.set_ylim(-0.5, offset - 0.5)
    ax.invert_yaxis()
    ax.set_xlabel("timestep (dashed lines separate the samples)" if T else "timestep")
    return ax


def plot_block_rates(ax, block_rates: list[dict], roles: Iterable[str] | None = None,
                     label: Callable[[str], str] = str):
    """Fig. 3a: firing rate of each LIF role against block index, stage boundaries marked;
    ``label(role)`` names a role in the legend (e.g. :func:`msr.structure.layer_label`)."""
    from matplotlib.ticker import MaxNLocator

    roles = list(roles) if roles else sorted({k for b in block_rates for k in b} - {"block", "stage", "index"})
    x = np.arange(1, len(block_rates) + 1)  # counted from 1, as the paper counts blocks and stages
    for role in roles:
        ax.plot(x, [b.get(role, np.nan) for b in block_rates], marker="o", ms=3, label=label(role))
    for i in range(1, len(block_rates)):
        if block_rates[i]["stage"] != block_rates[i - 1]["stage"]:
            ax.axvline(i + 0.5, color="0.7", lw=0.8, ls="--")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # blocks are whole: no 1.25 for a 3-block network
    ax.set_xlabel("block (from the input, counted across stages)")
    ax.set_ylabel("firing rate")
    ax.legend()
    return ax
