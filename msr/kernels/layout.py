"""Memory-layout helpers shared by the LIF kernels.

The kernels see a time-first tensor as a dense ``[T, N]`` matrix.  A row-major
``[T, B, C, H, W]`` tensor is one already; so is a channels-last one (the folded
``[T*B, C, H, W]`` tensor in ``torch.channels_last``, unflattened), whose storage is
T-major too, only with the neuron axes in another order.  For those the kernels work
on the storage as it is and return spikes with the same strides, so no copy is made
when a model runs channels-last.  Anything else (an ``expand``-ed input, a slice) is
copied once to a contiguous tensor.
"""
from __future__ import annotations

from typing import Callable

import torch


def time_major_view(x: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """``x`` ``[T, ...]`` -> (``[T, N]`` dense view or copy, function mapping a ``[T, N]``
    result back to ``x``'s shape and strides)."""
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError(f"LIF input must be time-first [T, ...] with T >= 1, got shape {tuple(x.shape)}")
    T = x.shape[0]
    if x.is_contiguous():
        return x.reshape(T, -1), lambda y: y.view(x.shape)
    # Permute the neuron axes by decreasing stride; if that is contiguous, the storage
    # is a dense T-major matrix in another axis order (e.g. channels-last).
    rest = sorted(range(1, x.dim()), key=lambda d: (-x.stride(d), d))
    perm = [0] + rest
    xp = x.permute(perm)
    if xp.is_contiguous():
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        shape_p = xp.shape
        return xp.reshape(T, -1), lambda y: y.view(shape_p).permute(inv)
    xc = x.contiguous()
    return xc.reshape(T, -1), lambda y: y.view(x.shape)
