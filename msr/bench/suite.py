"""The whole suite in one run (:func:`run_bench`), its targets (:func:`summarize`) and the
Performance chapter's tables (:func:`bench_table`)."""
from __future__ import annotations

import os
import sys
import time

import torch

from msr.bench.lif import bench_lif, bench_lif_bandwidth, spikingjelly_version
from msr.bench.loop import NOT_RUN, bench_jobs, bench_loop, time_left
from msr.bench.steps import bench_memory, bench_resnet104_memory, bench_train
from msr.provenance import hardware_slug, provenance

#: The layout of a result: ``provenance`` (:mod:`msr.provenance`), ``environment``, the rows.
SCHEMA = 2


def environment(device: torch.device) -> dict:
    """What else shapes the timings: the hardware's key, torch's threads, the load of the
    machine when the run began (other jobs slow every row) and the optional libraries."""
    info = {"hardware_slug": hardware_slug(device), "threads": torch.get_num_threads()}
    try:
        info["loadavg_at_start"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        import triton

        info["triton"] = triton.__version__
    except Exception:  # noqa: BLE001 - an installation that fails to import counts as absent
        info["triton"] = None
    info["spikingjelly"] = spikingjelly_version()
    return info


def _lif_ms(result: dict, backend: str, T: int) -> tuple[float, int] | None:
    """(median ms, neurons) of ``backend`` at the largest size it was timed at."""
    rows = [r for r in result["lif"] if r["backend"] == backend and r["T"] == T and r["median_ms"]]
    if not rows:
        return None
    r = max(rows, key=lambda r: r["neurons"])
    return r["median_ms"], r["neurons"]


def _train_row(result: dict, model: str, strategy: str) -> dict | None:
    for r in result["train"]:
        if r["model"] == model and r["strategy"] == strategy and r.get("status") == "ok":
            return r
    return None


def summarize(result: dict) -> list[dict]:
    """The suite's targets, each with the measured value, the threshold, whether it is met
    and ``digits``, the decimals both numbers are shown with (:func:`target_text`): a ratio
    2, a share of the step in percent (as the training-step table shows it) and images/s 0,
    gigabytes 1."""
    gpu = result["provenance"]["device"] == "cuda"
    out = []

    def target(name, value, threshold, higher=True, digits=2):
        met = None if value is None else (value >= threshold if higher else value <= threshold)
        out.append({"target": name, "value": value, "threshold": threshold, "met": met, "digits": digits})

    fast = "msr-triton" if gpu else "msr-cpu"
    ours = _lif_ms(result, fast, 6)

    def lif_target(other: str, words: str):  # the ratio at the largest size both were timed at
        them = _lif_ms(result, other, 6)
        same = bool(them and ours and them[1] == ours[1])
        size = f", {ours[1]:,} neurons" if same else ""
        target(f"LIF forward + backward, T = 6{size}: {fast}'s speed-up over {words}",
               them[0] / ours[0] if same else None, 2.0)

    lif_target("spikingjelly", "SpikingJelly")
    lif_target("authors-loop", "the authors' loop")
    models = ["MS-ResNet-18", "MS-ResNet-20"] if not gpu else ["MS-ResNet-18"]
    best = ["msr", "msr-channels-last", "msr-compile"] if not gpu else ["msr-bf16", "msr-bf16-graphs", "msr-fp32"]
    for m in models:
        a = _train_row(result, m, "authors")
        ours_rows = [r for s in best if (r := _train_row(result, m, s))]
        o = min(ours_rows, key=lambda r: r["median_ms"]) if ours_rows else None
        ratio = a["median_ms"] / o["median_ms"] if a and o else None
        target(f"{m} training step: speed-up over the authors' ({o['strategy'] if o else '-'})", ratio,
               3.0 if gpu else 2.0)
        if not gpu:  # in percent, as the training-step table shows it
            share = o.get("conv_share") if o else None
            target(f"{m} time in convolutions, % of the step ({o['strategy'] if o else '-'})",
                   100 * share if share is not None else None, 85.0, digits=0)
    if gpu:
        # the goals of an H100, through the real loop on Fashion-MNIST (synthetic rows do not count)
        for model, goal in (("MS-ResNet-20", 15000.0), ("MS-ResNet-56", 6000.0)):
            rows = [r for r in result.get("loop", []) if r["model"] == model and r["strategy"] == "loop"
                    and r["status"] == "ok" and r["dataset"] == "fashion_mnist"]
            target(f"{model} training loop on Fashion-MNIST, batch 128, T = 6: images/s",
                   rows[0]["images_per_s"] if rows else None, goal, digits=0)
        bw = result.get("lif_bandwidth") or {}
        fr = [r["fraction_of_copy"] for r in bw.get("rows", []) if r["dtype"] == "float32"]
        target("LIF kernels alone: memory bandwidth, % of a device-to-device copy's (fp32, the lower of "
               "forward and backward)", 100 * min(fr) if fr else None, 80.0, digits=0)
        r104 = result.get("resnet104") or {}
        ok = r104.get("status") == "ok"
        target("MS-ResNet-104 training at batch 64, T = 6, 224 px: peak memory on one GPU (GB; met at or below "
               "the threshold)",
               r104.get("peak_mem_MB", 0) / 1024 if ok else None, 80.0, higher=False, digits=1)
    return out


def target_text(target: dict, key: str = "value") -> str:
    """A target's measured ``value`` or its ``threshold`` as a reader sees it: ``digits``
    decimals (2 for a target stored before targets carried them), thousands separated,
    ``—`` where nothing was measured."""
    x = target.get(key)
    return "—" if x is None else f"{x:,.{target.get('digits', 2)}f}"


def run_bench(quick: bool = True, device: str | torch.device = "cpu", progress: bool = False,
              budget_s: float | None = None) -> dict:
    """Run the whole suite and return the result dict (see the module docstring).

    ``budget_s``: seconds the suite may take; the LIF and training-step rows always run,
    then every later section, training-loop and concurrency row starts only while time is
    left: what does not is listed in ``result["not_run"]`` (rows also by their status),
    so that one run always ends with a result of what it measured."""
    from msr.budget import Deadline

    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available; valid here: cpu")
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"the bench's budget must be > 0 seconds, got {budget_s}")
    t0 = time.perf_counter()
    deadline = Deadline.after(budget_s) if budget_s is not None else None
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if progress else (lambda *a: None)
    result: dict = {"schema": SCHEMA, "quick": bool(quick), "provenance": provenance(device),
                    "environment": environment(device), "not_run": []}
    if budget_s is not None:
        result["environment"]["budget_s"] = float(budget_s)

    def in_time(section: str) -> bool:
        if time_left(deadline):
            log(f"msr bench: {section} ...")
            return True
        result["not_run"].append(section)
        log(f"msr bench: {section}: not run, the time budget is spent")
        return False

    if device.type == "cpu":
        from msr.speed import tune_cpu_allocator

        result["environment"]["cpu_allocator_tuned"] = tune_cpu_allocator()
    log("msr bench: LIF ...")
    result["lif"] = bench_lif(device, quick)
    if device.type == "cuda":
        log("msr bench: bandwidth ...")
        try:
            result["lif_bandwidth"] = bench_lif_bandwidth(device, quick)
        except Exception as err:  # noqa: BLE001 - a failing section is stored as such, the others go on
            result["lif_bandwidth"] = {"status": f"error: {type(err).__name__}: {err}"[:300], "rows": []}
    log("msr bench: training steps ...")
    result["train"] = bench_train(device, quick)
    result["loop"] = bench_loop(device, quick, deadline) if in_time("the training loop") else []
    result["memory"] = bench_memory(device, quick) if in_time("memory (compact spike storage)") else []
    if device.type == "cuda" and not quick and in_time("MS-ResNet-104 memory"):
        result["resnet104"] = bench_resnet104_memory(device)
    result["jobs"] = bench_jobs(device, quick, deadline) if in_time("runs trained at once (--jobs)") else []
    result["not_run"] += [f"{r['model']} {r.get('strategy') or 'jobs ' + str(r['jobs'])}"
                          for r in (*result["loop"], *result["jobs"]) if r.get("status") == NOT_RUN]
    result["targets"] = summarize(result)
    result["provenance"]["wall_time_s"] = time.perf_counter() - t0
    return result


