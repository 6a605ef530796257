"""The ``msr`` command: a dispatcher over one small module per subcommand.

``msr.cli.<command>`` provides ``add_arguments(parser)`` and ``main(args) -> int`` over
the library; only the module of the command that runs is imported (``msr --help``
imports none of them), so one command's dependencies never slow another.  Options that
several commands take are defined once, in :mod:`msr.cli._options`.  Bad input (a
``ValueError``) ends as one line on stderr and exit status 2.

    msr COMMAND --help
    python -m msr.cli COMMAND ...        (also under torchrun: -m msr.cli train ...)
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> one-line help; the code is ``msr.cli.<subcommand>``
COMMANDS = {
    "info": "parameters and MACs of a model (Table IV/V structure)",
    "train": "train one model and store its result",
    "sweep": "run one of the paper's experiments (table2, table6, init, ...)",
    "reproduce": "execute the book's notebooks with papermill",
    "compute": "run the compute step of chapters without notebooks (e.g. on a GPU box)",
    "pack": "pack new results and the checkpoints still needed into at most 8 files",
    "unpack": "verify a pack and restore its results and checkpoints",
    "status": "what a profile's value order still needs: runs stored, interrupted, to train",
    "bench": "benchmark LIF backends and training steps",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``msr`` parser: every subcommand by name and help line, and the arguments of
    ``command`` alone (its module imported here)."""
    parser = argparse.ArgumentParser(
        prog="msr", description="MS-ResNet spiking networks: inspect, train, sweep, benchmark and reproduce the paper.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(f"msr.cli.{name}")
            mod.add_arguments(p)
            p.set_defaults(_main=mod.main)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``argv`` (without the program name) parsed; the command is its first word."""
    command = next((a for a in argv if not a.startswith("-")), None)
    return build_parser(command if command in COMMANDS else None).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else [str(a) for a in argv])
    try:
        return int(args._main(args) or 0)
    except ValueError as err:  # bad input: one clear line, no traceback
        print(f"msr {args.command}: error: {err}", file=sys.stderr)
        return 2
