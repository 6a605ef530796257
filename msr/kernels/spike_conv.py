"""Convolutions of spikes that keep their input compactly for the backward.

A convolution saves its input for the weight gradient.  When that input is spikes
(0/1), a float copy is wasteful: :class:`SpikeConv2d` runs the same ``F.conv2d`` but
saves the input as

* ``int8``: one byte per value (4x less than fp32, 2x less than bf16), or
* ``bits``: eight spikes per byte (``numpy.packbits`` on CPU, shifts and a sum on
  CUDA or under ``torch.compile``),

and restores it in the convolution's dtype for ``aten.convolution_backward``, the op
autograd itself calls.  The forward is the plain convolution (bit-identical); the
gradients are computed from the same values by the same op, so they equal the plain
convolution's up to floating-point rounding (in practice exactly).  Under autocast the
input and weight are cast as autocast would cast them (bf16 on CUDA), so the result
is that of the autocast convolution.

Safety: compact storage is lossless only for binary inputs.  It is switched on only
for the convolutions that the block structure feeds straight from a LIF
(:func:`msr.blocks.spike_fed_convs`).  In addition every :class:`SpikeConv2d` checks
its first compact input exactly (pack, unpack, compare) and raises ``ValueError``
if the input is not binary; later calls skip the check (it costs 2-3x the packing)
unless ``check=True``.  Under ``torch.compile`` the check is skipped (a data-dependent
branch would break the graph) and the structural guarantee alone applies.

The LIF backends save their own one-byte code, not the float spikes, so with compact
storage the float spikes are freed right after the forward.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MODES = ("off", "int8", "bits")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown compact spike storage {mode!r}; valid: {', '.join(MODES)}")
    return mode


def _dense_order(x: torch.Tensor) -> list[int] | None:
    """The permutation under which ``x`` is contiguous (its storage order) for the two
    layouts models use, row-major and channels-last; None for anything else."""
    if x.is_contiguous():
        return list(range(x.dim()))
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return [0, 2, 3, 1]
    return None


def _use_numpy(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and not torch.compiler.is_compiling()


def pack_spikes(x: torch.Tensor, mode: str) -> tuple[torch.Tensor, tuple]:
    """``x`` (0/1 values) -> (packed tensor, what :func:`unpack_spikes` needs).

    Conversions run on the storage-order (contiguous) view: on CPU, dtype conversions
    of a permuted (channels-last) view are 7x slower than of the same bytes in order."""
    perm = _dense_order(x)
    if perm is None:
        x = x.contiguous()
        perm = list(range(x.dim()))
    flat = x.permute(perm).reshape(-1)
    n = flat.numel()
    if mode == "int8":
        packed = flat.to(torch.int8)
    elif _use_numpy(flat):
        packed = torch.from_numpy(np.packbits(flat.to(torch.bool).numpy(), bitorder="little"))
    else:
        shifts = torch.arange(8, dtype=torch.uint8, device=x.device)
        u8 = F.pad(flat.to(torch.uint8), (0, -n % 8)).view(-1, 8)
        packed = torch.sum(u8 << shifts, dim=-1, dtype=torch.uint8)
    return packed, (mode, x.dtype, tuple(x.shape), tuple(x.stride()), perm, n)


def unpack_spikes(packed: torch.Tensor, meta: tuple) -> torch.Tensor:
    """Inverse of :func:`pack_spikes`: the spikes in their dtype, shape and strides."""
    mode, dtype, shape, stride, perm, n = meta
    if mode == "int8":
        values = packed
    elif _use_numpy(packed):
        values = torch.from_numpy(np.unpackbits(packed.numpy(), count=n, bitorder="little"))
    else:
        shifts = torch.arange(8, dtype=torch.uint8, device=packed.device)
        values = ((packed.unsqueeze(-1) >> shifts) & 1).view(-1)[:n]
    out = torch.empty_strided(shape, stride, dtype=dtype, device=packed.device)
    out.permute(perm).view(-1).copy_(values)
    return out


class _SpikeConv(torch.autograd.Function):
    """``F.conv2d`` (no bias) that saves its input packed."""

    @staticmethod
    def forward(ctx, x, weight, stride, padding, dilation, groups, mode):
        out = F.conv2d(x, weight, None, stride, padding, dilation, groups)
        packed, ctx.meta = pack_spikes(x, mode)
        ctx.save_for_backward(packed, weight)
        ctx.conv = (list(stride), list(padding), list(dilation), groups)
        return out

    @staticmethod
    def backward(ctx, grad):
        packed, weight = ctx.saved_tensors
        x = unpack_spikes(packed, ctx.meta)
        stride, padding, dilation, groups = ctx.conv
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False]
        gx, gw, _ = torch.ops.aten.convolution_backward(grad, x, weight, None, stride, padding, dilation, False,
                                                        [0] * len(stride), groups, mask)
        return gx, gw, None, None, None, None, None


class SpikeConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose input is spikes; ``compact`` picks how the input is saved
    for the backward (``off``: exactly ``nn.Conv2d``).  Same parameters and state dict
    as ``nn.Conv2d``; :meth:`convert` turns an existing convolution into one in place."""

    compact: str = "off"
    check: bool = False
    _verified: bool = False

    @classmethod
    def convert(cls, conv: nn.Conv2d, compact: str, check: bool = False) -> "SpikeConv2d":
        """Make ``conv`` (an ``nn.Conv2d``) a SpikeConv2d in place (same object, same
        parameters, hooks kept)."""
        check_mode(compact)
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"SpikeConv2d.convert needs an nn.Conv2d, got {type(conv).__name__}")
        if conv.bias is not None or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("compact spike storage supports bias-free, zero-padded convolutions with numeric padding")
        if type(conv) is nn.Conv2d:
            conv.__class__ = cls
        conv.compact, conv.check, conv._verified = compact, check, False
        return conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.compact == "off" or not torch.is_grad_enabled() or not (x.requires_grad or self.weight.requires_grad):
            return super().forward(x)
        w, dev = self.weight, x.device.type
        if torch.is_autocast_enabled(dev):  # cast as autocast casts a convolution's operands
            dt = torch.get_autocast_dtype(dev)
            x, w = x.to(dt), w.to(dt)
        if (self.check or not self._verified) and not torch.compiler.is_compiling():
            self._verify(x)
        with torch.autocast(dev, enabled=False):
            return _SpikeConv.apply(x, w, self.stride, self.padding, self.dilation, self.groups, self.compact)

    def _verify(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            packed, meta = pack_spikes(x.detach(), self.compact)
            if not torch.equal(unpack_spikes(packed, meta), x.detach()):
                raise ValueError(f"SpikeConv2d (compact={self.compact!r}) received a non-binary input; compact "
                                 f"storage applies only to convolutions fed by spikes (msr.blocks.spike_fed_convs)")
        self._verified = True

    def extra_repr(self) -> str:
        return super().extra_repr() + f", compact={self.compact}"


__all__ = ["MODES", "SpikeConv2d", "pack_spikes", "unpack_spikes"]
