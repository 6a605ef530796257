"""SSIM between the firing-rate maps of consecutive residual blocks (Fig. 2a-b).

Sampling points (Fig. 2a): for the vanilla spiking ResNet the output spikes of each
block (``lif_out``); for MS-ResNet the first LIF of each residual path (``lif1``),
which spikes on the block's membrane input.  Each map is the firing rate, the mean
of the spikes over T: ``[B, C, H, W]`` with values in [0, 1].  SSIM is scikit-image's
``structural_similarity`` with ``data_range=1``, per channel and sample, averaged
over channels and samples.

One value per block, the same block at the same place for both networks: block i's
value compares the spikes on its input with those on its output.  Vanilla samples
outputs, so its points start with the LIF that spikes on the first block's input
(``stem_lif``); MS samples inputs, so its points end with the LIF that spikes on the
last block's output (``head_lif``).  N blocks: N + 1 points, N values.

Stage boundaries.  Where two consecutive maps differ in shape (a downsampling block
lies between them) the pair is *skipped* by default (``boundary="skip"``: SSIM is
``None``/NaN).  Reason: the channels of the two maps are not the same neurons -- the
shortcut's 1x1 conv mixes every input channel into every output channel -- so a
channel-wise SSIM across the boundary measures no property of the block.  The
alternative ``boundary="pool"`` (2x2 average-pool the larger map until the sizes
agree, compare the first ``min(C)`` channels) fills the radar but should be read
as a rough number.  With ``skip`` that rough number is still kept apart, in
``boundary_pooled``, so a figure can mark the downsampling blocks as the paper's
radar shows them (its dips) without counting them among the blocks.

Silent maps.  For two all-zero maps scikit-image returns SSIM = 1 (the stabilising
constants make 0/0 into C1*C2 / C1*C2).  ``silent="include"`` (default) keeps this:
a block that leaves a silent channel silent did change nothing, which is what the
radar measures.  ``silent="exclude"`` drops (sample, channel) pairs where both maps
are all zero; the fraction of such pairs is always reported.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity
from torch import nn

from msr.analysis.firing import _as_inputs, _run, analysis_mode

#: Sampling point of Fig. 2a by block type: the LIF that spikes on the block's
#: input (ms family) or output (vanilla, plain).
SAMPLING_ROLE = MappingProxyType(
    {"vanilla": "lif_out", "plain": "lif2", "ms": "lif1", "sr_a": "lif1", "sr_b": "lif1", "wolif": "lif1"}
)
BOUNDARY = ("skip", "pool")
SILENT = ("include", "exclude")


def _check(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


def _win_size(h: int, w: int) -> int:
    """scikit-image's default 7, shrunk to the largest odd size that fits small maps."""
    win = min(7, h, w)
    if win % 2 == 0:
        win -= 1
    if win < 3:
        raise ValueError(f"maps of {h}x{w} are too small for SSIM (need at least 3x3)")
    return win


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, silent: str = "include") -> tuple[float, float]:
    """Mean SSIM of two rate maps ``[..., H, W]`` over all leading (sample, channel)
    entries, and the fraction of entries where both maps are all zero.

    Returns ``(ssim, silent_fraction)``; with ``silent="exclude"`` the mean skips the
    silent entries (NaN if every entry is silent).
    """
    _check("silent", silent, SILENT)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"SSIM needs two maps of equal shape [..., H, W], got {a.shape} and {b.shape}")
    h, w = a.shape[-2:]
    a2, b2 = a.reshape(-1, h, w), b.reshape(-1, h, w)
    both_silent = ~(a2.any(axis=(1, 2)) | b2.any(axis=(1, 2)))
    frac = float(both_silent.mean())
    if silent == "exclude":
        a2, b2 = a2[~both_silent], b2[~both_silent]
        if not len(a2):
            return float("nan"), frac
    # One call for all channels: skimage averages the per-channel SSIMs.
    s = structural_similarity(a2, b2, data_range=data_range, channel_axis=0, win_size=_win_size(h, w))
    return float(s), frac


