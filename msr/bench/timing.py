"""Timing of the bench: warm-up excluded, medians (``torch.utils.benchmark`` on CPU,
``triton.testing.do_bench`` with CUDA events on GPU)."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], device: torch.device, quick: bool, min_time: float | None = None) -> float:
    """Median milliseconds of ``fn`` after warm-up."""
    if device.type == "cuda":
        import triton.testing

        fn()
        sync(device)
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
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))
