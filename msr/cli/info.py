"""``msr info NAME``: parameters and MACs of a model, counted by ``torch.utils.flop_counter``
(:mod:`msr.structure`)."""
from __future__ import annotations

import argparse
import json

from msr.blocks import BLOCKS
from msr.models import create_model, list_models
from msr.structure import human, parse_input_size, summarize


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help=f"model name ({', '.join(list_models())})")
    p.add_argument("--depth", type=int, help="CIFAR family only: 6n+2")
    p.add_argument("--block", default="ms", help=f"block type ({', '.join(BLOCKS)})")
    p.add_argument("--in-channels", type=int, help="input channels (default: the family's)")
    p.add_argument("--num-classes", type=int, help="classes (default: the family's)")
    p.add_argument("--input-size", help="CxHxW, e.g. 3x224x224 (default: the family's)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(args: argparse.Namespace) -> int:
    kwargs = {"block": args.block}
    if args.depth is not None:
        if args.name != "cifar_resnet":
            raise ValueError(f"--depth applies to cifar_resnet only, not {args.name}")
        kwargs["depth"] = args.depth
    size = parse_input_size(args.input_size) if args.input_size else None
    if args.in_channels is not None:
        kwargs["in_channels"] = args.in_channels
    elif size is not None:
        kwargs["in_channels"] = size[0]
    if size is not None and kwargs.get("in_channels", size[0]) != size[0]:
        raise ValueError(f"--in-channels {kwargs['in_channels']} disagrees with --input-size {args.input_size}")
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    model = create_model(args.name, **kwargs)
    s = summarize(model, size, name=args.name)
    if args.json:
        print(json.dumps(s.as_dict(), indent=2))
        return 0
    rows = [
        ("model", f"{args.name} ({s.block})" + (f", depth {args.depth}" if args.depth else "")),
        ("input", "x".join(map(str, s.input_size))),
        ("parameters", f"{human(s.params)} ({s.params:,})"),
        ("MACs, total", human(s.macs_total)),
        ("MACs, residual-path convs", f"{human(s.macs_residual)} (Table V's FLOPs)"),
        ("MACs, encoding layer", human(s.macs_encoding)),
        ("MACs, shortcut downsampling", human(s.macs_shortcut)),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("MACs are per image and per timestep.")
    return 0
