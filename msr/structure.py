"""Parameter counts and multiply-accumulates, counted by ``torch.utils.flop_counter``.

Table V counts the MACs ("FLOPs") of the convolutions in the residual paths only:
the encoding layer (stem) and the shortcut downsampling are excluded because they do
not receive spikes.  :func:`summarize` reports every part separately, per image and
per timestep (T = 1), so MACs x T x firing rate gives the SyOPs of Table V.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from msr.models import SpikingResNet

_RESIDUAL = re.compile(r"^stages\.\d+\.\d+\.conv[12]$")
_SHORTCUT = re.compile(r"^stages\.\d+\.\d+\.shortcut\.\d+$")


@dataclass
class Structure:
    """What ``msr info`` prints.  MACs are per image and timestep."""

    name: str
    block: str
    input_size: tuple[int, int, int]
    params: int
    macs_total: int
    macs_residual: int
    macs_encoding: int
    macs_shortcut: int
    macs_fc: int
    residual_convs: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def parse_input_size(text: str) -> tuple[int, int, int]:
    """``"3x224x224"`` -> ``(3, 224, 224)``."""
    try:
        c, h, w = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"input size must look like CxHxW (e.g. 3x224x224), got {text!r}") from None
    if min(c, h, w) < 1:
        raise ValueError(f"input size must be positive, got {text!r}")
    return c, h, w


def summarize(model: SpikingResNet, input_size: tuple[int, int, int] | None = None, name: str = "") -> Structure:
    """Count parameters and per-image, per-timestep MACs of ``model`` for one input."""
    size = tuple(input_size or model.input_size)
    was_training = model.training
    model.eval()
    prefix = type(model).__name__ + "."
    with torch.no_grad(), FlopCounterMode(display=False, depth=None) as counter:
        model(torch.zeros(1, *size), T=1)
    model.train(was_training)
    macs: dict[str, int] = {}
    for key, ops in counter.get_flop_counts().items():
        if key.startswith(prefix):
            # Conv modules are wrapped in TimeFolded: report the wrapper's name.
            macs[key[len(prefix):].removesuffix(".module")] = sum(ops.values()) // 2
    residual = {k: v for k, v in macs.items() if _RESIDUAL.match(k)}
    shortcut = {k: v for k, v in macs.items() if _SHORTCUT.match(k)}
    return Structure(
        name=name,
        block=model.block_name,
        input_size=size,
        params=sum(p.numel() for p in model.parameters()),
        macs_total=counter.get_total_flops() // 2,
        macs_residual=sum(residual.values()),
        macs_encoding=macs.get("stem_conv", 0),
        macs_shortcut=sum(shortcut.values()),
        macs_fc=macs.get("fc", 0),
        residual_convs=residual,
    )


def human(n: float, unit: str = "") -> str:
    """3.53e9 -> '3.53G'."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n:.0f}{unit}"
