"""Performance (book chapter 13): the ``msr bench`` results, the wall time and images/s
of every stored run and analysis of a profile, and how much of its value order is stored."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from msr.provenance import hardware_of
from msr.results import ResultsStore

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 13: the `msr bench` results (results/bench; in the smoke profile
    a quick CPU bench is run when none is stored), the wall time and images/s of every
    stored run and analysis of this profile, and per experiment of its value order the runs
    stored of those planned (:func:`msr.pending.plan_table`)."""
    from msr import bench
    from msr.pending import plan_table

    found = bench.load_results(ctx.store.root, include_quick=ctx.profile == "smoke")
    if not found and ctx.profile == "smoke" and not ctx.render_only:
        bench.store_result(bench.run_bench(quick=True, device="cpu"), ctx.store.root)
        found = bench.load_results(ctx.store.root, include_quick=True)
    return {"bench": found, "unmeasured": unmeasured(found), "runs": run_times(ctx.store, ctx.profile),
            "plan": plan_table(ctx.store, ctx.profile)}


def unmeasured(benches: dict[str, dict]) -> list[str]:
    """The measurements the chapter's introduction names that no stored bench holds
    (an errored or skipped row holds none): SpikingJelly's LIF and training step, the
    training loop on a GPU, runs trained at once."""
    def ok(rows, test):
        return any(test(r) and r.get("status", "ok") == "ok" for r in rows or [])

    held = {
        "SpikingJelly's LIF": any(ok(b.get("lif"), lambda r: r["backend"].startswith("spikingjelly")
                                      and r.get("median_ms")) for b in benches.values()),
        "training steps with SpikingJelly's neuron": any(
            ok(b.get("train"), lambda r: str(r.get("strategy")).startswith("spikingjelly")) for b in benches.values()),
        "the training loop on a GPU (CUDA graph, resident data, torch.compile's reduce-overhead mode)": any(
            b["provenance"].get("device") == "cuda" and ok(b.get("loop"), lambda r: True) for b in benches.values()),
        "runs trained at once (`--jobs`)": any(ok(b.get("jobs"), lambda r: True) for b in benches.values()),
    }
    return [what for what, has in held.items() if not has]


def run_times(store: ResultsStore, profile: str) -> list[dict]:
    """Per experiment folder of ``results/<profile>/``: how many results, their total wall
    time, the training runs' median images/s (mean over each run's epochs), how many runs
    shared the machine (each value that occurs, e.g. ``"1, 2"``: with ``--jobs`` a run's
    images/s is its share; a run trained alone says 1) and the hardware."""
    from statistics import median

    rows = []
    folder = store.root / profile
    for exp in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "tables") if folder.is_dir() else []:
        items = store.list(profile, exp)
        if not items:
            continue
        speeds = [float(np.mean(r["epochs"]["images_per_s"])) for r in items
                  if isinstance(r.get("epochs"), dict) and r["epochs"].get("images_per_s")]
        rows.append({"experiment": exp, "results": len(items),
                     "wall time (min)": sum(r.get("wall_time_s") or 0.0 for r in items) / 60,
                     "training images/s (median)": median(speeds) if speeds else None,
                     "runs at once": ", ".join(str(n) for n in sorted({
                         (r.get("runtime") or {}).get("concurrent_runs") or 1 for r in items
                         if isinstance(r.get("epochs"), dict)})) or None,
                     "hardware": ", ".join(sorted({hardware_of(r.get("provenance")) for r in items}))})
    return rows
