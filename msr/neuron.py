"""The iterative leaky integrate-and-fire neuron of the paper (Eq. 1-3, Table VII).

For every neuron and timestep t = 0 .. T-1, with input current I_t:

    u_t = tau * (u_{t-1} * (1 - o_{t-1}) + V_reset * o_{t-1}) + I_t      (Eq. 1, reset: Sec. II-A)
    o_t = 1  if u_t > V_th  else 0                                       (Eq. 2)

With the paper's V_reset = 0 this is u_t = tau * u_{t-1} * (1 - o_{t-1}) + I_t.  The
reset factor (1 - o_{t-1}) is detached from the autograd graph (as in the authors'
release), so gradients flow through the membrane but not through the reset.  The
Heaviside step is differentiated with the rectangular surrogate

    d o / d u = (1 / a) * 1[|u - V_th| < a / 2]                           (Eq. 3)

Threshold and window, strict on both: a neuron fires when u_t > V_th, and the
surrogate window is the open interval |u - V_th| < a/2.  The paper writes both with
non-strict inequalities (Eq. 2 fires when u_t - V_th >= 0, Eq. 3's window is
|u - V_th| <= a/2); the authors' release, like msr, uses strict ones
(``input.gt(thresh)``, ``abs(input - thresh) < lens``).  The two differ only where u
lies exactly on V_th or on a window edge, which matters for exact values: with
V_th = 0.5 and a = 1 the edges are u = 0 and u = 1, so a LIF whose membrane is exactly
0 (or exactly 0 or 1) passes no gradient (see :mod:`msr.blocks` on the initialisation
of SR-B/SR-C).

Tensors are time-first, ``[T, ...]``, and the neuron is multi-step: one call runs all T
timesteps and keeps no state between calls.  :func:`lif_reference` is the plain PyTorch
oracle that every faster backend is tested against.

The neuron owns its backend (as SpikingJelly's neurons do): :func:`lif` and :class:`LIF`
are the one entry point, ``backend`` one of :data:`BACKENDS`:

* ``reference`` (the default): :func:`lif_reference`;
* ``cpu``: an autograd Function with a few in-place ops per timestep that saves one
  int8 {spike, surrogate window} per neuron-step (:mod:`msr.kernels.cpu_lif`); runs on
  any device;
* ``triton``: a Triton kernel on CUDA tensors, membrane in registers, one uint8 per
  neuron-step saved for the backward (:mod:`msr.kernels.triton_lif`);
* ``auto``: ``triton`` for CUDA tensors when Triton is installed, ``cpu`` otherwise.

Every backend gives spikes bit-identical to the reference and input gradients equal to
its autograd within floating-point rounding.  Precision: the membrane is always
accumulated in fp32; bf16/fp16 inputs are upcast (exactly), so the spikes equal
``lif_reference(x.float())`` and come back in the input dtype, for ``reference`` too,
so ``auto`` never changes a result.  The backends (:mod:`msr.kernels`) import nothing
from this module; model-level speed switches (the backend of every layer, channels-last,
compact spike storage, CUDA graphs) are in :mod:`msr.speed`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from msr.kernels.cpu_lif import lif_cpu

#: Table VII defaults.
TAU, V_TH, V_RESET, SURROGATE_WIDTH = 0.25, 0.5, 0.0, 1.0

#: The LIF implementations :func:`lif` dispatches to, and the one default.
BACKENDS = ("reference", "cpu", "triton", "auto")
DEFAULT_BACKEND = "reference"


def check_lif_params(tau: float, v_th: float, a: float) -> None:
    """Reject parameters for which Eq. 1-3 make no sense."""
    if not 0.0 <= float(tau) <= 1.0:
        raise ValueError(f"tau must lie in [0, 1] (a decay factor), got {tau}")
    if not float(a) > 0.0:
        raise ValueError(f"surrogate width a must be > 0, got {a}")
    if not math.isfinite(float(v_th)):
        raise ValueError(f"v_th must be finite, got {v_th}")


class RectSpike(torch.autograd.Function):
    """Heaviside forward (u > V_th, strictly), rectangular surrogate backward."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, v_th: float, a: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.v_th, ctx.a = v_th, a
        return (u > v_th).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (u,) = ctx.saved_tensors
        window = (u - ctx.v_th).abs() < ctx.a / 2
        return grad_out * window.to(grad_out.dtype) / ctx.a, None, None


