"""``msr unpack DIR``: verify a pack (:mod:`msr.pack`) and restore its results and checkpoints."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="folder holding manifest.json and the parts (what a GPU command handed back)")
    p.add_argument("--results", default=None, help="results root (default $MSR_RESULTS or results)")
    p.add_argument("--runs", default="runs", help="checkpoint root (default runs)")


def main(args: argparse.Namespace) -> int:
    from msr.pack import unpack

    unpack(args.dir, store_root=args.results, run_dir=args.runs)
    return 0
