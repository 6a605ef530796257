"""``msr bench``: LIF backends and whole training steps, measured in one run and stored
in the results store under ``<results>/bench/performance/`` (:mod:`msr.bench`)."""
from __future__ import annotations

import argparse

from msr.cli._options import add_device, add_results, device_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes, < 60 s on a 2-core CPU (CI)")
    add_device(parser)
    add_results(parser)
    parser.add_argument("--no-store", action="store_true", help="print the summary only, write nothing")
    parser.add_argument("--budget", default=None, metavar="TIME",
                        help="time the bench may take (e.g. 7m): the LIF and training-step rows always run, later "
                             "sections and rows only while time is left (the result lists what did not)")


def _print_summary(result: dict) -> None:
    p = result["provenance"]
    print(f"msr bench on {p['hardware']} (torch {p['torch']}, {p['wall_time_s']:.0f} s)")
    for r in result["train"]:
        if r.get("status") == "ok":
            print(f"  {r['model']:14s} {r['strategy']:18s} {r['median_ms']:9.1f} ms/step "
                  f"{r['images_per_s']:8.1f} img/s  conv {r.get('conv_share', float('nan')):.0%}")
        else:
            print(f"  {r['model']:14s} {r['strategy']:18s} {r.get('status')}")
        if r.get("compile_s") is not None:
            print(f"  {'':14s} {'':18s} compile {r['compile_s']:.1f} s")
    for r in result.get("memory", []):
        if r.get("status") == "ok":
            peak = f", peak {r['peak_mem_MB']:.0f} MB" if "peak_mem_MB" in r else ""
            print(f"  {r['model']:14s} {r['strategy']:18s} saved for backward {r['saved_for_backward_MB']:8.1f} MB "
                  f"({r['saved_vs_off']:.0%} of off){peak}")
    if result.get("not_run"):
        print(f"  not run within the time budget: {'; '.join(result['not_run'])}")
    for t in result["targets"]:
        v = "n/a" if t["value"] is None else f"{t['value']:.3g}"
        mark = {True: "MET", False: "not met", None: "not measured"}[t["met"]]
        print(f"  target: {t['target']}: {v} (threshold {t['threshold']}) {mark}")


def main(args: argparse.Namespace) -> int:
    import torch

    from msr.bench import run_bench, store_result
    from msr.budget import parse_duration

    device = device_of(args)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    budget = None if args.budget is None else parse_duration(args.budget)
    result = run_bench(quick=args.quick, device=device, progress=True, budget_s=budget)
    _print_summary(result)
    if not args.no_store:
        path = store_result(result, args.results)
        print(f"wrote {path}")
    return 0
