"""Whole-model speed switches, for the training loop and the bench.

The stateless layers already run once on T folded into the batch (``msr.layers``);
what is left to choose per run:

* ``lif_backend``: the LIF implementation of every layer (``auto`` picks the Triton
  kernel on CUDA and the fused CPU path otherwise; all give the same spikes);
* ``channels_last``: NHWC weights and activations, which cuDNN and oneDNN convolve
  faster; the LIF kernels read channels-last tensors without a copy;
* ``compile``: ``torch.compile`` of the model (worth it on GPU for the BN/elementwise
  glue; compile time is minutes for deep models);
* ``compact_spikes``: the convolutions fed by spikes save their input as bits (or
  int8) instead of floats for the backward (:mod:`msr.kernels.spike_conv`);
* bf16 autocast on CUDA (:func:`autocast`): convolutions in bf16, the LIF membrane
  still in fp32 (see :mod:`msr.neuron`);
* CUDA graphs for fixed shapes (:func:`graphed_train_step`, used by the bench;
  :class:`GraphedStep`, used by the training loop);
* on CPU, :func:`tune_cpu_allocator`: keep freed memory in the process instead of
  returning it to the OS, so the step's large tensors stop page-faulting.

Typical use in a training loop::

    model = prepare_model(create_model(...).cuda(), channels_last=True, lif_backend="auto")
    with autocast(device, enabled=True):
        loss = criterion(model(to_memory_format(x, channels_last=True)), y)
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable

import torch
from torch import nn

from msr.neuron import LIF, check_backend


def set_lif_backend(model: nn.Module, backend: str) -> nn.Module:
    """Switch every :class:`msr.neuron.LIF` in ``model`` to ``backend`` (in place)."""
    check_backend(backend)
    for m in model.modules():
        if isinstance(m, LIF):
            m.backend = backend
    if hasattr(model, "spec"):
        try:
            import dataclasses

            model.spec = dataclasses.replace(model.spec, lif_backend=backend)
        except (TypeError, ValueError):
            pass
    return model


def prepare_model(
    model: nn.Module,
    *,
    channels_last: bool = False,
    compile: bool = False,
    lif_backend: str | None = "auto",
    compile_mode: str | None = None,
    compact_spikes: bool | str = False,
) -> nn.Module:
    """Apply the speed switches to ``model`` and return it (compiled if asked).

    ``lif_backend=None`` leaves the layers' backends as they are.  The returned module
    is the compiled wrapper when ``compile=True``; its parameters are the model's.
    ``compact_spikes``: False/``"off"``, True (= ``"bits"``) or ``"int8"``.
    """
    if lif_backend is not None:
        set_lif_backend(model, lif_backend)
    if compact_spikes:
        set_compact_spikes(model, "bits" if compact_spikes is True else compact_spikes)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model, mode=compile_mode)
    return model


def set_compact_spikes(model: nn.Module, mode: str = "bits", check: bool = False) -> nn.Module:
    """Store the spike inputs of the spike-fed convolutions (:func:`msr.blocks.spike_fed_convs`)
    compactly for the backward: ``mode`` ``bits``, ``int8`` or ``off`` (in place)."""
    from msr.blocks import spike_fed_convs
    from msr.kernels.spike_conv import SpikeConv2d, check_mode

    check_mode(mode)
    for conv in spike_fed_convs(model):
        if mode != "off" or isinstance(conv, SpikeConv2d):
            SpikeConv2d.convert(conv, mode, check)
    return model


@functools.cache  # process-wide: once is enough
def tune_cpu_allocator() -> bool:
    """glibc malloc: serve allocations up to 32 MB from the heap (not fresh ``mmap``s)
    and never trim it, so the activations a CPU training step frees are reused without
    page faults.  Measured (notes/perf-notes.md): a 3 MB buffer first written after a
    fresh ``mmap`` costs ~1 ms in faults; MS-ResNet-20 batch 8 at T = 6 drops from
    ~3000-11000 to ~100 minor faults per step and 82 -> 68 ms.  The price: the process
    keeps its peak heap.  Process-wide and idempotent; False where glibc's ``mallopt``
    is not available (other C libraries, other systems)."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        ok = libc.mallopt(m_mmap_threshold, 32 * 2**20) == 1 and libc.mallopt(m_trim_threshold, 2**31 - 1) == 1
    except (OSError, AttributeError):
        ok = False
    return ok


