"""Model families of the paper and a timm-style registry.

* ``cifar_resnet``: Table I, depth = 6n + 2, widths 16/32/64 (CIFAR-10/100, and
  Fashion-MNIST padded to 32x32 with one input channel);
* ``imagenet_resnet18`` / ``34`` / ``104``: Table IX, the max-pool replaced by a
  stride-2 convolution at the start of conv2; ResNet-104 with dropout 0.2 before the
  FC and average-pool shortcuts;
* ``dvs_resnet20``: Table I with an extra downsampling in the first stage, two input
  channels (event polarity), Table IV.

Every family takes any block type (``plain``, ``vanilla``, ``wolif``, ``ms``,
``sr_b``, ``sr_c``).  Input: ``[B, C, H, W]`` images, repeated over T (direct
encoding, the first conv is the encoding layer), or ``[T, B, C, H, W]`` event frames.
Output: logits ``[B, classes]`` from the spike rate averaged over T.  T is a
constructor and forward argument and owns no weights, so a T = 1 model's weights
load into a T = 6 model unchanged.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from msr.blocks import Block, SpikingSpec, get_block
from msr.layers import Conv

_REGISTRY: dict[str, Callable[..., "SpikingResNet"]] = {}


def register_model(fn: Callable[..., "SpikingResNet"]) -> Callable[..., "SpikingResNet"]:
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    return sorted(_REGISTRY)


def create_model(name: str, **kwargs) -> "SpikingResNet":
    """Build a registered model: ``create_model("cifar_resnet", depth=56, block="ms")``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(list_models())}")
    return _REGISTRY[name](**kwargs)


_PAPER_NAMES = {"cifar_resnet": "MS-ResNet{}", "imagenet_resnet": "MS-ResNet{}", "dvs_resnet": "MS-ResNet{} (DVS)"}


def paper_name(label: str) -> str:
    """What the paper calls the MS model whose registered name starts ``label``:
    ``cifar_resnet44`` -> ``MS-ResNet44`` (Table II), ``imagenet_resnet104 ...`` ->
    ``MS-ResNet104 ...`` (Tables III and IX), ``dvs_resnet20`` -> ``MS-ResNet20 (DVS)``
    (Table IV); the rest of the label is kept and any other text is returned as it is.
    The book shows these names and keeps the registered ones as keys."""
    head, sep, rest = label.partition(" ")
    family, _, depth = head.rpartition("_resnet")
    pattern = _PAPER_NAMES.get(f"{family}_resnet")
    if pattern is None or not depth.isdigit():
        return label
    return pattern.format(depth) + sep + rest


class SpikingResNet(nn.Module):
    """Stem (encoding layer) -> stages of residual blocks -> [LIF] -> pool -> FC -> mean over T.

    Blocks are stored as ``stages[s][b]``; the stem as ``stem_conv``/``stem_bn``
    (+ ``stem_lif`` for block types that take spikes); ``head_lif`` is the extra LIF
    that block types without spiking output need (Sec. III-C).
    """

    def __init__(
        self,
        *,
        block: str = "ms",
        blocks_per_stage: list[int],
        widths: list[int],
        strides: list[int],
        in_channels: int = 3,
        num_classes: int = 10,
        T: int = 6,
        stem_kernel: int = 3,
        stem_stride: int = 1,
        dropout: float = 0.0,
        input_size: tuple[int, int, int] = (3, 32, 32),
        **spec_kwargs,
    ):
        super().__init__()
        check_T(T)
        if in_channels < 1 or num_classes < 1:
            raise ValueError(f"in_channels and num_classes must be >= 1, got {in_channels}, {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        if not len(blocks_per_stage) == len(widths) == len(strides):
            raise ValueError(f"blocks_per_stage, widths and strides need one entry per stage, got lengths "
                             f"{len(blocks_per_stage)}, {len(widths)}, {len(strides)}")
        unknown = set(spec_kwargs) - set(SpikingSpec.__dataclass_fields__)
        if unknown:
            valid = ", ".join(SpikingSpec.__dataclass_fields__)
            raise ValueError(f"unknown model argument(s) {sorted(unknown)}; spiking options are: {valid}")
        self.spec = spec = SpikingSpec(**spec_kwargs)
        block_cls = get_block(block)
        self.block_name, self.T, self.in_channels, self.num_classes = block, T, in_channels, num_classes
        self.input_size = (in_channels,) + tuple(input_size[1:])

        self.stem_conv = Conv(in_channels, widths[0], stem_kernel, stem_stride)
        self.stem_bn = spec.norm_layer(widths[0], 1.0)
        self.stem_lif = spec.lif() if block_cls.spiking_input else None
        stages, c_in = [], widths[0]
        for n, width, stride in zip(blocks_per_stage, widths, strides, strict=True):
            layers = [block_cls(c_in if i == 0 else width, width, stride if i == 0 else 1, spec) for i in range(n)]
            stages.append(nn.Sequential(*layers))
            c_in = width
        self.stages = nn.ModuleList(stages)
        self.head_lif = None if block_cls.spiking_output else spec.lif()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, num_classes)

    @property
    def blocks(self) -> list[Block]:
        """All residual blocks in forward order."""
        return [b for stage in self.stages for b in stage]

    def encode(self, x: torch.Tensor, T: int) -> torch.Tensor:
        """The encoding layer; static images go through it once and are repeated over T
        (identical to repeating the image first: conv and BN see T copies of the same
        values, so the batch statistics are unchanged)."""
        if x.dim() == 4:
            y = self.stem_bn.module(self.stem_conv.module(x))
            y = y.unsqueeze(0).expand(T, *y.shape)
        else:
            y = self.stem_bn(self.stem_conv(x))
        return self.stem_lif(y) if self.stem_lif is not None else y

    def features(self, x: torch.Tensor, T: int | None = None) -> torch.Tensor:
        """Spikes ``[T, B, C, H, W]`` at the end of the convolutional part."""
        T = self._check_input(x, T)
        h = self.encode(x, T)
        for stage in self.stages:
            h = stage(h)
        return self.head_lif(h) if self.head_lif is not None else h

    def forward(self, x: torch.Tensor, T: int | None = None) -> torch.Tensor:
        h = self.features(x, T).mean(dim=(3, 4))  # global average pool -> [T, B, C]
        # rate over T, then one dropout mask (ResNet-104, Appendix B-B: "dropout before the
        # fully-connected layer"), as in the authors' release; the fc is linear, so without
        # dropout this equals averaging the per-step logits
        return self.fc(self.dropout(h.mean(0)))  # logits [B, classes]

    def _check_input(self, x: torch.Tensor, T: int | None) -> int:
        if x.dim() not in (4, 5):
            raise ValueError(
                f"input must be [B, C, H, W] images or [T, B, C, H, W] frames, got shape {tuple(x.shape)}"
            )
        c = x.shape[-3]
        if c != self.in_channels:
            raise ValueError(f"input has {c} channels; this model takes in_channels={self.in_channels}")
        if x.dim() == 5:
            if T is not None and T != x.shape[0]:
                raise ValueError(f"T={T} disagrees with the {x.shape[0]} frames of the input")
            check_T(x.shape[0])
            return x.shape[0]
        T = self.T if T is None else T
        check_T(T)
        return T


