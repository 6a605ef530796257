"""``msr pack DIR``: the new results of a profile and the checkpoints still needed, in at
most 8 files under 16 MiB (:mod:`msr.pack`)."""
from __future__ import annotations

import argparse

from msr.cli._options import add_profile, add_results, add_runs


def add_arguments(p: argparse.ArgumentParser) -> None:
    from msr.pack import MAX_FILES, MIB, PART_BYTES

    p.add_argument("dir", help="folder to write the pack into (other files there count against the limits)")
    add_profile(p)
    add_results(p)
    add_runs(p)
    p.add_argument("--part-size", default=f"{PART_BYTES // MIB}MiB", help="largest file written (default 15MiB)")
    p.add_argument("--max-files", type=int, default=MAX_FILES, help="files the folder may hold in all (default 8)")


def main(args: argparse.Namespace) -> int:
    from msr.pack import pack, parse_size
    from msr.profiles import get_profile

    get_profile(args.profile)
    m = pack(args.dir, args.profile, store_root=args.results, run_dir=args.runs,
             part_bytes=parse_size(args.part_size), max_files=args.max_files)
    return 1 if m["left_out"] else 0
