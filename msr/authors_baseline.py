"""The authors' execution strategy, rebuilt for the benchmark.

The MS-ResNet release runs every stateless layer once per timestep in a Python loop
(``Snn_Conv2d``: ``c1[i] = F.conv2d(input[i], ...)`` into a zero tensor), batch norm
as ``BatchNorm3d`` on a transposed, copied ``[B, C, T, H, W]`` tensor, and the LIF as a
per-timestep loop of small ops with a ``clone`` per step::

    mem = mem_old * decay * (1 - spike.detach()) + x[i]
    spike = act_fun(mem); mem_old = mem.clone(); output[i] = spike

:func:`to_authors_execution` converts an msr model into that execution with the same
weights and the same math (outputs equal to float rounding, spikes identical), so
the bench compares execution strategies and nothing else.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from msr.layers import AvgPoolFolded, Conv, Norm
from msr.neuron import LIF, RectSpike


def authors_lif(x: torch.Tensor, decay: float = 0.25, thresh: float = 0.5, a: float = 1.0) -> torch.Tensor:
    """The release's ``mem_update`` loop (V_reset = 0), time-first ``[T, ...]``."""
    mem_old = 0
    spike = torch.zeros_like(x[0])
    output = torch.zeros_like(x)
    for i in range(x.shape[0]):
        if i >= 1:
            mem = mem_old * decay * (1 - spike.detach()) + x[i]
        else:
            mem = x[i]
        spike = RectSpike.apply(mem, thresh, a)
        mem_old = mem.clone()
        output[i] = spike
    return output


class AuthorsLIF(nn.Module):
    def __init__(self, lif: LIF):
        super().__init__()
        if lif.v_reset != 0.0:
            raise ValueError("the authors' LIF loop has V_reset = 0")
        self.tau, self.v_th, self.a = lif.tau, lif.v_th, lif.a

    def forward(self, x):
        return authors_lif(x, self.tau, self.v_th, self.a)


class PerStepConv(nn.Module):
    """``Snn_Conv2d``: one ``F.conv2d`` per timestep into a preallocated zero tensor."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        c = self.conv
        y0 = c(x[0])
        out = torch.zeros((x.shape[0],) + tuple(y0.shape), device=x.device, dtype=y0.dtype)
        out[0] = y0
        for i in range(1, x.shape[0]):
            out[i] = c(x[i])
        return out


class TransposedBN(nn.Module):
    """``batch_norm_2d``: BatchNorm3d over ``[B, C, T, H, W]`` via transposes and copies
    (statistics over T*B*H*W, as TDBN)."""

    def __init__(self, bn: nn.BatchNorm2d):
        super().__init__()
        self.bn = bn

    def forward(self, x):
        bn = self.bn
        y = x.transpose(0, 2).contiguous().transpose(0, 1).contiguous()  # [B, C, T, H, W]
        if bn.training and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
        y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                         bn.training or not bn.track_running_stats, bn.momentum, bn.eps)
        return y.contiguous().transpose(0, 1).contiguous().transpose(0, 2)


class PerStepPool(nn.Module):
    def __init__(self, pool: nn.Module):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        return torch.stack([self.pool(x[i]) for i in range(x.shape[0])])


class AuthorsExecution(nn.Module):
    """Wraps a converted model: repeats a static image over T first (the release feeds
    the repeated input through the per-step encoding conv)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, T: int | None = None):
        if x.dim() == 4:
            T = self.model.T if T is None else T
            x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        return self.model(x)


def _convert(module: nn.Module) -> nn.Module:
    if isinstance(module, Conv):
        return PerStepConv(module.conv)
    if isinstance(module, Norm):
        return TransposedBN(module.bn)
    if isinstance(module, AvgPoolFolded):
        return PerStepPool(module.module)
    if isinstance(module, LIF):
        return AuthorsLIF(module)
    for name, child in list(module.named_children()):
        setattr(module, name, _convert(child))
    return module


def to_authors_execution(model: nn.Module, share_weights: bool = False) -> AuthorsExecution:
    """The authors' execution of ``model`` (a deep copy unless ``share_weights``)."""
    m = model if share_weights else copy.deepcopy(model)
    return AuthorsExecution(_convert(m))


__all__ = ["authors_lif", "to_authors_execution", "AuthorsExecution"]