def check_T(T: int) -> None:
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T (timesteps) must be an integer >= 1, got {T!r}")


def cifar_depth_to_n(depth: int) -> int:
    """Blocks per stage n for a Table I depth 6n + 2."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
    return (depth - 2) // 6


@register_model
def cifar_resnet(depth: int = 20, block: str = "ms", in_channels: int = 3, num_classes: int = 10, **kw):
    """CIFAR family of Table I: 3 stages of n blocks at 32/16/8 px, widths 16/32/64."""
    n = cifar_depth_to_n(depth)
    size = kw.pop("input_size", (in_channels, 32, 32))
    return SpikingResNet(
        block=block, blocks_per_stage=[n, n, n], widths=[16, 32, 64], strides=[1, 2, 2],
        in_channels=in_channels, num_classes=num_classes, input_size=size, **kw,
    )


@register_model
def dvs_resnet20(block: str = "ms", in_channels: int = 2, num_classes: int = 10, **kw):
    """MS-ResNet20 for CIFAR10-DVS (Table IV): Table I with an extra stride-2 downsampling
    in the first stage's first block.  At 64x64 frames its residual-path MACs are
    40.1M, matching Table V's 40.11M."""
    size = kw.pop("input_size", (in_channels, 64, 64))
    return SpikingResNet(
        block=block, blocks_per_stage=[3, 3, 3], widths=[16, 32, 64], strides=[2, 2, 2],
        in_channels=in_channels, num_classes=num_classes, input_size=size, **kw,
    )


def _imagenet(blocks, block, in_channels, num_classes, **kw):
    size = kw.pop("input_size", (in_channels, 224, 224))
    return SpikingResNet(
        block=block, blocks_per_stage=blocks, widths=[64, 128, 256, 512], strides=[2, 2, 2, 2],
        in_channels=in_channels, num_classes=num_classes, stem_kernel=7, stem_stride=2,
        input_size=size, **kw,
    )


@register_model
def imagenet_resnet18(block: str = "ms", in_channels: int = 3, num_classes: int = 1000, **kw):
    """MS-ResNet-18 of Table IX (blocks 2/2/2/2)."""
    return _imagenet([2, 2, 2, 2], block, in_channels, num_classes, **kw)


@register_model
def imagenet_resnet34(block: str = "ms", in_channels: int = 3, num_classes: int = 1000, **kw):
    """MS-ResNet-34 of Table IX (blocks 3/4/6/3)."""
    return _imagenet([3, 4, 6, 3], block, in_channels, num_classes, **kw)


@register_model
def imagenet_resnet104(block: str = "ms", in_channels: int = 3, num_classes: int = 1000, **kw):
    """MS-ResNet-104 of Table IX (blocks 3/8/32/8), dropout 0.2 before the FC and
    2x2 average pooling + stride-1 1x1 conv in the downsampling shortcuts.

    The stem is Table IX's (one 7x7 convolution, stride 2).  The authors' release builds
    ResNet-104's stem from three 3x3 convolutions (strides 2, 1, 1, with biases, one TDBN
    after the last), so its checkpoint does not load into this model."""
    kw.setdefault("dropout", 0.2)
    kw.setdefault("shortcut", "avgpool_conv")
    return _imagenet([3, 8, 32, 8], block, in_channels, num_classes, **kw)
