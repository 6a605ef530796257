"""Gradient isometry (Sec. III-B, Definition 1, Proposition 1): measured, not proved.

For block i with Jacobian J_i = d f_i / d f_{i-1} (n_out x n_in) and A = J_i J_i^T,
block dynamical isometry asks phi(A) ~ 1 and varphi(A) = phi(A^2) - phi(A)^2 ~ 0,
with phi the normalised trace tr(.)/n_out.

Estimator: Hutchinson with spherical probes v (uniform on the sphere of radius
sqrt(n_out), so E[v v^T] = I): phi(A) = mean ||J^T v||^2 / n_out (one vector-Jacobian
product per probe), phi(A^2) = mean ||J J^T v||^2 / n_out (one more Jacobian-vector
product, done by differentiating the VJP with respect to v).  The estimate is exact
for any probe when A is a multiple of the identity.  The Jacobian is the one backprop
uses: spikes are differentiated with the rectangular surrogate (Eq. 3).

Mode: ``mode="train"`` (default) evaluates BN with batch statistics, as the optimiser
sees it; at initialisation the running statistics (0 and 1) do not describe the
activations, so an eval-mode Jacobian would describe no network that is ever
trained.  BN running statistics are restored afterwards and Dropout is kept off, so
the measurement has no side effect and is deterministic.  ``mode="eval"`` uses the
running statistics (meaningful after training).  Use a small batch: in train mode
J couples the samples of the batch through the BN statistics.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msr.analysis.firing import analysis_mode


def _sphere(shape, g: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    v = torch.randn(shape, generator=g, dtype=torch.float64)
    v = v * (math.sqrt(v.numel()) / v.norm())
    return v.to(device=like.device, dtype=like.dtype)


def jacobian_phi(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, probes: int = 8,
                 spread: bool = False, seed: int = 0) -> dict:
    """phi(J J^T) of ``fn`` at ``x`` (normalised by the output size) from ``probes`` VJPs.

    Returns ``{"n_in", "n_out", "phi"}`` and, with ``spread``, also ``"phi2"`` = phi(A^2),
    ``"varphi"`` = phi(A^2) - phi(A)^2 (the paper's varphi) and ``"spread"`` =
    phi(A^2) / phi(A)^2 - 1 (scale-free; 0 for an isometry up to scale).
    """
    if probes < 1:
        raise ValueError(f"probes must be >= 1, got {probes}")
    g = torch.Generator().manual_seed(seed)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = fn(x)
        n_out, n_in = y.numel(), x.numel()
        tr, tr2 = 0.0, 0.0
        for _ in range(probes):
            v = _sphere(y.shape, g, y).requires_grad_(spread)
            (jt_v,) = torch.autograd.grad(y, x, v, retain_graph=True, create_graph=spread, allow_unused=True)
            if jt_v is None:
                jt_v = torch.zeros_like(x)
            tr += float(jt_v.detach().double().pow(2).sum())
            if spread:
                a_v = None
                if jt_v.requires_grad:
                    (a_v,) = torch.autograd.grad(jt_v, v, jt_v.detach(), retain_graph=True, allow_unused=True)
                tr2 += 0.0 if a_v is None else float(a_v.double().pow(2).sum())
    out = {"n_in": n_in, "n_out": n_out, "phi": tr / probes / n_out}
    if spread:
        phi, phi2 = out["phi"], tr2 / probes / n_out
        out.update(phi2=phi2, varphi=phi2 - phi**2, spread=phi2 / phi**2 - 1.0 if phi > 0 else float("nan"))
    return out


def _block_inputs(model: nn.Module, x: torch.Tensor, T: int | None, grad: bool):
    """The input tensor of every block and the model output of one forward pass
    (with autograd if ``grad``, else detached)."""
    blocks = list(model.blocks)
    inputs: list[torch.Tensor] = [None] * len(blocks)  # type: ignore[list-item]

    def hook(i):
        def fn(module, args):
            inputs[i] = args[0] if grad else args[0].detach()

        return fn

    handles = [b.register_forward_pre_hook(hook(i)) for i, b in enumerate(blocks)]
    try:
        with torch.set_grad_enabled(grad):
            out = model(x, T=T) if T is not None else model(x)
    finally:
        for h in handles:
            h.remove()
    return inputs, out


def _block_names(model: nn.Module) -> list[tuple[str, int, int]]:
    return [(f"stages.{s}.{b}", s, b) for s, stage in enumerate(model.stages) for b in range(len(stage))]


def block_isometry(model: nn.Module, x: torch.Tensor, probes: int = 8, spread: bool = False,
                   mode: str = "train", seed: int = 0, T: int | None = None) -> list[dict]:
    """Per block: ``{"block", "stage", "index", "n_in", "n_out", "phi"[, "phi2", "varphi", "spread"]}``
    with phi = phi(J_i J_i^T) estimated at the block's input for the batch ``x``
    (Definition 1).  Vanilla blocks map spikes to spikes (including the interblock
    LIF's surrogate), MS blocks membrane potential to membrane potential.  ``spread`` needs
    the LIF's backward to be differentiable again (double backward): only the reference LIF is."""
    from msr.neuron import LIF

    if spread:
        fused = sorted({m.backend for m in model.modules() if isinstance(m, LIF) and m.backend != "reference"})
        if fused:
            raise ValueError(f"block_isometry(spread=True) differentiates the LIF's backward, which only the "
                             f"reference LIF can; this model's LIFs use {', '.join(fused)}: build it with "
                             f"lif_backend='reference'")
    with analysis_mode(model, mode):
        inputs, _ = _block_inputs(model, x, T, grad=False)
        rows = []
        for (name, s, b), block, inp in zip(_block_names(model), model.blocks, inputs, strict=True):
            r = jacobian_phi(block, inp, probes=probes, spread=spread, seed=seed + len(rows))
            rows.append({"block": name, "stage": s, "index": b, **r})
    return rows


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable = F.cross_entropy,
                   mode: str = "train", T: int | None = None) -> list[float]:
    """L2 norm of dL/d(input of block i) for every block, in forward order (Sec. III-B).

    One forward/backward on the batch (x, y); no parameter gradient is accumulated.
    """
    with analysis_mode(model, mode):
        inputs, out = _block_inputs(model, x, T, grad=True)
        if not all(t.requires_grad for t in inputs):
            raise RuntimeError("block inputs do not require grad; are the stem parameters frozen?")
        loss = loss_fn(out, y)
        grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [0.0 if g is None else float(g.detach().double().norm()) for g in grads]


def identity_shortcut_phi(phi: list[float], stages: list[int]) -> list[float]:
    """phi(J J^T) of the blocks whose shortcut is the identity: all but the blocks that
    start a stage after the first (their shortcut is a strided 1x1 convolution with BN),
    the blocks Proposition 1 speaks of."""
    if len(phi) != len(stages):
        raise ValueError(f"phi and stages must have one entry per block, got {len(phi)} and {len(stages)}")
    return [p for i, p in enumerate(phi) if i == 0 or stages[i] == stages[i - 1]]


def plot_gradient_norms(ax, series: dict[str, list[float]], log: bool = True, stages: list[int] | None = None):
    """Gradient norm against block index, one line per model; ``stages`` (stage index
    per block, from :func:`block_isometry` rows) marks stage boundaries."""
    for label, norms in series.items():
        ax.plot(np.arange(len(norms)), norms, label=label)
    if stages:
        for i in range(1, len(stages)):
            if stages[i] != stages[i - 1]:
                ax.axvline(i - 0.5, color="0.7", lw=0.8, ls="--")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("block index (input side = 0)")
    ax.set_ylabel(r"$\|\partial L / \partial x_i\|$")
    ax.legend()
    return ax
