"""``msr bench``: LIF backends and whole training steps, measured in one run.

Everything is timed on the same machine in the same process, warm-up excluded,
medians reported (``torch.utils.benchmark`` on CPU, ``triton.testing.do_bench`` with
CUDA events on GPU).  Rows:

* LIF forward+backward at T in {1, 2, 4, 6, 8} for several neuron counts: every msr
  backend available, the authors' per-timestep loop (:mod:`msr.authors_baseline`) and
  SpikingJelly's multi-step ``LIFNode`` (optional dependency; "not installed" if
  absent) with our neuron's parameters;
* on a GPU, the LIF kernels' achieved memory bandwidth against a device-to-device
  copy;
* a full training step (forward, backward, SGD) of MS-ResNet-20/-56 (CIFAR) and
  MS-ResNet-18 (ImageNet family) at T = 6: msr's execution (T folded into the batch,
  fused LIF) against the authors' (per-timestep layers, Python LIF loop), with the
  share of the step inside convolutions (torch.profiler), the bytes saved for
  backward and, on CUDA, the peak allocated memory; images/s; on CPU (full mode) also
  ``torch.compile`` of the model, its compile time reported apart from the step time;
* memory: bytes saved for backward per training step (and the CUDA peak) of
  MS-ResNet-20/-56 and -18 at T = 6 with the spike-fed convolutions' inputs stored as
  floats, int8 or bits (:mod:`msr.kernels.spike_conv`), and the step time of each;
* on a GPU, MS-ResNet-104 at batch 64, T = 6, 224x224: peak memory of a step.

The result is one JSON-able dict (:func:`run_bench`), stored through
``msr.results.ResultsStore`` when it exists, else written atomically to
``results/bench/<hardware-slug>.json``; :func:`bench_table` turns it into the
Performance chapter's table.
"""
from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from msr.results import cpu_model

SCHEMA = 1
LIF_TS = (1, 2, 4, 6, 8)
ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- provenance


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({torch.get_num_threads()} threads)"


