"""Stateless layers on time-first tensors, and the two normalisations of the paper.

Convolution, batch norm and pooling hold no state across timesteps, so they run once
on the folded ``[T*B, C, H, W]`` tensor (one large kernel instead of T small ones).
Batch norm over the folded tensor computes its statistics per channel over
T*B*H*W, which is exactly threshold-dependent BN (TDBN, Zheng et al., Eq. 4 of the
paper); TDBN and standard BN differ only in the initial scale gamma.
"""
from __future__ import annotations

import torch
from torch import nn

NORMS = ("tdbn", "bn")


def fold(x: torch.Tensor) -> torch.Tensor:
    """``[T, B, ...]`` -> ``[T*B, ...]`` (a view)."""
    return x.flatten(0, 1)


def unfold(x: torch.Tensor, T: int) -> torch.Tensor:
    """``[T*B, ...]`` -> ``[T, B, ...]`` (a view)."""
    return x.unflatten(0, (T, x.shape[0] // T))


class TimeFolded(nn.Module):
    """Apply a stateless module to every timestep at once by folding T into the batch."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return unfold(self.module(fold(x)), x.shape[0])


class Conv(TimeFolded):
    """``nn.Conv2d`` (no bias, as in the paper) on ``[T, B, C, H, W]``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1):
        super().__init__(nn.Conv2d(c_in, c_out, kernel_size, stride, padding=kernel_size // 2, bias=False))

    @property
    def conv(self) -> nn.Conv2d:
        return self.module


class Norm(TimeFolded):
    """BatchNorm2d with statistics over T*B*H*W (TDBN) and a chosen initial gamma.

    ``gamma`` is the initial scale.  For TDBN the paper initialises it to
    alpha * V_th (alpha = 1); standard BN uses 1.  See :func:`initial_gamma`.
    """

    def __init__(self, channels: int, gamma: float):
        super().__init__(nn.BatchNorm2d(channels))
        nn.init.constant_(self.module.weight, gamma)
        nn.init.zeros_(self.module.bias)

    @property
    def bn(self) -> nn.BatchNorm2d:
        return self.module


def initial_gamma(norm: str, alpha: float, v_th: float) -> float:
    """Initial BN scale: ``alpha * V_th`` for TDBN, ``alpha`` for standard BN (Fig. 5).

    Fig. 5 compares pairs (gamma1, gamma2) for both normalisations; we read each pair
    as the multipliers alpha, so (1, 0) means gamma = (V_th, 0) under TDBN and (1, 0)
    under BN.
    """
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    if alpha < 0:
        raise ValueError(f"gamma multiplier must be >= 0, got {alpha}")
    return float(alpha) * (v_th if norm == "tdbn" else 1.0)


class AvgPoolFolded(TimeFolded):
    """2x2 average pooling, stride 2, on ``[T, B, C, H, W]`` (ResNet-104 shortcuts, Table IX)."""

    def __init__(self):
        super().__init__(nn.AvgPool2d(2, 2))