def _pool_to_match(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """2x2 average-pool the spatially larger map until sizes agree; keep the first min(C) channels."""
    while a.shape[-1] > b.shape[-1]:
        a = F.avg_pool2d(a, 2)
    while b.shape[-1] > a.shape[-1]:
        b = F.avg_pool2d(b, 2)
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"cannot pool maps {tuple(a.shape)} and {tuple(b.shape)} to one size")
    c = min(a.shape[1], b.shape[1])
    return a[:, :c], b[:, :c]


def sampling_points(model: nn.Module, role: str | None = None) -> list[str]:
    """Names of the LIFs sampled for Fig. 2b, in forward order: with the block type's
    default ``role``, one per block plus the LIF before the first block's input
    (``stem_lif``: roles that sample outputs) or after the last block's output
    (``head_lif``: roles that sample inputs), so that value i of :func:`block_ssim` is
    block i's; with a ``role`` given, that LIF of every block alone."""
    block = getattr(model, "block_name", None)
    default = role is None
    if default:
        if block not in SAMPLING_ROLE:
            raise ValueError(
                f"no default sampling point for block type {block!r}; pass role= "
                f"(lif1, lif2, lif_out) or use one of {', '.join(SAMPLING_ROLE)}"
            )
        role = SAMPLING_ROLE[block]
    names = []
    for s, stage in enumerate(model.stages):
        for b, blk in enumerate(stage):
            if not hasattr(blk, role):
                raise ValueError(f"block stages.{s}.{b} ({type(blk).__name__}) has no LIF {role!r}")
            names.append(f"stages.{s}.{b}.{role}")
    if default:
        end = "head_lif" if role == "lif1" else "stem_lif"  # lif1 spikes on a block's input
        if getattr(model, end, None) is None:
            raise ValueError(f"a {block} model without {end} cannot show every block's change")
        names = names + [end] if end == "head_lif" else [end] + names
    return names


@contextlib.contextmanager
def _record_maps(model: nn.Module, names: list[str]):
    maps: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())

    def hook(name):
        def fn(module, inputs, output):
            maps[name] = output.detach().float().mean(0).cpu()  # rate over T: [B, C, H, W]

        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def rate_maps(model: nn.Module, x: torch.Tensor, role: str | None = None, T: int | None = None,
              mode: str = "eval") -> dict[str, np.ndarray]:
    """Firing-rate maps ``[B, C, H, W]`` at the sampling points of Fig. 2a.
    ``mode``: see :func:`msr.analysis.firing.analysis_mode`."""
    names = sampling_points(model, role)
    with analysis_mode(model, mode), _record_maps(model, names) as maps:
        _run(model, x, T)
    return {n: maps[n].numpy() for n in names}


@dataclass
class BlockSSIM:
    """SSIM of consecutive sampling points (Fig. 2b).  ``ssim[i]`` compares
    ``points[i]`` with ``points[i + 1]`` (with the default points: block i's input and
    output); ``None`` marks a skipped stage boundary."""

    points: list[str]
    ssim: list[float | None]
    silent_fraction: list[float | None]
    boundary: str
    silent: str
    samples: int
    #: with ``boundary="skip"``: the pooled SSIM at the skipped pairs, None elsewhere
    boundary_pooled: list[float | None] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def values(self) -> np.ndarray:
        """The SSIM sequence as floats, NaN at skipped pairs (for plotting)."""
        return _floats(self.ssim)


