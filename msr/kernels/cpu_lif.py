"""Fused multi-step LIF for CPU tensors (``backend="cpu"``): an autograd Function that
runs Eq. 1-3 over T with a handful of in-place vectorised ops per timestep.

What it saves for the backward, per neuron and timestep: the spikes o_t it returns
(shared with the next convolution, which saves them anyway; they give the detached
reset factor 1 - o_t) and one uint8 w_t = 1[|u_t - V_th| < a/2], the surrogate window;
the reference instead keeps the float membrane and a per-step autograd graph.

Backward (reset factor and the V_reset * o term detached), in reverse over t:

    g_t = grad_o_t * w_t / a + tau * (1 - o_t) * g_{t+1},   grad_I_t = g_t.

The forward performs exactly the reference's floating-point operations in the same
order (``h = u`` or ``V_reset``; ``u = tau * h``; ``u = u + I``; no fused multiply-add),
so the spikes are bit-identical to :func:`msr.neuron.lif_reference`.  Low-precision
inputs (bf16/fp16) are upcast: the membrane is always accumulated in fp32 (the same
definition as ``lif(..., backend="reference")``), spikes and gradients come back in
the input dtype.

torch.compile of this loop was measured on the 2-core CI machine (notes/perf-notes.md):
17 s to compile the forward, a recompile per input size, and slower than these
in-place ops, so the eager form is the backend.
"""
from __future__ import annotations

import torch

from msr.kernels.layout import time_major_view

LOW_PRECISION = (torch.float16, torch.bfloat16)


def _forward(x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float):
    """x: [T, N] fp32 contiguous -> spikes fp32 [T, N], window uint8 [T, N].

    Only float ops (vectorised and multi-threaded in ATen; comparisons into bool
    tensors and masked_fill are several times slower on CPU, measured in
    notes/perf-notes.md).  h = u - u*o (+ V_reset*o) equals the reference's
    u*(1-o) + V_reset*o exactly because o is 0 or 1.
    """
    T = x.shape[0]
    spikes = torch.empty_like(x)
    window = torch.empty(x.shape, dtype=torch.uint8, device=x.device)
    u = x[0].clone()
    d = torch.empty_like(u)
    half_a = a / 2
    for t in range(T):
        if t > 0:
            o = spikes[t - 1]
            u.addcmul_(u, o, value=-1.0)  # u * (1 - o)
            if v_reset != 0.0:
                u.add_(o, alpha=v_reset)
            u.mul_(tau)
            u.add_(x[t])
        torch.gt(u, v_th, out=spikes[t])
        torch.sub(u, v_th, out=d)
        d.abs_()
        torch.lt(d, half_a, out=d)
        window[t].copy_(d)
    return spikes, window


def _backward(grad: torch.Tensor, spikes: torch.Tensor, window: torch.Tensor, tau: float, a: float):
    """grad: [T, N] fp32 -> grad of the input currents, [T, N] fp32."""
    T = grad.shape[0]
    gx = torch.empty_like(grad)
    w = torch.empty_like(grad[0])
    carry = kept = None
    for t in range(T - 1, -1, -1):
        g = gx[t]
        w.copy_(window[t])
        torch.mul(grad[t], w, out=g)  # grad_o * window / a, as the reference rounds it
        if a != 1.0:
            g.div_(a)
        if carry is not None:
            o = spikes[t].float() if spikes.dtype != torch.float32 else spikes[t]
            kept = torch.addcmul(carry, carry, o, value=-1.0, out=kept)  # tau g_{t+1} (1 - o_t)
            g.add_(kept)
        if t > 0:
            carry = torch.mul(g, tau, out=carry) if carry is not None else g * tau
    return gx


class CpuLIF(torch.autograd.Function):
    """Multi-step LIF on a ``[T, N]`` tensor (any float dtype, any device torch supports).

    Saves the spikes it returns (the next convolution keeps them alive anyway, so this
    costs no memory) and one uint8 surrogate-window flag per neuron-step.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float):
        x32 = x.float().contiguous()
        spikes, window = _forward(x32, tau, v_th, v_reset, a)
        out = spikes if x.dtype == torch.float32 else spikes.to(x.dtype)
        ctx.save_for_backward(out, window)
        ctx.tau, ctx.a, ctx.dtype = tau, a, x.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        out, window = ctx.saved_tensors
        g = _backward(grad_out.float().contiguous(), out, window, ctx.tau, ctx.a)
        return g.to(ctx.dtype), None, None, None, None


def lif_cpu(x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float) -> torch.Tensor:
    """Spikes ``[T, ...]`` of the fused CPU path (same layout as ``x``)."""
    flat, restore = time_major_view(x)
    return restore(CpuLIF.apply(flat, float(tau), float(v_th), float(v_reset), float(a)))
