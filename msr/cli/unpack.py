"""``msr unpack DIR``: verify a pack (:mod:`msr.pack`) and restore its results and checkpoints;
``--keep STATE`` also makes STATE a copy of the pack, the state the next GPU command carries."""
from __future__ import annotations

import argparse

from msr.cli._options import add_results, add_runs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="folder holding manifest.json and the parts (what a GPU command handed back)")
    add_results(p)
    add_runs(p)
    p.add_argument("--keep", metavar="STATE", default=None,
                   help="then replace folder STATE (e.g. .gpustate) with a verified copy of the pack: the state the "
                        "next command carries; commit it (notes/gpu-runs.md)")


def main(args: argparse.Namespace) -> int:
    from msr.pack import keep, unpack

    unpack(args.dir, store_root=args.results, run_dir=args.runs)
    if args.keep:
        keep(args.dir, args.keep)
    return 0
