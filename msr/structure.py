"""Parameter counts and multiply-accumulates, counted by ``torch.utils.flop_counter``.

Table V counts the MACs ("FLOPs") of the convolutions in the residual paths only:
the encoding layer (stem) and the shortcut downsampling are excluded because they do
not receive spikes.  :func:`summarize` reports every part separately, per image and
per timestep (T = 1), so MACs x T x firing rate gives the SyOPs of Table V.

The model as built is also traced: :func:`stage_shapes` (Table I, IX) and
:func:`block_flow` (the forward order inside a block, Fig. 1, 2a).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from msr.blocks import SpikingSpec, get_block
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


def structure_models() -> list[tuple[str, str, dict]]:
    """Models whose structure the architectures chapter counts: ``(label, model name, kwargs)``."""
    out = [(f"cifar_resnet{d} (ms)", "cifar_resnet", {"depth": d, "block": "ms"})
           for d in (8, 14, 20, 32, 44, 56, 104, 110, 482)]
    out += [(f"cifar_resnet20 ({b})", "cifar_resnet", {"depth": 20, "block": b})
            for b in ("plain", "vanilla", "wolif", "sr_b", "sr_c")]
    out += [(n, n, {}) for n in ("imagenet_resnet18", "imagenet_resnet34", "imagenet_resnet104", "dvs_resnet20")]
    return out


def stage_shapes(model) -> list[dict]:
    """Per stage: blocks, output size and channels, traced on a dummy input (Table I/IX as built)."""
    shapes: list[dict] = []
    hooks = []
    for i, stage in enumerate(model.stages):
        def stage_hook(m, inp, out, i=i):
            shapes.append({"stage": i + 1, "blocks": len(m), "output": f"{out.shape[-2]}x{out.shape[-1]}",
                           "channels": int(out.shape[-3])})
        hooks.append(stage.register_forward_hook(stage_hook))
    stem: dict = {}

    def stem_hook(m, inp, out):
        stem.update(output=f"{out.shape[-2]}x{out.shape[-1]}", channels=int(out.shape[-3]),
                    kernel=m.kernel_size[0], stride=m.stride[0])
    hooks.append(model.stem_conv.conv.register_forward_hook(stem_hook))  # encode() calls the bare conv
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *model.input_size), T=1)
    for h in hooks:
        h.remove()
    return [{"stage": 0, "blocks": 0, **stem}] + shapes


def block_flow(block_name: str) -> dict:
    """The forward order of a block's named children, traced with hooks on a dummy input.

    Returns ``{"path": [...], "post": [...], "shortcut": bool, "spiking_input": bool,
    "spiking_output": bool}``: ``path`` is the residual path (names in call order),
    ``post`` the modules applied after the addition (the vanilla block's interblock
    LIF), found by following which module consumed which module's output.
    """
    cls = get_block(block_name)
    block = cls(4, 4, 1, SpikingSpec()).eval()
    calls: list[tuple[str, int, int]] = []  # name, id(input), id(output)
    keep = []  # keep tensors alive so ids stay unique

    def hook(name):
        def fn(module, inputs, output):  # returns None: the output is unchanged
            calls.append((name, id(inputs[0]), id(output)))
            keep.extend([inputs[0], output])
        return fn

    hooks = [m.register_forward_hook(hook(n)) for n, m in block.named_children()]
    x = (torch.rand(1, 1, 4, 6, 6) > 0.5).float()
    with torch.no_grad():
        y = block(x)
    for h in hooks:
        h.remove()
    outputs = {o: n for n, _, o in calls}
    path, post, cur = [], [], id(x)
    for name, i, o in calls:
        if name == "shortcut":
            continue
        if i == cur or outputs.get(i) in path:
            path.append(name)
            cur = o
        else:
            post.append(name)
    return {"block": block_name, "path": path, "post": post, "shortcut": cls.has_shortcut,
            "shortcut_identity": isinstance(block.shortcut, torch.nn.Identity),
            "spiking_input": cls.spiking_input, "spiking_output": cls.spiking_output,
            "kinds": {n: type(getattr(block, n)).__name__ for n in path + post},
            "ends_in": type(getattr(block, (post or path)[-1])).__name__, "out_shape": list(y.shape)}


_PATH = re.compile(r"^stages\.(\d+)(?:\.(\d+)(?:\.(.+))?)?$")
#: a block's children and the network's own layers in the paper's words (Fig. 1, Table I)
_PART = {"lif1": "LIF 1", "lif2": "LIF 2", "lif_out": "LIF after the addition", "conv1": "conv 1",
         "conv2": "conv 2", "bn1": "BN 1", "bn2": "BN 2", "shortcut": "shortcut"}
_TOP = {"stem_conv": "encoding conv", "stem_bn": "encoding BN", "stem_lif": "encoding LIF",
        "head_lif": "LIF before the classifier", "fc": "classifier (FC)"}


def layer_label(path: str) -> str:
    """A module path of :class:`msr.models.SpikingResNet` in the paper's words, stages and
    blocks counted from 1: ``stages.1.1.lif2`` -> ``stage 2, block 2, LIF 2``,
    ``stages.1.2`` -> ``stage 2, block 3`` (``stages.S.B``: block B + 1 of stage S + 1),
    ``stem_lif`` -> ``encoding LIF``; a block's child alone (``lif1``) ->
    ``LIF 1``.  For what a reader sees (claims, labels), never for stored keys; a name it
    does not know comes back unchanged."""
    bare = path.removesuffix(".module")  # TimeFolded wrappers: the wrapped layer is the same layer
    if bare in _TOP or bare in _PART:
        return _TOP.get(bare) or _PART[bare]
    m = _PATH.match(bare)
    if not m:
        return path
    stage, block, part = m.groups()
    words = [f"stage {int(stage) + 1}"] + ([f"block {int(block) + 1}"] if block is not None else [])
    if part is None:
        return ", ".join(words)
    if part in _PART:
        return ", ".join(words + [_PART[part]])
    sc = re.fullmatch(r"shortcut\.(\d+)", part)
    if sc:
        return ", ".join(words + [f"shortcut layer {int(sc[1]) + 1}"])
    return path


def human(n: float, unit: str = "") -> str:
    """3.53e9 -> '3.53G'."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n:.0f}{unit}"