def to_memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """An input batch in the layout the model was prepared for (4-D images only)."""
    if channels_last and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def autocast(device: torch.device | str, enabled: bool = True, dtype: torch.dtype = torch.bfloat16):
    """bf16 autocast on CUDA (a no-op context elsewhere or when ``enabled`` is False)."""
    device = torch.device(device)
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def train_step_fn(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    amp: bool = False,
    set_to_none: bool = True,
    criterion: nn.Module | None = None,
    outputs: bool = False,
) -> Callable[[], torch.Tensor]:
    """A closure running one SGD training step (forward, loss, backward, step); the loss is
    ``criterion`` (default: cross-entropy) of the float logits.  ``outputs``: the closure
    returns ``(loss, logits)`` instead of the loss."""
    criterion = criterion or nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=set_to_none)
        with autocast(x.device, enabled=amp):
            logits = model(x)
            loss = criterion(logits.float(), y)
        loss.backward()
        optimizer.step()
        return (loss, logits) if outputs else loss

    return step


def _training_state(model: nn.Module,
                    optimizer: torch.optim.Optimizer) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """(tensor, copy) of every weight, buffer and SGD momentum buffer (None: not created yet)."""
    out = [(t, t.detach().clone()) for t in model.state_dict(keep_vars=False).values()]
    for group in optimizer.param_groups:
        for p in group["params"]:
            buf = optimizer.state.get(p, {}).get("momentum_buffer")
            out.append((p, None) if buf is None else (buf, buf.clone()))
    return out


def _restore(saved, optimizer: torch.optim.Optimizer) -> None:
    """Put the state back in place (the graph keeps the tensors' addresses).  A momentum
    buffer created by the warm-up steps is zeroed: SGD (dampening 0) then takes the same
    first step as from no buffer (v = 0 * mu + g = g)."""
    with torch.no_grad():
        for t, copy in saved:
            if copy is None:
                optimizer.state[t]["momentum_buffer"].zero_()
            else:
                t.copy_(copy)


def graphed_train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    amp: bool = False,
    warmup: int = 3,
    criterion: nn.Module | None = None,
    outputs: bool = False,
    keep_state: bool = False,
) -> Callable[[], torch.Tensor]:
    """Capture one whole training step into a CUDA graph (fixed shapes) and return a
    function that replays it.  ``x``/``y`` are the static input buffers: copy each new
    batch into them before calling.  Gradients must be zeroed with ``set_to_none=False``
    semantics inside the graph, so the step zeroes them in place.  The learning rate is
    read at capture time: capture again when it changes.  ``keep_state``: weights,
    buffers, momentum and the CUDA RNG are as before the warm-up steps (training loops);
    the bench leaves them changed."""
    if not x.is_cuda:
        raise ValueError("CUDA graphs need CUDA tensors")
    body = train_step_fn(model, optimizer, x, y, amp=amp, set_to_none=False, criterion=criterion, outputs=outputs)
    saved = _training_state(model, optimizer) if keep_state else None
    rng = torch.cuda.get_rng_state(x.device) if keep_state else None

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            body()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    # "thread_local": a DataLoader's pin-memory thread may call CUDA (host allocations, event
    # queries) while the loop captures at an epoch's start; in the default "global" mode that
    # call invalidates the capture and the error resurfaces in the loader thread
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        static_out = body()
    if keep_state:
        _restore(saved, optimizer)
        torch.cuda.set_rng_state(rng, x.device)

    def replay():
        graph.replay()
        return static_out

    return replay


class GraphedStep:
    """The training loop's step replayed as a CUDA graph (:func:`graphed_train_step`).

    ``step(x, y)`` copies the batch into static buffers and replays; it returns the static
    ``(loss, logits)``, valid until the next call.  The graph is captured at the first
    call and again whenever the optimizer's learning rate changed (the lr schedule,
    once per epoch at most); the state is kept across captures (``keep_state``)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: nn.Module, *, amp: bool,
                 warmup: int = 2):
        self.model, self.optimizer, self.criterion, self.amp, self.warmup = model, optimizer, criterion, amp, warmup
        self.replay = self.x = self.y = self.lrs = None

    def __call__(self, x: torch.Tensor, y: torch.Tensor):
        lrs = [float(g["lr"]) for g in self.optimizer.param_groups]
        if self.replay is None or lrs != self.lrs or x.shape != self.x.shape:
            self.x, self.y = torch.empty_like(x), torch.empty_like(y)
            self.x.copy_(x), self.y.copy_(y)
            self.replay = None  # frees the old graph before the new capture
            self.replay = graphed_train_step(self.model, self.optimizer, self.x, self.y, amp=self.amp,
                                             warmup=self.warmup, criterion=self.criterion, outputs=True,
                                             keep_state=True)
            self.lrs = lrs
        self.x.copy_(x, non_blocking=True)
        self.y.copy_(y, non_blocking=True)
        return self.replay()


__all__ = [
    "autocast",
    "GraphedStep",
    "graphed_train_step",
    "prepare_model",
    "set_compact_spikes",
    "set_lif_backend",
    "to_memory_format",
    "tune_cpu_allocator",
    "train_step_fn",
]
