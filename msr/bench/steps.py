"""Training-step rows: a full step (forward, backward, SGD) of MS-ResNet-20/-56 (CIFAR)
and MS-ResNet-18 (ImageNet family) at T = 6, msr's execution (T folded into the batch,
fused LIF) against the authors' (:mod:`msr.bench.authors_baseline`: per-timestep
layers, Python LIF loop) and against SpikingJelly's ``LIFNode`` in every LIF layer of the
same network (:func:`msr.bench.lif.to_spikingjelly_lif`), with the share of the step inside convolutions
(torch.profiler), the bytes saved for backward and, on CUDA, the peak allocated memory;
on CPU (full mode) also ``torch.compile`` of the model, its compile time reported apart
from the step time.  Memory rows: bytes saved for backward with the spike-fed
convolutions' inputs stored as floats, int8 or bits (:mod:`msr.kernels.spike_conv`);
on a GPU, MS-ResNet-104 at batch 64, T = 6, 224x224."""
from __future__ import annotations

import gc
import time
from typing import Callable

import torch

from msr.bench.lif import spikingjelly_unavailable
from msr.bench.timing import sync, time_steps_ms


def saved_bytes(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run ``fn`` and count the bytes of distinct storages saved for backward."""
    seen: dict[int, int] = {}

    def pack(t):
        try:
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
        except Exception:  # noqa: BLE001 - a tensor without a storage of its own adds no bytes
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
    sync(device)
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
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
            # msr-bf16 with every LIF layer run by SpikingJelly's LIFNode (the equivalent neuron)
            {"strategy": "spikingjelly-bf16", "lif": "spikingjelly", "channels_last": True, "amp": True,
             "graphs": False},
        ]
    else:
        rows += [
            {"strategy": "msr", "lif": "auto", "channels_last": False, "amp": False, "graphs": False},
            {"strategy": "msr-channels-last", "lif": "auto", "channels_last": True, "amp": False, "graphs": False},
            {"strategy": "spikingjelly", "lif": "spikingjelly", "channels_last": False, "amp": False,
             "graphs": False},
        ]
        if not quick:  # compiling takes tens of seconds per model on 2 cores
            rows.append({"strategy": "msr-compile", "lif": "auto", "channels_last": True, "amp": False,
                         "graphs": False, "compile": True})
    return rows


def _build_step(cfg: dict, strat: dict, device: torch.device, T: int):
    from msr import create_model
    from msr.bench.authors_baseline import to_authors_execution
    from msr.bench.lif import to_spikingjelly_lif
    from msr.speed import graphed_train_step, prepare_model, to_memory_format, train_step_fn

    torch.manual_seed(0)
    model = create_model(cfg["model"], T=T, **cfg["kw"]).to(device)
    if strat["strategy"] == "authors":
        model = to_authors_execution(model, share_weights=True)
    else:
        sj = strat["lif"] == "spikingjelly"
        model = prepare_model(model, channels_last=strat["channels_last"],
                              lif_backend="reference" if sj else strat["lif"],
                              compact_spikes=strat.get("compact", False), compile=strat.get("compile", False))
        if sj:
            model = to_spikingjelly_lif(model)
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
            if strat["lif"] == "spikingjelly" and (why := spikingjelly_unavailable()) is not None:
                rows.append({**row, "status": why})
                continue
            try:
                _fresh(device, row)
                if strat.get("compile"):
                    torch._dynamo.reset()
                model, _opt, x, y, step = _build_step(cfg, strat, device, T)
                if strat.get("compile"):  # the first step compiles forward and backward
                    t0 = time.perf_counter()
                    step()
                    sync(device)
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
            except Exception as err:  # noqa: BLE001 - a failing configuration is a row, not a crash
                row["status"] = f"error: {type(err).__name__}: {err}"[:300]
            rows.append(row)
            model = _opt = x = y = step = None  # free the model before the next row
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
                model, _opt, x, y, step = _build_step(cfg, strat, device, T)
                mb = _saved_mb(model, x, y, device, strat["amp"])
                row["saved_for_backward_MB"] = mb
                row["saved_per_image_MB"] = mb / cfg["batch"]
                step()
                sync(device)
                if cuda:
                    row["peak_mem_MB"] = torch.cuda.max_memory_allocated(device) / 2**20
                if not quick:
                    row["median_ms"] = time_steps_ms(step, device, 1, 5 if cuda else 3)
                row["status"] = "ok"
            except Exception as err:  # noqa: BLE001 - a failing configuration is a row, not a crash
                row["status"] = f"error: {type(err).__name__}: {err}"[:300]
            rows.append(row)
            model = _opt = x = y = step = None  # free the model before the next row
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
    except Exception as err:  # noqa: BLE001 - out of memory is the answer, not a crash
        row["status"] = f"error: {type(err).__name__}: {err}"[:300]
    torch.cuda.empty_cache()
    return row