def hardware_slug(device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu-{cpu_model()}-{torch.get_num_threads()}t"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _git_commit() -> str:
    """The commit of the code that runs; ``MSR_GIT_COMMIT`` names it for a copy of the
    code without git history (where ``git rev-parse HEAD`` would print ``HEAD``)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else ""
    except Exception:
        commit = ""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        commit = os.environ.get("MSR_GIT_COMMIT", "").strip()
    return commit if re.fullmatch(r"[0-9a-f]{7,40}", commit) else "unknown"


def provenance(device: torch.device) -> dict:
    info = {
        "device": device_name(device),
        "device_type": device.type,
        "hardware_slug": hardware_slug(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
    }
    try:  # other jobs on the machine slow every row: say how busy it was
        info["loadavg_at_start"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        import triton

        info["triton"] = triton.__version__
    except Exception:
        info["triton"] = None
    sj = spikingjelly_version()
    info["spikingjelly"] = sj
    return info


# --------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], device: torch.device, quick: bool, min_time: float | None = None) -> float:
    """Median milliseconds of ``fn`` after warm-up."""
    if device.type == "cuda":
        import triton.testing

        fn()
        _sync(device)
        return float(triton.testing.do_bench(fn, warmup=25 if quick else 100, rep=50 if quick else 300,
                                             return_mode="median"))
    from torch.utils import benchmark

    fn()  # warm-up
    m = benchmark.Timer("fn()", globals={"fn": fn}).blocked_autorange(
        min_run_time=min_time if min_time is not None else (0.1 if quick else 0.5))
    return float(m.median * 1e3)


def time_steps_ms(step: Callable[[], object], device: torch.device, warmup: int, reps: int) -> float:
    """Median wall time of whole (expensive) steps, each synchronised."""
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))


# --------------------------------------------------------------------------- LIF


def spikingjelly_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("spikingjelly")
    except Exception:
        return None


def spikingjelly_lif(tau: float = 0.25, v_th: float = 0.5, a: float = 1.0, surrogate: str = "rect"):
    """SpikingJelly's multi-step LIFNode with our neuron's parameters, as a function of
    ``x`` ``[T, ...]`` (fresh state per call), or ``None`` if SpikingJelly is absent.

    SpikingJelly's charge without decay_input is H = V - (V - V_reset)/tau_sj + X, so
    tau_sj = 1/(1 - tau) (4/3 for tau = 0.25); Rect(alpha) has window |x| < 0.5/alpha
    and height alpha, i.e. alpha = 1/a."""
    try:
        from spikingjelly.activation_based import functional, neuron
        from spikingjelly.activation_based import surrogate as sg
    except Exception:
        return None
    fn = sg.Rect(alpha=1.0 / a) if surrogate == "rect" else sg.Sigmoid()
    node = neuron.LIFNode(tau=1.0 / (1.0 - tau), decay_input=False, v_threshold=v_th, v_reset=0.0,
                          surrogate_function=fn, detach_reset=True, step_mode="m")

    def run(x):
        functional.reset_net(node)
        return node(x)

    return run


def lif_candidates(device: torch.device) -> dict[str, Callable | str]:
    """name -> function of x (or a string saying why it is unavailable)."""
    from msr.authors_baseline import authors_lif
    from msr.neuron import lif

    out: dict[str, Callable | str] = {
        "msr-reference": lambda x: lif(x, backend="reference"),
        "msr-cpu": lambda x: lif(x, backend="cpu"),
    }
    if device.type == "cuda":
        from msr.kernels import triton_lif

        out["msr-triton"] = (lambda x: lif(x, backend="triton")) if triton_lif.HAVE_TRITON \
            else "triton not installed"
    out["authors-loop"] = lambda x: authors_lif(x)
    sj = spikingjelly_lif()
    out["spikingjelly"] = sj if sj is not None else "not installed"
    # SpikingJelly 2.x has fused kernels only for some surrogates (not Rect), so the row
    # above runs its Torch path; this row times its fused kernel with its default
    # Sigmoid surrogate (same forward, different surrogate) as its fastest LIF at all.
    sjf = spikingjelly_lif(surrogate="sigmoid")
    out["spikingjelly-fused-sigmoid"] = sjf if sjf is not None else "not installed"
    return out


def bench_lif(device: torch.device, quick: bool) -> list[dict]:
    """LIF forward+backward rows."""
    if device.type == "cuda":
        sizes = [2**20, 2**23] if not quick else [2**20]
    else:
        sizes = [2**16, 2**19] if not quick else [2**15]
    Ts = LIF_TS if not quick else (1, 6)
    rows = []
    gen = torch.Generator(device="cpu").manual_seed(0)
    for name, fn in lif_candidates(device).items():
        for N in sizes:
            for T in Ts:
                row = {"backend": name, "T": T, "neurons": N, "dtype": "float32"}
                if isinstance(fn, str):
                    rows.append({**row, "median_ms": None, "status": fn})
                    continue
                x = (torch.randn(T, N, generator=gen) * 0.8 + 0.3).to(device).requires_grad_()
                g = torch.randn(T, N, generator=gen).to(device)

                def step(fn=fn, x=x, g=g):
                    x.grad = None
                    fn(x).backward(g)

                try:
                    ms = time_ms(step, device, quick)
                    rows.append({**row, "median_ms": ms, "status": "ok"})
                except Exception as err:  # an optional backend failing is a row, not a crash
                    rows.append({**row, "median_ms": None, "status": f"error: {type(err).__name__}: {err}"[:300]})
    return rows


def device_bandwidth_gbps(device: torch.device) -> float:
    """Device-to-device copy bandwidth (bytes read + written) in GB/s."""
    n = 2**28 if device.type == "cuda" else 2**24
    a = torch.empty(n, dtype=torch.float32, device=device).uniform_()
    b = torch.empty_like(a)
    ms = time_ms(lambda: b.copy_(a), device, quick=False)
    return 2 * a.numel() * 4 / (ms * 1e-3) / 1e9


def bench_lif_bandwidth(device: torch.device, quick: bool) -> dict:
    """Achieved bandwidth of the Triton forward and backward kernels (GPU only)."""
    from msr.kernels import triton_lif

    dev_bw = device_bandwidth_gbps(device)
    out = {"device_copy_GBps": dev_bw, "rows": []}
    T = 6
    for dtype in (torch.float32, torch.bfloat16):
        N = 2**22 if quick else 2**24
        x = (torch.randn(T, N, device=device) * 0.8 + 0.3).to(dtype)
        s = torch.empty_like(x)
        code = torch.empty(x.shape, dtype=torch.uint8, device=device)
        g = torch.randn_like(x)
        gx = torch.empty_like(x)
        fwd_ms = time_ms(lambda: triton_lif.launch_forward(x, s, code, 0.25, 0.5, 0.0, 1.0), device, quick)
        bwd_ms = time_ms(lambda: triton_lif.launch_backward(g, code, gx, 0.25, 1.0), device, quick)
        bf, bb = triton_lif.bytes_moved(T, N, x.element_size())
        for kind, ms, nbytes in (("forward", fwd_ms, bf), ("backward", bwd_ms, bb)):
            gbps = nbytes / (ms * 1e-3) / 1e9
            out["rows"].append({"kernel": kind, "dtype": str(dtype).replace("torch.", ""), "T": T, "neurons": N,
                                "median_ms": ms, "bytes": nbytes, "GBps": gbps, "fraction_of_copy": gbps / dev_bw})
    return out


# --------------------------------------------------------------------------- training step


def saved_bytes(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run ``fn`` and count the bytes of distinct storages saved for backward."""
    seen: dict[int, int] = {}

    def pack(t):
        try:
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
        except Exception:
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def conv_share(step: Callable[[], object], device: torch.device, steps: int = 1) -> float:
    """Fraction of a step's wall time inside convolutions (forward aten::convolution and
    aten::convolution_backward, children included; device time on CUDA)."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    _sync(device)
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        wall_us = (time.perf_counter() - t0) * 1e6
    conv_us = 0.0
    for e in prof.key_averages():
        if e.key in ("aten::convolution", "aten::convolution_backward"):
            conv_us += e.device_time_total if device.type == "cuda" else e.cpu_time_total
    return float(conv_us / wall_us)


def train_configs(device: torch.device, quick: bool) -> list[dict]:
    """The models and input sizes of the training-step rows."""
    if device.type == "cuda":
        return [
            {"model": "cifar_resnet", "label": "MS-ResNet-20", "kw": {"depth": 20}, "hw": 32, "batch": 128},
            {"model": "cifar_resnet", "label": "MS-ResNet-56", "kw": {"depth": 56}, "hw": 32, "batch": 128},
            {"model": "imagenet_resnet18", "label": "MS-ResNet-18", "kw": {}, "hw": 224, "batch": 32},
        ]
    if quick:
        return [
            {"model": "cifar_resnet", "label": "MS-ResNet-20", "kw": {"depth": 20}, "hw": 32, "batch": 2},
            {"model": "imagenet_resnet18", "label": "MS-ResNet-18", "kw": {}, "hw": 32, "batch": 1},
        ]
    return [
        {"model": "cifar_resnet", "label": "MS-ResNet-20", "kw": {"depth": 20}, "hw": 32, "batch": 8},
        {"model": "cifar_resnet", "label": "MS-ResNet-56", "kw": {"depth": 56}, "hw": 32, "batch": 8},
        {"model": "imagenet_resnet18", "label": "MS-ResNet-18", "kw": {}, "hw": 64, "batch": 8},
    ]


def strategies(device: torch.device, quick: bool = False) -> list[dict]:
    """Execution strategies compared per model (the first is the baseline)."""
    rows = [{"strategy": "authors", "lif": "reference", "channels_last": False, "amp": False, "graphs": False}]
    if device.type == "cuda":
        rows += [
            {"strategy": "msr-fp32", "lif": "auto", "channels_last": True, "amp": False, "graphs": False},
            {"strategy": "msr-bf16", "lif": "auto", "channels_last": True, "amp": True, "graphs": False},
            {"strategy": "msr-bf16-graphs", "lif": "auto", "channels_last": True, "amp": True, "graphs": True},
        ]
    else:
        rows += [
            {"strategy": "msr", "lif": "auto", "channels_last": False, "amp": False, "graphs": False},
            {"strategy": "msr-channels-last", "lif": "auto", "channels_last": True, "amp": False, "graphs": False},
        ]
        if not quick:  # compiling takes tens of seconds per model on 2 cores
            rows.append({"strategy": "msr-compile", "lif": "auto", "channels_last": True, "amp": False,
                         "graphs": False, "compile": True})
    return rows


def _build_step(cfg: dict, strat: dict, device: torch.device, T: int):
    from msr import create_model
    from msr.authors_baseline import to_authors_execution
    from msr.speed import graphed_train_step, prepare_model, to_memory_format, train_step_fn

    torch.manual_seed(0)
    model = create_model(cfg["model"], T=T, **cfg["kw"]).to(device)
    if strat["strategy"] == "authors":
        model = to_authors_execution(model, share_weights=True)
    else:
        model = prepare_model(model, channels_last=strat["channels_last"], lif_backend=strat["lif"],
                              compact_spikes=strat.get("compact", False), compile=strat.get("compile", False))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(cfg["batch"], 3, cfg["hw"], cfg["hw"], device=device)
    x = to_memory_format(x, strat["channels_last"])
    n_cls = 10 if cfg["model"] == "cifar_resnet" else 1000
    y = torch.randint(0, n_cls, (cfg["batch"],), device=device)
    if strat["graphs"]:
        step = graphed_train_step(model, opt, x, y, amp=strat["amp"])
    else:
        step = train_step_fn(model, opt, x, y, amp=strat["amp"])
    return model, opt, x, y, step


def _row(cfg: dict, strat: dict, T: int) -> dict:
    return {"model": cfg["label"], "arch": cfg["model"], **cfg["kw"], "input": f"{cfg['hw']}x{cfg['hw']}",
            "batch": cfg["batch"], "T": T, **strat}


def _fresh(device: torch.device, row: dict) -> None:
    """Free what the previous row left and start the CUDA peak counter afresh."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        row["mem_at_start_MB"] = torch.cuda.memory_allocated(device) / 2**20


def _saved_mb(model, x, y, device: torch.device, amp: bool) -> float:
    """MB saved for backward by one forward + loss (then released)."""
    from msr.speed import autocast

    def fwd_loss():
        with autocast(device, enabled=amp):
            return torch.nn.functional.cross_entropy(model(x), y)

    loss, nbytes = saved_bytes(fwd_loss)
    del loss
    return nbytes / 2**20


def bench_train(device: torch.device, quick: bool, T: int = 6) -> list[dict]:
    rows = []
    warm, reps = (1, 2) if quick else ((3, 10) if device.type == "cuda" else (2, 5))
    for cfg in train_configs(device, quick):
        for strat in strategies(device, quick):
            row = _row(cfg, strat, T)
            try:
                _fresh(device, row)
                if strat.get("compile"):
                    torch._dynamo.reset()
                model, opt, x, y, step = _build_step(cfg, strat, device, T)
                if strat.get("compile"):  # the first step compiles forward and backward
                    t0 = time.perf_counter()
                    step()
                    _sync(device)
                    first_s = time.perf_counter() - t0
                ms = time_steps_ms(step, device, warm, reps)
                row["median_ms"] = ms
                row["images_per_s"] = cfg["batch"] / (ms * 1e-3)
                if strat.get("compile"):
                    row["compile_s"] = first_s - ms * 1e-3
                if device.type == "cuda":
                    row["peak_mem_MB"] = torch.cuda.max_memory_allocated(device) / 2**20
                if not strat["graphs"]:
                    row["conv_share"] = conv_share(step, device)
                    if not strat.get("compile"):  # saved-tensor hooks would recompile the graph
                        row["saved_for_backward_MB"] = _saved_mb(model, x, y, device, strat["amp"])
                row["status"] = "ok"
            except Exception as err:
                row["status"] = f"error: {type(err).__name__}: {err}"[:300]
            rows.append(row)
            del_vars = None  # free the model before the next row
            model = opt = x = y = step = del_vars
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


COMPACT_MODES = ("off", "int8", "bits")


def memory_configs(device: torch.device, quick: bool) -> list[dict]:
    """Models of the memory section: CIFAR MS-ResNet-20/-56 and ImageNet MS-ResNet-18 (224 px)."""
    if quick:
        return [{"model": "cifar_resnet", "label": "MS-ResNet-20", "kw": {"depth": 20}, "hw": 32, "batch": 2}]
    cifar, imagenet = (128, 32) if device.type == "cuda" else (8, 2)
    return [
        {"model": "cifar_resnet", "label": "MS-ResNet-20", "kw": {"depth": 20}, "hw": 32, "batch": cifar},
        {"model": "cifar_resnet", "label": "MS-ResNet-56", "kw": {"depth": 56}, "hw": 32, "batch": cifar},
        {"model": "imagenet_resnet18", "label": "MS-ResNet-18", "kw": {}, "hw": 224, "batch": imagenet},
    ]


def bench_memory(device: torch.device, quick: bool, T: int = 6) -> list[dict]:
    """Bytes saved for backward per training step (torch.autograd.graph.saved_tensors_hooks,
    distinct storages, weights included) with the spike-fed convolutions' inputs stored as
    floats (``off``), int8 or bits; on CUDA the peak allocated memory of a whole step; the
    median step time (full mode).  msr execution: fused LIF, on CUDA bf16 autocast and
    channels-last."""
    cuda = device.type == "cuda"
    rows = []
    for cfg in memory_configs(device, quick):
        for mode in COMPACT_MODES:
            strat = {"strategy": f"msr-compact-{mode}", "lif": "auto", "channels_last": cuda, "amp": cuda,
                     "graphs": False, "compact": mode}
            row = _row(cfg, strat, T)
            try:
                _fresh(device, row)
                model, opt, x, y, step = _build_step(cfg, strat, device, T)
                mb = _saved_mb(model, x, y, device, strat["amp"])
                row["saved_for_backward_MB"] = mb
                row["saved_per_image_MB"] = mb / cfg["batch"]
                step()
                _sync(device)
                if cuda:
                    row["peak_mem_MB"] = torch.cuda.max_memory_allocated(device) / 2**20
                if not quick:
                    row["median_ms"] = time_steps_ms(step, device, 1, 5 if cuda else 3)
                row["status"] = "ok"
            except Exception as err:
                row["status"] = f"error: {type(err).__name__}: {err}"[:300]
            rows.append(row)
            model = opt = x = y = step = None
    off = {r["model"]: r for r in rows if r["compact"] == "off" and r["status"] == "ok"}
    for r in rows:
        if r["status"] == "ok" and r["model"] in off:
            r["saved_vs_off"] = r["saved_for_backward_MB"] / off[r["model"]]["saved_for_backward_MB"]
    return rows


def bench_resnet104_memory(device: torch.device, batch: int = 64, T: int = 6) -> dict:
    """Peak memory (and time) of MS-ResNet-104 training steps at 224x224 (GPU)."""
    cfg = {"model": "imagenet_resnet104", "label": "MS-ResNet-104", "kw": {}, "hw": 224, "batch": batch}
    strat = {"strategy": "msr-bf16", "lif": "auto", "channels_last": True, "amp": True, "graphs": False}
    row = {"model": "MS-ResNet-104", "input": "224x224", "batch": batch, "T": T, **strat}
    try:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        row["mem_at_start_MB"] = torch.cuda.memory_allocated(device) / 2**20
        model, opt, x, y, step = _build_step(cfg, strat, device, T)
        row["median_ms"] = time_steps_ms(step, device, 1, 3)
        row["images_per_s"] = batch / (row["median_ms"] * 1e-3)
        row["peak_mem_MB"] = torch.cuda.max_memory_allocated(device) / 2**20
        row["device_mem_MB"] = torch.cuda.get_device_properties(device).total_memory / 2**20
        row["status"] = "ok"
        del model, opt, x, y, step
    except Exception as err:
        row["status"] = f"error: {type(err).__name__}: {err}"[:300]
    torch.cuda.empty_cache()
    return row


# --------------------------------------------------------------------------- summary


def _lif_ms(result: dict, backend: str, T: int) -> float | None:
    rows = [r for r in result["lif"] if r["backend"] == backend and r["T"] == T and r["median_ms"]]
    if not rows:
        return None
    return max(rows, key=lambda r: r["neurons"])["median_ms"]  # largest size


def _train_row(result: dict, model: str, strategy: str) -> dict | None:
    for r in result["train"]:
        if r["model"] == model and r["strategy"] == strategy and r.get("status") == "ok":
            return r
    return None


def summarize(result: dict) -> list[dict]:
    """The issue's targets, each with the measured value and whether it is met."""
    gpu = result["provenance"]["device_type"] == "cuda"
    out = []

    def target(name, value, threshold, higher=True):
        met = None if value is None else (value >= threshold if higher else value <= threshold)
        out.append({"target": name, "value": value, "threshold": threshold, "met": met})

    fast = "msr-triton" if gpu else "msr-cpu"
    ours = _lif_ms(result, fast, 6)
    sj = _lif_ms(result, "spikingjelly", 6)
    authors_lif = _lif_ms(result, "authors-loop", 6)
    target(f"LIF fwd+bwd T=6: SpikingJelly / {fast}", sj / ours if sj and ours else None, 2.0)
    target(f"LIF fwd+bwd T=6: authors' loop / {fast}", authors_lif / ours if authors_lif and ours else None, 2.0)
    models = ["MS-ResNet-18", "MS-ResNet-20"] if not gpu else ["MS-ResNet-18"]
    best = ["msr", "msr-channels-last", "msr-compile"] if not gpu else ["msr-bf16", "msr-bf16-graphs", "msr-fp32"]
    for m in models:
        a = _train_row(result, m, "authors")
        ours_rows = [r for s in best if (r := _train_row(result, m, s))]
        o = min(ours_rows, key=lambda r: r["median_ms"]) if ours_rows else None
        ratio = a["median_ms"] / o["median_ms"] if a and o else None
        target(f"{m} training step: authors / msr ({o['strategy'] if o else '-'})", ratio, 3.0 if gpu else 2.0)
        if not gpu:
            target(f"{m} share of step in convolutions ({o['strategy'] if o else '-'})",
                   o.get("conv_share") if o else None, 0.85)
    if gpu:
        bw = result.get("lif_bandwidth") or {}
        fr = [r["fraction_of_copy"] for r in bw.get("rows", []) if r["dtype"] == "float32"]
        target("LIF kernels: fraction of copy bandwidth (fp32, min of fwd/bwd)", min(fr) if fr else None, 0.8)
        r104 = result.get("resnet104") or {}
        ok = r104.get("status") == "ok"
        target("MS-ResNet-104 b64 T6 224px trains on one GPU (peak GB, <= 80)",
               r104.get("peak_mem_MB", 0) / 1024 if ok else None, 80.0, higher=False)
    return out


def run_bench(quick: bool = True, device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Run the whole suite and return the result dict (see the module docstring)."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available; valid here: cpu")
    t0 = time.perf_counter()
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if progress else (lambda *a: None)
    result: dict = {"schema": SCHEMA, "quick": bool(quick), "provenance": provenance(device)}
    if device.type == "cpu":
        from msr.speed import tune_cpu_allocator

        result["provenance"]["cpu_allocator_tuned"] = tune_cpu_allocator()
    log("msr bench: LIF ...")
    result["lif"] = bench_lif(device, quick)
    if device.type == "cuda":
        log("msr bench: bandwidth ...")
        try:
            result["lif_bandwidth"] = bench_lif_bandwidth(device, quick)
        except Exception as err:
            result["lif_bandwidth"] = {"status": f"error: {type(err).__name__}: {err}"[:300], "rows": []}
    log("msr bench: training steps ...")
    result["train"] = bench_train(device, quick)
    log("msr bench: memory (compact spike storage) ...")
    result["memory"] = bench_memory(device, quick)
    if device.type == "cuda" and not quick:
        log("msr bench: MS-ResNet-104 memory ...")
        result["resnet104"] = bench_resnet104_memory(device)
    result["targets"] = summarize(result)
    result["seconds"] = time.perf_counter() - t0
    return result


def bench_table(result: dict):
    """The chapter's tables: ``{"lif", "train", "memory", "targets"}`` -> DataFrame.

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
                                       for m, ms in zip(train["model"], train["median_ms"])]
    return {"lif": wide.reset_index(), "train": train, "memory": pd.DataFrame(result.get("memory", [])),
            "targets": pd.DataFrame(result["targets"])}


# --------------------------------------------------------------------------- storage


def store_config(result: dict) -> dict:
    """The results-store key of a bench result: hardware and mode."""
    return {"hardware": result["provenance"]["hardware_slug"], "quick": bool(result["quick"])}


def store_result(result: dict, out: str | os.PathLike | None = None) -> Path:
    """Store ``result``: to the file ``out`` when given (atomically), else in the shared
    results store as ``put("bench", "performance", {hardware, quick}, result)``
    (``results/bench/performance/<hash>.json``), or, without a store,
    ``results/bench/<hardware-slug>.json``."""
    if out is None:
        try:
            from msr.results import ResultsStore
        except ImportError:
            ResultsStore = None
        if ResultsStore is not None:
            return Path(ResultsStore(ROOT / "results").put("bench", "performance", store_config(result), result))
    path = Path(out) if out else ROOT / "results" / "bench" / f"{result['provenance']['hardware_slug']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_results(directory: str | os.PathLike | None = None, include_quick: bool = False) -> dict[str, dict]:
    """Stored bench results by hardware slug (for the book's Performance chapter)."""
    d = Path(directory) if directory else ROOT / "results" / "bench"
    found = [json.loads(p.read_text()) for p in list(d.glob("*.json")) + list(d.glob("performance/*.json"))]
    found = [r for r in found if "lif" in r and (include_quick or not r.get("quick"))]
    # the newest result per hardware
    return {r["provenance"]["hardware_slug"]: r for r in sorted(found, key=lambda r: r["provenance"].get("date", ""))}


__all__ = ["run_bench", "bench_table", "store_result", "load_results", "summarize", "spikingjelly_lif"]
