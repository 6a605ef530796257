"""``msr unpack DIR``: verify a pack (:mod:`msr.pack`) and restore its results and checkpoints."""
from __future__ import annotations

import argparse

from msr.cli._options import add_results, add_runs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="folder holding manifest.json and the parts (what a GPU command handed back)")
    add_results(p)
    add_runs(p)


def main(args: argparse.Namespace) -> int:
    from msr.pack import unpack

    unpack(args.dir, store_root=args.results, run_dir=args.runs)
    return 0