def lif_reference(
    x: torch.Tensor,
    tau: float = TAU,
    v_th: float = V_TH,
    v_reset: float = V_RESET,
    a: float = SURROGATE_WIDTH,
) -> torch.Tensor:
    """Spikes ``[T, ...]`` of LIF neurons driven by input currents ``x`` ``[T, ...]`` (Eq. 1-3)."""
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError(f"LIF input must be time-first [T, ...] with T >= 1, got shape {tuple(x.shape)}")
    spikes = []
    u = None
    o = None
    for t in range(x.shape[0]):
        if u is None:
            u = x[t]
        else:
            keep = (1.0 - o).detach()
            u = tau * (u * keep + v_reset * o.detach()) + x[t]
        o = RectSpike.apply(u, v_th, a)
        spikes.append(o)
    return torch.stack(spikes)


def check_backend(backend: str) -> str:
    """``backend`` if it names a LIF implementation, else a ValueError listing them."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown LIF backend {backend!r}; valid: {', '.join(BACKENDS)}")
    return backend


def resolve_backend(backend: str, x: torch.Tensor) -> str:
    """The concrete backend :func:`lif` uses for ``x`` (``auto`` -> ``triton`` or ``cpu``)."""
    if check_backend(backend) != "auto":
        return backend
    if x.is_cuda:
        from msr.kernels import triton_lif

        if triton_lif.HAVE_TRITON and x.dtype in (torch.float32, torch.float16, torch.bfloat16):
            return "triton"
    return "cpu"


def lif(
    x: torch.Tensor,
    tau: float = TAU,
    v_th: float = V_TH,
    v_reset: float = V_RESET,
    a: float = SURROGATE_WIDTH,
    backend: str = DEFAULT_BACKEND,
) -> torch.Tensor:
    """Spikes ``[T, ...]`` of LIF neurons driven by currents ``x`` ``[T, ...]`` (Eq. 1-3),
    computed by ``backend`` (one of :data:`BACKENDS`; all give bit-identical spikes).

    bf16/fp16 inputs: the membrane is accumulated in fp32 (the input is upcast exactly,
    the spikes are cast back), the same definition for every backend.
    """
    check_lif_params(tau, v_th, a)
    name = resolve_backend(backend, x)
    if name == "reference":
        if x.dtype in (torch.float16, torch.bfloat16):
            return lif_reference(x.float(), tau, v_th, v_reset, a).to(x.dtype)
        return lif_reference(x, tau, v_th, v_reset, a)
    if not x.is_floating_point():
        raise ValueError(f"LIF input must be a floating-point tensor, got {x.dtype}")
    if name == "cpu":
        return lif_cpu(x, tau, v_th, v_reset, a)
    from msr.kernels.triton_lif import lif_triton  # imports triton: only when used

    return lif_triton(x, tau, v_th, v_reset, a)


class LIF(nn.Module):
    """Multi-step LIF layer: ``[T, ...]`` currents in, ``[T, ...]`` spikes out (Eq. 1-3).

    State lives only inside one forward call, so there is nothing to reset between
    batches.  All parameters are constructor arguments (Table VII defaults);
    ``backend`` picks the implementation (:func:`lif`), :func:`msr.speed.set_lif_backend`
    switches it for every layer of a model.
    """

    def __init__(
        self,
        tau: float = TAU,
        v_th: float = V_TH,
        v_reset: float = V_RESET,
        a: float = SURROGATE_WIDTH,
        backend: str = DEFAULT_BACKEND,
    ):
        super().__init__()
        check_lif_params(tau, v_th, a)
        check_backend(backend)
        self.tau, self.v_th, self.v_reset, self.a = float(tau), float(v_th), float(v_reset), float(a)
        self.backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lif(x, self.tau, self.v_th, self.v_reset, self.a, self.backend)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, v_th={self.v_th}, v_reset={self.v_reset}, a={self.a}, backend={self.backend}"