def bench_table(result: dict):
    """The chapter's tables: ``{"lif", "train", "memory", "loop", "jobs", "targets"}`` -> DataFrame.

    The LIF table has one row per (neurons, T) and one column per backend (median ms)
    plus each backend's speed-up of the fastest msr backend over it; the training
    table lists ms/step, images/s, conv share and memory with the ratio to the
    authors' strategy of the same model."""
    import pandas as pd

    lif = pd.DataFrame(result["lif"])
    lif_ok = lif[lif["median_ms"].notna()]
    wide = lif_ok.pivot_table(index=["neurons", "T"], columns="backend", values="median_ms")
    fast = "msr-triton" if "msr-triton" in wide.columns else "msr-cpu"
    for col in list(wide.columns):
        if col != fast:
            wide[f"{col} / {fast}"] = wide[col] / wide[fast]
    train = pd.DataFrame(result["train"])
    if "median_ms" in train:
        base = train[train["strategy"] == "authors"].set_index("model")["median_ms"]
        train["speedup_vs_authors"] = [base.get(m, float("nan")) / ms if ms else float("nan")
                                       for m, ms in zip(train["model"], train["median_ms"], strict=True)]
    return {"lif": wide.reset_index(), "train": train, "memory": pd.DataFrame(result.get("memory", [])),
            "loop": pd.DataFrame(result.get("loop", [])), "jobs": pd.DataFrame(result.get("jobs", [])),
            "targets": pd.DataFrame(result["targets"])}