def _floats(values) -> np.ndarray:
    """A sequence with ``None`` entries as floats, NaN for ``None``."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def block_ssim(
    model: nn.Module,
    batches,
    role: str | None = None,
    boundary: str = "skip",
    silent: str = "include",
    T: int | None = None,
    mode: str = "eval",
) -> BlockSSIM:
    """SSIM between the rate maps of consecutive blocks (Fig. 2b), averaged over
    channels and samples of every batch (``batches``: a tensor, ``(x, y)`` or a list).

    Each batch is analysed and discarded in turn, so memory holds one batch of maps.
    """
    _check("boundary", boundary, BOUNDARY)
    _check("silent", silent, SILENT)
    names = sampling_points(model, role)
    if len(names) < 2:
        raise ValueError("SSIM between blocks needs a model with at least 2 blocks")
    n_pairs = len(names) - 1
    sums = np.zeros(n_pairs)
    weights = np.zeros(n_pairs)
    pooled_sums, pooled_weights = np.zeros(n_pairs), np.zeros(n_pairs)  # skipped pairs, pooled
    silent_sum = np.zeros(n_pairs)
    skipped = [False] * n_pairs
    samples = 0
    for x in _as_inputs(batches):
        maps = rate_maps(model, x, role, T, mode)
        n = x.shape[-4] if x.dim() == 4 else x.shape[1]
        samples += n
        for i in range(n_pairs):
            a, b = torch.from_numpy(maps[names[i]]), torch.from_numpy(maps[names[i + 1]])
            if a.shape != b.shape:
                skipped[i] = boundary == "skip"  # kept apart, in boundary_pooled
                a, b = _pool_to_match(a, b)
            s, frac = ssim(a.numpy(), b.numpy(), silent=silent)
            if not skipped[i]:
                silent_sum[i] += frac * n
            if math.isnan(s):
                continue
            # weight by the number of (sample, channel) entries the mean covered
            w = n * (1.0 - frac) if silent == "exclude" else n
            into_sums, into_weights = (pooled_sums, pooled_weights) if skipped[i] else (sums, weights)
            into_sums[i] += s * w
            into_weights[i] += w
    ssims = [None if skipped[i] or weights[i] == 0 else float(sums[i] / weights[i]) for i in range(n_pairs)]
    fracs = [None if skipped[i] else float(silent_sum[i] / samples) for i in range(n_pairs)]
    pooled = ([float(pooled_sums[i] / pooled_weights[i]) if skipped[i] and pooled_weights[i] else None
               for i in range(n_pairs)] if boundary == "skip" else None)
    return BlockSSIM(names, ssims, fracs, boundary, silent, samples, pooled)


def plot_ssim_radar(ax, series: dict[str, "np.ndarray | list"], rmin: float | None = None, label_every: int = 1,
                    boundaries: dict[str, "np.ndarray | list | None"] | None = None):
    """Radar chart of Fig. 2b on a polar Axes (``subplot_kw={"projection": "polar"}``).

    ``series`` maps a label (e.g. "vanilla ResNet-56") to its SSIM sequence; ``None``/NaN
    entries (skipped stage boundaries) leave gaps.  Sequences of different lengths
    share the angular axis of the longest one.  ``boundaries`` (same labels, optional):
    the pooled values at those gaps (:attr:`BlockSSIM.boundary_pooled`), drawn as hollow
    markers off the line.
    """
    if getattr(ax, "name", "") != "polar":
        raise ValueError("plot_ssim_radar needs a polar Axes: plt.subplots(subplot_kw={'projection': 'polar'})")
    n = max(len(v) for v in series.values())
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    lo = 0.0
    for label, vals in series.items():
        v = _floats(vals)
        t = theta[: len(v)]
        # close the polygon
        (line,) = ax.plot(np.append(t, t[:1]), np.append(v, v[:1]), marker="o", ms=3, label=label)
        if np.isfinite(v).any():
            lo = min(lo, float(np.nanmin(v)))
        bv = (boundaries or {}).get(label)
        if bv is not None:
            b = _floats(bv)
            if np.isfinite(b).any():
                ax.plot(theta[: len(b)], b, ls="none", marker="o", ms=6, mfc="none", color=line.get_color())
                lo = min(lo, float(np.nanmin(b)))
    ax.set_xticks(theta[::label_every], [str(i + 1) for i in range(0, n, label_every)])
    ax.set_ylim(lo if rmin is None else rmin, 1.0)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1))
    return ax
