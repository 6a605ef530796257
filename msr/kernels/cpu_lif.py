"""Fused multi-step LIF for CPU tensors (``backend="cpu"``): an autograd Function that
runs Eq. 1-3 over T with a handful of in-place vectorised ops per timestep.

What it saves for the backward: one int8 per neuron and timestep,
c_t = o_t + 2 w_t with w_t = 1[|u_t - V_th| < a/2] the surrogate window (the same
one-byte code as the Triton kernel); the reference instead keeps the float membrane
and a per-step autograd graph.  The float spikes it returns are not saved, so a
convolution that stores its spike input compactly (:mod:`msr.kernels.spike_conv`)
lets them be freed after the forward.

Backward (reset factor and the V_reset * o term detached), in reverse over t:

    g_t = grad_o_t * w_t / a + tau * (1 - o_t) * g_{t+1},   grad_I_t = g_t.

The forward performs exactly the reference's floating-point operations in the same
order (``h = u`` or ``V_reset``; ``u = tau * h``; ``u = u + I``; no fused multiply-add),
so the spikes are bit-identical to :func:`msr.neuron.lif_reference`.  Low-precision
inputs (bf16/fp16) are upcast: the membrane is always accumulated in fp32 (the same
definition as ``lif(..., backend="reference")``), spikes and gradients come back in
the input dtype.

int8, not uint8: float <-> int8 conversions are vectorised in ATen on CPU, float ->
uint8 is 5x slower (notes/perf-notes.md).  torch.compile of this loop was measured on
the 2-core CI machine: 17 s to compile the forward, a recompile per input size, and
slower than these in-place ops, so the eager form is the backend.
"""
from __future__ import annotations

import torch

from msr.kernels.layout import time_major_view


def _forward(x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float):
    """x: [T, N] fp32 contiguous -> spikes fp32 [T, N], code int8 [T, N] (o + 2 w).

    Only float ops (vectorised and multi-threaded in ATen; comparisons into bool
    tensors and masked_fill are several times slower on CPU, measured in
    notes/perf-notes.md).  h = u - u*o (+ V_reset*o) equals the reference's
    u*(1-o) + V_reset*o exactly because o is 0 or 1.
    """
    T = x.shape[0]
    spikes = torch.empty_like(x)
    code = torch.empty(x.shape, dtype=torch.int8, device=x.device)
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
        torch.add(spikes[t], d, alpha=2, out=d)  # o + 2 w
        code[t].copy_(d)
    return spikes, code


def _backward(grad: torch.Tensor, code: torch.Tensor, tau: float, a: float):
    """grad: [T, N] fp32 -> grad of the input currents, [T, N] fp32."""
    T = grad.shape[0]
    gx = torch.empty_like(grad)
    c = torch.empty_like(grad[0])
    w = torch.empty_like(c)
    carry = kept = None
    for t in range(T - 1, -1, -1):
        g = gx[t]
        c.copy_(code[t])
        torch.ge(c, 2.0, out=w)
        torch.mul(grad[t], w, out=g)  # grad_o * window / a, as the reference rounds it
        if a != 1.0:
            g.div_(a)
        if carry is not None:
            torch.sub(c, w, alpha=2, out=c)  # o_t
            kept = torch.addcmul(carry, carry, c, value=-1.0, out=kept)  # tau g_{t+1} (1 - o_t)
            g.add_(kept)
        if t > 0:
            carry = torch.mul(g, tau, out=carry) if carry is not None else g * tau
    return gx


class CpuLIF(torch.autograd.Function):
    """Multi-step LIF on a ``[T, N]`` tensor (any float dtype, any device torch supports).

    Saves one int8 code (spike + 2 * surrogate window) per neuron-step.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float):
        x32 = x.float().contiguous()
        spikes, code = _forward(x32, tau, v_th, v_reset, a)
        out = spikes if x.dtype == torch.float32 else spikes.to(x.dtype)
        ctx.save_for_backward(code)
        ctx.tau, ctx.a, ctx.dtype = tau, a, x.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (code,) = ctx.saved_tensors
        g = _backward(grad_out.float().contiguous(), code, ctx.tau, ctx.a)
        return g.to(ctx.dtype), None, None, None, None


def lif_cpu(x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float) -> torch.Tensor:
    """Spikes ``[T, ...]`` of the fused CPU path (same layout as ``x``)."""
    flat, restore = time_major_view(x)
    return restore(CpuLIF.apply(flat, float(tau), float(v_th), float(v_reset), float(a)))
