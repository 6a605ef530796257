"""``msr status [NAMES] --profile P``: what the profile's value order still needs (:mod:`msr.pending`)."""
from __future__ import annotations

import argparse

from msr.cli._options import add_profile, add_results, add_runs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", default=["all"], metavar="NAME",
                   help="experiments of the value order, or all (default)")
    add_profile(p)
    add_results(p)
    add_runs(p)


def main(args: argparse.Namespace) -> int:
    from msr.pending import format_status, status
    from msr.results import ResultsStore, default_root

    store = ResultsStore(args.results or default_root())
    rows, unknown = status(args.names, args.profile, store=store, run_dir=args.runs)
    print("\n".join(format_status(rows, unknown, args.profile)))
    return 0
