"""Fused multi-step LIF in Triton (``backend="triton"``, CUDA tensors).

One program owns a block of ``BLOCK`` neurons and loops over T with the membrane in
registers (fp32), so the forward reads each input current once and writes each
spike once, plus one uint8 per neuron-step for the backward:

    code[t] = o_t | (w_t << 1),   o_t = 1[u_t > V_th],   w_t = 1[|u_t - V_th| < a/2].

The backward runs in reverse over T, again in registers.  With the reset factor
(1 - o_{t-1}) and the V_reset * o_{t-1} term detached, du_t/du_{t-1} = tau (1 - o_{t-1})
and do_t/du_t = w_t / a, so

    g_t = grad_o_t * w_t / a + tau * (1 - o_t) * g_{t+1},    grad_I_t = g_t.

Bytes per neuron-step: forward 2s + 1 (read x, write spike, write code), backward
2s + 1 (read grad, read code, write grad), s = element size.

Exactness: the forward does the reference's operations in its order (h = u or
V_reset, u = tau*h, u = u + I) in fp32 and is launched with ``enable_fp_fusion=False``
so the compiler cannot contract ``tau*h + I`` into one FMA (which rounds once and would
flip spikes that sit within one ulp of V_th).  Spikes are therefore bit-identical to
:func:`msr.neuron.lif_reference` on the fp32 input; bf16/fp16 inputs are upcast on
load (the membrane is fp32, as for ``backend="reference"``).

Set ``TRITON_INTERPRET=1`` before importing triton to run these kernels on the CPU
(tests/test_kernels.py does, in a subprocess).
"""
from __future__ import annotations

import os

import torch

try:  # Triton is optional: CPU-only installations fall back to the other backends.
    import triton
    import triton.language as tl

    HAVE_TRITON = True
except Exception:  # noqa: BLE001  # pragma: no cover - an installation that fails to import counts as absent
    triton = tl = None
    HAVE_TRITON = False

from msr.kernels.layout import time_major_view

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
BLOCK = 1024
NUM_WARPS = 4


if HAVE_TRITON:

    @triton.jit
    def _lif_fwd_kernel(x_ptr, s_ptr, code_ptr, N, T, tau, v_th, v_reset, half_a, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        u = tl.zeros([BLOCK], dtype=tl.float32)
        o = tl.zeros([BLOCK], dtype=tl.int1)
        xp = x_ptr + offs
        sp = s_ptr + offs
        cp = code_ptr + offs
        for _t in range(T):
            x = tl.load(xp, mask=mask, other=0.0).to(tl.float32)
            # at t = 0, u = 0 and o = 0, so u = 0 * tau + x = x exactly
            h = tl.where(o, v_reset, u)
            u = h * tau
            u = u + x
            o = u > v_th
            w = tl.abs(u - v_th) < half_a
            tl.store(sp, tl.where(o, 1.0, 0.0).to(s_ptr.dtype.element_ty), mask=mask)
            tl.store(cp, o.to(tl.uint8) | (w.to(tl.uint8) << 1), mask=mask)
            xp += N
            sp += N
            cp += N

    @triton.jit
    def _lif_bwd_kernel(g_ptr, code_ptr, gx_ptr, N, T, tau, inv_a, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        carry = tl.zeros([BLOCK], dtype=tl.float32)
        gp = g_ptr + offs
        cp = code_ptr + offs
        xp = gx_ptr + offs
        for _ in range(T - 1):  # move to the last timestep (pointer arithmetic is 64-bit)
            gp += N
            cp += N
            xp += N
        for _ in range(T):
            g = tl.load(gp, mask=mask, other=0.0).to(tl.float32)
            c = tl.load(cp, mask=mask, other=0)
            spike = (c & 1) != 0
            window = (c & 2) != 0
            # g_t = grad_o_t * w_t / a + tau * (1 - o_t) * g_{t+1}; carry = tau * g_{t+1}
            gu = tl.where(window, g * inv_a, 0.0) + tl.where(spike, 0.0, carry)
            tl.store(xp, gu.to(gx_ptr.dtype.element_ty), mask=mask)
            carry = gu * tau
            gp -= N
            cp -= N
            xp -= N


def _launch_opts() -> dict:
    # The interpreter takes no compiler options; on the GPU forbid FMA contraction.
    return {} if INTERPRET else {"num_warps": NUM_WARPS, "enable_fp_fusion": False}


def launch_forward(x, spikes, code, tau, v_th, v_reset, a) -> None:
    """Run the forward kernel on dense ``[T, N]`` tensors (outputs preallocated)."""
    T, N = x.shape
    grid = (triton.cdiv(N, BLOCK),)
    _lif_fwd_kernel[grid](x, spikes, code, N, T, tau, v_th, v_reset, a / 2, BLOCK=BLOCK, **_launch_opts())


def launch_backward(grad, code, grad_x, tau, a) -> None:
    """Run the backward kernel on dense ``[T, N]`` tensors (``grad_x`` preallocated)."""
    T, N = grad.shape
    grid = (triton.cdiv(N, BLOCK),)
    _lif_bwd_kernel[grid](grad, code, grad_x, N, T, tau, 1.0 / a, BLOCK=BLOCK, **_launch_opts())


def bytes_moved(T: int, N: int, element_size: int) -> tuple[int, int]:
    """Fewest bytes the forward and the backward kernel must move through memory:
    forward reads x and writes spikes and the uint8 code, backward reads the
    gradient and the code and writes the input gradient."""
    per = T * N * (2 * element_size + 1)
    return per, per


class TritonLIF(torch.autograd.Function):
    """Multi-step LIF on a dense ``[T, N]`` tensor with the Triton kernels above."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float):
        x = x.contiguous()
        spikes = torch.empty_like(x)
        code = torch.empty(x.shape, dtype=torch.uint8, device=x.device)
        launch_forward(x, spikes, code, tau, v_th, v_reset, a)
        ctx.save_for_backward(code)
        ctx.tau, ctx.a = tau, a
        return spikes

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (code,) = ctx.saved_tensors
        g = grad_out.contiguous()
        gx = torch.empty_like(g)
        launch_backward(g, code, gx, ctx.tau, ctx.a)
        return gx, None, None, None, None


def lif_triton(x: torch.Tensor, tau: float, v_th: float, v_reset: float, a: float) -> torch.Tensor:
    """Spikes ``[T, ...]`` from the Triton kernels (same layout and dtype as ``x``)."""
    if not HAVE_TRITON:
        raise RuntimeError("backend='triton' needs the triton package; use backend='cpu' or 'reference'")
    if not (x.is_cuda or INTERPRET):
        raise ValueError(
            f"backend='triton' runs on CUDA tensors (got device {x.device}); "
            "use backend='cpu' or 'auto', or set TRITON_INTERPRET=1 to interpret it on the CPU"
        )
    if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"backend='triton' takes float32, float16 or bfloat16 input, got {x.dtype}")
    flat, restore = time_major_view(x)
    return restore(TritonLIF.apply(flat, float(tau), float(v_th), float(v_reset), float(a)))
