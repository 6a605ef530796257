"""Multi-process training under ``torchrun`` (DistributedDataParallel) for :mod:`msr.train`.

One process per device; ``batch_size`` is the global batch, split over the processes
(:class:`msr.data.EpochSampler`), and the model's BNs become synchronized BNs (Appendix B:
"Synchronized BN across GPUs"): ``nn.SyncBatchNorm`` on CUDA, :class:`GlooSyncBatchNorm`
on CPU processes (gloo), where ``nn.SyncBatchNorm`` does not run.  Metrics are summed
over the processes, so every rank reports the numbers of the global batch.  Outside
``torchrun`` (``WORLD_SIZE`` unset or 1) every helper is the single-process identity.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    """Processes of this run as ``torchrun`` announces them (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_master() -> bool:
    """Rank 0, the process that writes checkpoints, results and log lines."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: torch.device) -> tuple[int, int, torch.device]:
    """Rank, world size and this process's device; joins the ``torchrun`` process group
    (nccl on CUDA, each rank on its ``LOCAL_RANK`` GPU; gloo on CPU)."""
    world = world_size()
    if world == 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def wrap(model: nn.Module, device: torch.device, world: int) -> tuple[nn.Module, nn.Module]:
    """``(model, forward)``: for one process ``model`` twice; else ``model`` with
    synchronized BNs and DDP around it (what the training step calls)."""
    if world == 1:
        return model, model
    model = convert_sync_bn(model, device)
    ids = [device.index] if device.type == "cuda" else None
    return model, nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_(x: torch.Tensor) -> torch.Tensor:
    """Sum ``x`` over the processes in place (nothing outside torchrun); returns ``x``."""
    if dist.is_initialized():
        dist.all_reduce(x)
    return x


def rank_mean(x: torch.Tensor) -> float:
    """Mean of a scalar over processes (the global-batch mean loss under DDP)."""
    x = x.detach().double().clone()
    if dist.is_initialized():
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x.item()


def all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` is finite on every process (one NaN anywhere stops all of them)."""
    return bool(torch.isfinite(all_reduce_(x.detach().double().reshape(1).clone())).all())


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce (sum): the backward sums the gradients of every rank."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        dist.all_reduce(g)
        return g


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """Synchronized BN for CPU processes (gloo); ``nn.SyncBatchNorm`` is CUDA-only.

    Statistics over the global batch via one differentiable all-reduce of per-channel
    sums and sums of squares: numerically the same function as one process on the whole
    batch (up to float rounding), and gradients flow across ranks as in SyncBatchNorm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        stats = _AllReduceSum.apply(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
            self.num_batches_tracked.add_(1)
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def convert_sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """SyncBatchNorm on CUDA, :class:`GlooSyncBatchNorm` on CPU (BNs live in ``msr.layers.Norm``)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for mod in list(model.modules()):
        for child_name, child in list(mod.named_children()):
            if type(child) is nn.BatchNorm2d:
                new = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                        child.track_running_stats)
                new.load_state_dict(child.state_dict())
                setattr(mod, child_name, new)
    return model
