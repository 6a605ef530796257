"""LIF-backend rows: forward + backward of every msr backend, the authors' per-timestep
loop (:mod:`msr.bench.authors_baseline`) and SpikingJelly's multi-step ``LIFNode``
(optional dependency; a row says "not installed", or why it fails to import) with our
neuron's parameters, at
T in {1, 2, 4, 6, 8}; on a GPU, the LIF kernels' achieved memory bandwidth against a
device-to-device copy."""
from __future__ import annotations

from functools import cache, partial
from typing import Callable

import torch

from msr.bench.timing import time_ms

LIF_TS = (1, 2, 4, 6, 8)


def spikingjelly_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spikingjelly")
    except PackageNotFoundError:
        return None


@cache  # asked for every SpikingJelly row; a failing import would run again each time
def spikingjelly_unavailable() -> str | None:
    """Why SpikingJelly cannot run here, or ``None`` where it imports: "not installed", or
    "fails to import: ..." with the error, e.g. a dependency missing where its wheel was
    installed without its dependencies (``scripts/gpu_wheels.sh`` fetches those it needs)."""
    if spikingjelly_version() is None:
        return "not installed"
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any import failure makes the rows unavailable, with the reason
        return f"fails to import: {type(err).__name__}: {err}"[:300]
    return None


def spikingjelly_lif(tau: float = 0.25, v_th: float = 0.5, a: float = 1.0, surrogate: str = "rect"):
    """SpikingJelly's multi-step LIFNode with our neuron's parameters, as a function of
    ``x`` ``[T, ...]`` (fresh state per call), or ``None`` where it cannot run
    (:func:`spikingjelly_unavailable` says why).

    SpikingJelly's charge without decay_input is H = V - (V - V_reset)/tau_sj + X, so
    tau_sj = 1/(1 - tau) (4/3 for tau = 0.25); Rect(alpha) has window |x| < 0.5/alpha
    and height alpha, i.e. alpha = 1/a."""
    if spikingjelly_unavailable() is not None:
        return None
    from spikingjelly.activation_based import functional, neuron
    from spikingjelly.activation_based import surrogate as sg

    fn = sg.Rect(alpha=1.0 / a) if surrogate == "rect" else sg.Sigmoid()
    node = neuron.LIFNode(tau=1.0 / (1.0 - tau), decay_input=False, v_threshold=v_th, v_reset=0.0,
                          surrogate_function=fn, detach_reset=True, step_mode="m")

    def run(x):
        functional.reset_net(node)
        return node(x)

    return run


class SpikingJellyLIF(torch.nn.Module):
    """An msr :class:`msr.neuron.LIF` layer's parameters run by SpikingJelly's multi-step
    ``LIFNode`` (:func:`spikingjelly_lif`): the same spikes, SpikingJelly's execution."""

    def __init__(self, layer):
        super().__init__()
        if layer.v_reset != 0.0:
            raise ValueError(f"SpikingJelly's node here resets to 0; the layer resets to {layer.v_reset}")
        self.run = spikingjelly_lif(layer.tau, layer.v_th, layer.a)
        if self.run is None:
            why = spikingjelly_unavailable()
            raise ModuleNotFoundError(f"SpikingJelly: {why} (optional: pip install spikingjelly)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def to_spikingjelly_lif(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every :class:`msr.neuron.LIF` of ``model`` in place by a
    :class:`SpikingJellyLIF` with its parameters (the training-step rows' SpikingJelly
    strategy); returns ``model``.  Raises ``ModuleNotFoundError`` without SpikingJelly."""
    from msr.neuron import LIF

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LIF):
                setattr(parent, name, SpikingJellyLIF(child))
    return model


def lif_candidates(device: torch.device) -> dict[str, Callable | str]:
    """name -> function of x (or a string saying why it is unavailable)."""
    from msr.bench.authors_baseline import authors_lif
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
    why = spikingjelly_unavailable()
    out["spikingjelly"] = why or spikingjelly_lif()
    # SpikingJelly 2.x has fused kernels only for some surrogates (not Rect), so the row
    # above runs its Torch path; this row times its fused kernel with its default
    # Sigmoid surrogate (same forward, different surrogate) as its fastest LIF at all.
    out["spikingjelly-fused-sigmoid"] = why or spikingjelly_lif(surrogate="sigmoid")
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
                except Exception as err:  # noqa: BLE001 - an optional backend failing is a row, not a crash
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
        fwd_ms = time_ms(partial(triton_lif.launch_forward, x, s, code, 0.25, 0.5, 0.0, 1.0), device, quick)
        bwd_ms = time_ms(partial(triton_lif.launch_backward, g, code, gx, 0.25, 1.0), device, quick)
        bf, bb = triton_lif.bytes_moved(T, N, x.element_size())
        for kind, ms, nbytes in (("forward", fwd_ms, bf), ("backward", bwd_ms, bb)):
            gbps = nbytes / (ms * 1e-3) / 1e9
            out["rows"].append({"kernel": kind, "dtype": str(dtype).replace("torch.", ""), "T": T, "neurons": N,
                                "median_ms": ms, "bytes": nbytes, "GBps": gbps, "fraction_of_copy": gbps / dev_bw})
    return out
