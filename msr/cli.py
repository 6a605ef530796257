"""The ``msr`` command.

Each subcommand lives in the module of its concept, which provides
``add_arguments(parser)`` and ``main(args) -> int``; this file only dispatches, so
importing ``msr.cli`` stays cheap and one subcommand's dependencies never slow another.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, one-line help)
COMMANDS = {
    "info": ("msr.structure_cli", "parameters and MACs of a model (Table IV/V structure)"),
    "train": ("msr.train_cli", "train one model and store its result"),
    "sweep": ("msr.sweep", "run one of the paper's experiments (table2, table6, init, ...)"),
    "reproduce": ("msr.reproduce", "execute the book's notebooks with papermill"),
    "compute": ("msr.pipeline", "run the compute step of chapters without notebooks (e.g. on a GPU box)"),
    "pack": ("msr.pack", "pack new results and the checkpoints still needed into at most 8 files"),
    "unpack": ("msr.unpack_cli", "verify a pack and restore its results and checkpoints"),
    "bench": ("msr.bench", "benchmark LIF backends and training steps"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msr", description="MS-ResNet spiking networks: inspect, train, sweep, benchmark and reproduce the paper.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except ValueError as err:  # bad input: one clear line, no traceback
        print(f"msr {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
