"""Residual blocks of the paper, on time-first tensors ``[T, B, C, H, W]``.

Every block has the same constructor, ``Block(c_in, c_out, stride, spec)``, and names
its parts consistently so that analyses can find them with hooks:

* ``conv1``/``bn1`` and ``conv2``/``bn2``: the first and second Conv/BN of the
  residual path (gamma1 and gamma2 of Fig. 5 are the initial scales of bn1/bn2);
* ``lif1``/``lif2``: the LIFs inside the residual path, in path order;
* ``lif_out``: the interblock LIF after the addition (vanilla only);
* ``shortcut``: identity, or the downsampling branch.

``spike_fed`` names the convolutions (``conv1``, ``conv2``, ``shortcut``) whose input
is by construction the output of a LIF, i.e. spikes (:func:`spike_fed_convs`; they
may store that input compactly for the backward, :mod:`msr.kernels.spike_conv`).

``spiking_output`` says whether the block emits spikes; models built from blocks
that do not (wolif, ms, sr_b, sr_c) add one LIF at the end of the convolutional part
so the classifier receives spikes (Sec. III-C).

Initialisation of the residual path (Sec. V-B, Fig. 5): every BN starts as the
paper's standard TDBN (gamma = V_th, beta = 0), except the BN that *ends* the
residual path of MS-ResNet (SR-A), whose gamma2 starts at 0 so the block is the
identity at initialisation (Proposition 1).  SR-B ends in a conv and SR-C in a LIF:
there the second BN feeds a LIF, and gamma2 = 0 would hold that LIF's membrane at
exactly 0, where the surrogate window |u - V_th| < a/2 is closed, so no gradient
would ever reach the path (see :class:`SRBBlock`).  They start as standard TDBN.

Precision.  Blocks whose output is real-valued (wolif and the MS family) add the
residual to the shortcut in at least fp32 (:func:`residual_sum`): under bf16 autocast
the BN outputs are bf16, and a membrane shortcut summed in bf16 (8 significant bits)
rounds away the small contributions of deep blocks, block after block.  The authors'
code keeps the same sum in fp32 (every conv output is written to an fp32 buffer, so BN,
shortcut and membrane are fp32 and only the convolutions run in half precision).
Without autocast this changes nothing.

``version`` numbers what a block type computes (its forward and its initialisation);
it is part of every training result's hash (:meth:`msr.config.TrainConfig.hash_dict`),
so changing a block's definition makes stored results of that block recompute.
Raise it whenever a block's forward or initialisation changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from msr.layers import AvgPoolFolded, Conv, Norm, initial_gamma
from msr.neuron import DEFAULT_BACKEND, LIF, SURROGATE_WIDTH, TAU, V_RESET, V_TH

SHORTCUTS = ("conv", "avgpool_conv")


def residual_sum(path: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
    """``shortcut + path`` in the wider of their dtypes and fp32: the membrane shortcut
    stays fp32 under bf16/fp16 autocast (see the module's "Precision")."""
    dtype = torch.promote_types(torch.promote_types(path.dtype, shortcut.dtype), torch.float32)
    return path.to(dtype) + shortcut.to(dtype)


@dataclass(frozen=True)
class SpikingSpec:
    """Neuron, normalisation and initialisation settings shared by every block of a model.

    ``gamma1``/``gamma2`` are the initial-scale multipliers alpha of the first and
    second BN of each residual path (``None``: the block type's default, 1 and 1,
    except gamma2 = 0 for MS-ResNet = SR-A, Sec. V-B; SR-B and SR-C start as standard
    TDBN, see :class:`SRBBlock`).
    """

    tau: float = TAU
    v_th: float = V_TH
    v_reset: float = V_RESET
    a: float = SURROGATE_WIDTH
    lif_backend: str = DEFAULT_BACKEND
    norm: str = "tdbn"
    gamma1: float | None = None
    gamma2: float | None = None
    shortcut: str = "conv"

    def lif(self) -> LIF:
        return LIF(self.tau, self.v_th, self.v_reset, self.a, self.lif_backend)

    def norm_layer(self, channels: int, alpha: float) -> Norm:
        return Norm(channels, initial_gamma(self.norm, alpha, self.v_th))


def downsample(c_in: int, c_out: int, stride: int, spec: SpikingSpec) -> nn.Module:
    """Shortcut branch: identity, 1x1 conv (stride) + BN, or for ResNet-104 (Table IX)
    2x2 average pooling then a stride-1 1x1 conv + BN."""
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    if spec.shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {spec.shortcut!r}; valid: {', '.join(SHORTCUTS)}")
    layers: list[nn.Module] = []
    if spec.shortcut == "avgpool_conv" and stride == 2:
        layers += [AvgPoolFolded(), Conv(c_in, c_out, 1, 1)]
    else:
        layers += [Conv(c_in, c_out, 1, stride)]
    layers.append(spec.norm_layer(c_out, 1.0))
    return nn.Sequential(*layers)


class Block(nn.Module):
    """Common constructor: the two 3x3 convolutions and BNs of a residual path."""

    spiking_input = True  # True: expects spikes from the previous block
    spiking_output = True
    version = 1  # raise when the forward or the initialisation changes (part of the results' hash)
    default_gamma2 = 1.0
    has_shortcut = True
    bn1_before_conv1 = False  # SR-B normalises the block input before conv1
    spike_fed: tuple[str, ...] = ("conv1", "conv2")  # convs whose input is a LIF's output

    def __init__(self, c_in: int, c_out: int, stride: int, spec: SpikingSpec):
        super().__init__()
        g1 = 1.0 if spec.gamma1 is None else spec.gamma1
        g2 = self.default_gamma2 if spec.gamma2 is None else spec.gamma2
        self.conv1 = Conv(c_in, c_out, 3, stride)
        self.conv2 = Conv(c_out, c_out, 3, 1)
        c_bn1 = c_in if self.bn1_before_conv1 else c_out
        self.bn1 = spec.norm_layer(c_bn1, g1)
        self.bn2 = spec.norm_layer(c_out, g2)
        self.lif1 = spec.lif()
        self.shortcut = downsample(c_in, c_out, stride, spec) if self.has_shortcut else None


class PlainBlock(Block):
    """PlainNet (Fig. 1): two Conv-BN-LIF layers, no shortcut."""

    has_shortcut = False

    def __init__(self, c_in, c_out, stride, spec):
        super().__init__(c_in, c_out, stride, spec)
        self.lif2 = spec.lif()

    def forward(self, o):
        return self.lif2(self.bn2(self.conv2(self.lif1(self.bn1(self.conv1(o))))))


class VanillaBlock(Block):
    """Vanilla spiking ResNet (Eq. 5, Fig. 1): o_{l+1} = LIF(F(o_l) + o_l),
    F = Conv-BN-LIF-Conv-BN.  Inputs and outputs are spikes."""

    spike_fed = ("conv1", "conv2", "shortcut")

    def __init__(self, c_in, c_out, stride, spec):
        super().__init__(c_in, c_out, stride, spec)
        self.lif_out = spec.lif()

    def forward(self, o):
        f = self.bn2(self.conv2(self.lif1(self.bn1(self.conv1(o)))))
        return self.lif_out(f + self.shortcut(o))


class WoLIFBlock(Block):
    """Vanilla block without the interblock LIF (Table II, row 3):
    x_{l+1} = BN(Conv(LIF(BN(Conv(x_l))))) + x_l; the first Conv of every block after
    the first receives real values, not spikes."""

    spiking_output = False
    spike_fed = ("conv2",)
    version = 2  # 2: the residual sum in fp32 under autocast (residual_sum)

    def forward(self, x):
        return residual_sum(self.bn2(self.conv2(self.lif1(self.bn1(self.conv1(x))))), self.shortcut(x))


class MSBlock(Block):
    """Membrane shortcut, MS-ResNet = SR-A (Eq. 10, Fig. 2a):
    x_{l+1} = x_l + BN(Conv(LIF(BN(Conv(LIF(x_l)))))).

    The shortcut carries membrane potential; both convolutions receive spikes.  With
    gamma2 = 0 the block is the identity at initialisation (block dynamical isometry,
    Proposition 1)."""

    spiking_input = False
    spiking_output = False
    default_gamma2 = 0.0
    version = 2  # 2: the membrane shortcut summed in fp32 under autocast (residual_sum)

    def __init__(self, c_in, c_out, stride, spec):
        super().__init__(c_in, c_out, stride, spec)
        self.lif2 = spec.lif()

    def forward(self, x):
        return residual_sum(self.bn2(self.conv2(self.lif2(self.bn1(self.conv1(self.lif1(x)))))), self.shortcut(x))


class SRBBlock(MSBlock):
    """SR-B (Fig. 6): x_{l+1} = x_l + Conv(LIF(BN(Conv(LIF(BN(x_l)))))).

    Our reading, following the text: the cyclic order starts at BN, so every CONV still
    receives spikes but each CONV is separated from the BN that normalises it (no BN
    folding into the conv at inference).  bn1 normalises the block input (c_in
    channels), bn2 sits between conv1 and lif2.

    Initialisation: standard TDBN for both BNs (gamma2 = V_th, not 0).  The gamma2 = 0
    trick of Sec. V-B zeroes "the normalization at the bottom of a residual path"
    (Sec. III-B, Lemma 1); SR-B's path ends in a conv, and its bn2 feeds lif2.  With
    gamma2 = beta2 = 0, lif2's membrane is exactly 0, outside the surrogate window
    |u - V_th| < a/2, so lif2 never fires, conv2 sees only zeros and every gradient of
    the path is exactly 0 at every step: the block would stay the identity for ever.
    Version 2: version 1 initialised gamma2 = 0 (a dead path).  Version 3: the
    residual sum in fp32 under autocast (:func:`residual_sum`)."""

    bn1_before_conv1 = True
    version = 3
    default_gamma2 = 1.0

    def forward(self, x):
        return residual_sum(self.conv2(self.lif2(self.bn2(self.conv1(self.lif1(self.bn1(x)))))), self.shortcut(x))


class SRCBlock(MSBlock):
    """SR-C (Fig. 6): x_{l+1} = x_l + LIF(BN(Conv(LIF(BN(Conv(x_l)))))).

    Our reading, following the text: the cyclic order starts at CONV, so the first CONV
    of each block receives the real-valued membrane shortcut (not spikes) and the
    path ends in a LIF, so the residual added to the shortcut is binary.

    Initialisation: standard TDBN for both BNs (gamma2 = V_th, not 0).  The path ends in
    lif2, fed by bn2; gamma2 = 0 would hold lif2's membrane at exactly 0 (outside the
    surrogate window), so no gradient would reach the path, as for :class:`SRBBlock`.
    Its path ends in a LIF, which has no scale that could start at zero and still pass a
    gradient, so nothing in SR-C is zeroed.
    Version 2: version 1 initialised gamma2 = 0 (a dead path).  Version 3: the
    residual sum in fp32 under autocast (:func:`residual_sum`)."""

    spike_fed = ("conv2",)
    version = 3
    default_gamma2 = 1.0

    def forward(self, x):
        return residual_sum(self.lif2(self.bn2(self.conv2(self.lif1(self.bn1(self.conv1(x)))))), self.shortcut(x))


BLOCKS: dict[str, type[Block]] = {
    "plain": PlainBlock,
    "vanilla": VanillaBlock,
    "wolif": WoLIFBlock,
    "ms": MSBlock,
    "sr_b": SRBBlock,
    "sr_c": SRCBlock,
}
#: SR-A is the paper's other name for the MS block (Fig. 6).
BLOCK_ALIASES = {"sr_a": "ms"}


def get_block(name: str) -> type[Block]:
    """Block class by name (``plain``, ``vanilla``, ``wolif``, ``ms``/``sr_a``, ``sr_b``, ``sr_c``)."""
    key = BLOCK_ALIASES.get(name, name)
    if key not in BLOCKS:
        valid = ", ".join(list(BLOCKS) + list(BLOCK_ALIASES))
        raise ValueError(f"unknown block {name!r}; valid: {valid}")
    return BLOCKS[key]


def residual_convs(model: nn.Module) -> list[nn.Conv2d]:
    """The spike-driven convolutions of the residual paths (conv1/conv2 of every block),
    the ones Table V counts; the encoding layer and shortcut convs are excluded."""
    convs = []
    for m in model.modules():
        if isinstance(m, Block):
            convs += [m.conv1.conv, m.conv2.conv]
    return convs


def spike_fed_convs(model: nn.Module) -> list[nn.Conv2d]:
    """The convolutions whose input is, by the block structure, the output of a LIF
    (each block's ``spike_fed``; a shortcut counts only when its convolution comes
    first, not after average pooling).  The stem convolution reads images."""
    convs = []
    for m in model.modules():
        if isinstance(m, Block):
            for name in m.spike_fed:
                layer = getattr(m, name)
                if isinstance(layer, nn.Sequential):
                    layer = layer[0]
                if isinstance(layer, Conv):
                    convs.append(layer.conv)
    return convs


def block_lifs(block: Block) -> dict[str, LIF]:
    """The LIF layers of one block by role name (``lif1``, ``lif2``, ``lif_out``)."""
    return {n: m for n, m in block.named_children() if isinstance(m, LIF)}


__all__ = [
    "BLOCKS",
    "Block",
    "SpikingSpec",
    "get_block",
    "residual_convs",
    "spike_fed_convs",
    "block_lifs",
    "downsample",
]
