"""Fast LIF backends: the same neuron as :func:`msr.neuron.lif_reference`
(Eq. 1-3), fused over time.

``lif(x, tau, v_th, v_reset, a, backend)`` with ``backend`` one of

* ``reference``: the plain PyTorch oracle (:mod:`msr.neuron`);
* ``cpu``: an autograd Function with a few in-place ops per timestep that saves one
  int8 {spike, surrogate window} per neuron-step (:mod:`msr.kernels.cpu_lif`); runs on
  any device;
* ``triton``: a Triton kernel on CUDA tensors, membrane in registers, one uint8 per
  neuron-step saved for the backward (:mod:`msr.kernels.triton_lif`);
* ``auto``: ``triton`` for CUDA tensors when Triton is installed, ``cpu`` otherwise.

Every backend gives spikes bit-identical to the reference and input gradients equal
to its autograd within floating-point rounding.  Precision: the membrane is always
accumulated in fp32; bf16/fp16 inputs are upcast (exactly), so the spikes equal
``lif_reference(x.float())`` and come back in the input dtype.  ``lif(...,
backend="reference")`` applies the same definition, so ``auto`` never changes a
result.

Model-level switches (channels-last, compile, bf16 autocast, CUDA graphs, the LIF
backend of every layer) live in :mod:`msr.kernels.speed`.
"""
from __future__ import annotations

import torch

from msr.neuron import SURROGATE_WIDTH, TAU, V_RESET, V_TH, check_lif_params, lif_reference

BACKENDS = ("reference", "cpu", "triton", "auto")


def triton_available() -> bool:
    """True when the Triton backend can run CUDA tensors here."""
    from msr.kernels import triton_lif

    return triton_lif.HAVE_TRITON and torch.cuda.is_available()


def resolve_backend(backend: str, x: torch.Tensor) -> str:
    """The concrete backend ``lif`` uses for ``x`` (``auto`` -> ``triton`` or ``cpu``)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown LIF backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend != "auto":
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
    backend: str = "auto",
) -> torch.Tensor:
    """Spikes ``[T, ...]`` of LIF neurons driven by currents ``x`` ``[T, ...]`` (Eq. 1-3)."""
    check_lif_params(tau, v_th, a)
    name = resolve_backend(backend, x)
    if name == "reference":
        if x.dtype in (torch.float16, torch.bfloat16):
            return lif_reference(x.float(), tau, v_th, v_reset, a).to(x.dtype)
        return lif_reference(x, tau, v_th, v_reset, a)
    if not x.is_floating_point():
        raise ValueError(f"LIF input must be a floating-point tensor, got {x.dtype}")
    if name == "cpu":
        from msr.kernels.cpu_lif import lif_cpu

        return lif_cpu(x, tau, v_th, v_reset, a)
    from msr.kernels.triton_lif import lif_triton

    return lif_triton(x, tau, v_th, v_reset, a)


__all__ = ["BACKENDS", "lif", "resolve_backend", "triton_available"]
