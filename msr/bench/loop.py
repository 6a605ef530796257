"""Training throughput through the real loop: :func:`msr.train.train` itself (data,
augmentation, loss, backward, optimizer, metrics), not a bench-only step.

Each row trains the ``fmnist`` profile's Table II MS-ResNet for two epochs of its
20,000 images at T = 6, batch 128 (the speed goals' batch; the profile trains with
100), and reports the second epoch's training images/s as the loop reports it: warm,
with its per-epoch work (the CUDA-graph re-capture after an lr step, the data
permutation) included, evaluation excluded.  Strategies:

* ``loop``: the loop as the profile runs it on this device (on CUDA: the step replayed as
  a CUDA graph, data held on the GPU; :mod:`msr.speed`, :mod:`msr.resident`);
* ``loop-eager`` (CUDA only): the same loop with both switched off, data from the
  profile's DataLoader worker processes: what the fast paths buy;
* ``loop-compile-ro`` (CUDA only): the training forward through
  ``torch.compile(mode="reduce-overhead")`` (its own CUDA graphs, ``TrainConfig(compile=)``)
  instead of the hand-made graph, data on the GPU: whether torch.compile beats it, and
  at what compile time (the first epoch's extra seconds over the second).

The concurrency rows (:func:`bench_jobs`) train the same few runs of MS-ResNet-20 (seeds
0, 1, ...) with ``--jobs N`` (:func:`msr.jobs.run_jobs`, N worker processes) for several
N and time the whole: process start, data loading, compilation and capture of every run
included, as a budgeted command meets them.  They say which N trains the profile fastest.

The authors' execution and the bench-only steps are the training-step rows of the same
run (:mod:`msr.bench.steps`).  Without Fashion-MNIST the rows run on the synthetic set
and say so; the speed targets count only rows on Fashion-MNIST.
"""
from __future__ import annotations

import tempfile
import time

import torch

#: The speed goals' batch (the bench's training-step rows use it too).
LOOP_BATCH = 128
#: Epochs of every loop and concurrency row: a cold one, then the warm one measured.
LOOP_EPOCHS = 2


def loop_strategies(device: torch.device) -> list[dict]:
    """``strategy`` name and the runtime switches it sets (None: the loop's default)."""
    rows = [{"strategy": "loop"}]
    if device.type == "cuda":
        rows.append({"strategy": "loop-eager", "cuda_graph": False, "resident_data": False})
        rows.append({"strategy": "loop-compile-ro", "compile": "reduce-overhead"})
    return rows


def loop_configs(device: torch.device, quick: bool) -> list[dict]:
    """The models of the loop rows: Table II's MS-ResNet-20 and -56 (CPU: -20 only, a few
    steps of a small batch; quick: batch 2)."""
    if device.type == "cuda":
        return [{"depth": 20, "batch": LOOP_BATCH, "steps": None}, {"depth": 56, "batch": LOOP_BATCH, "steps": None}]
    return [{"depth": 20, "batch": 2 if quick else 8, "steps": 3 if quick else 10}]


def loop_config(depth: int, batch: int, steps: int | None, device: torch.device, dataset: str, **switches):
    """The ``fmnist`` profile's Table II MS-ResNet of ``depth`` for a two-epoch loop row:
    its recipe, ``batch`` images per step, ``steps`` per epoch (None: the whole subset)."""
    from msr.sweep import experiment_configs

    (cfg,) = [c for c in experiment_configs("table2", "fmnist", (0,)) if c.block == "ms" and c.depth == depth]
    cfg = cfg.replace(batch_size=batch, epochs=LOOP_EPOCHS, test_subset=batch, max_steps_per_epoch=steps,
                      device=device.type, progress=False, log_every=10**6, dataset=dataset, **switches)
    if dataset == "synthetic":  # no files: the synthetic set has no transforms to apply
        cfg = cfg.replace(augment=(), input_size=(1, 32, 32), subset=steps * batch if steps else cfg.subset)
    if device.type == "cpu":  # worker processes cost more than they give on a few CPU steps
        cfg = cfg.replace(workers=0)
    return cfg


#: The status of a row that the bench's time budget left out (``msr bench --budget``).
NOT_RUN = "not run: the bench's time budget was spent"


#: Seconds a ``loop-compile-ro`` row must have left to start: Inductor compiles the
#: forward and backward of the whole network first (an estimate, not measured on a GPU yet).
COMPILE_ROW_S = 150.0


def loop_dataset() -> str:
    """Fashion-MNIST where its files are here, else the synthetic set (rows say which)."""
    from msr.data import fashion_mnist_available

    return "fashion_mnist" if fashion_mnist_available() else "synthetic"


def time_left(deadline, need: float = 0.0) -> bool:
    """Whether more than ``need`` seconds are left before ``deadline`` (None: no limit)."""
    return deadline is None or deadline.left() > need


def bench_loop(device: torch.device, quick: bool, deadline=None) -> list[dict]:
    """One row per (model, strategy): images/s of the second epoch through
    :func:`msr.train.train`, and of the first (cold: Triton compilation, graph capture).
    Strategy by strategy, so that the profile's own loop is measured first; a row that
    would start after ``deadline`` (:class:`msr.budget.Deadline`) is marked :data:`NOT_RUN`."""
    from msr.neuron import resolve_backend
    from msr.results import ResultsStore
    from msr.train import train

    dataset = loop_dataset()
    rows = []
    for strat in loop_strategies(device):
        for m in loop_configs(device, quick):
            switches = {k: v for k, v in strat.items() if k != "strategy"}
            row = {"model": f"MS-ResNet-{m['depth']}", "strategy": strat["strategy"], "dataset": dataset,
                   "batch": m["batch"], "T": 6}
            if not time_left(deadline, COMPILE_ROW_S if switches.get("compile") else 0.0):
                rows.append({**row, "status": NOT_RUN, "images_per_s": None})
                continue
            try:
                cfg = loop_config(m["depth"], m["batch"], m["steps"], device, dataset, **switches)
                with tempfile.TemporaryDirectory(prefix="msr-bench-loop-") as tmp:
                    r = train(cfg, profile="bench", experiment="loop", store=ResultsStore(f"{tmp}/results"),
                              run_dir=f"{tmp}/runs")
                speeds, speed = r["epochs"]["images_per_s"], r["provenance"]["speed"]
                seconds = r["epochs"]["epoch_time"]
                steps = cfg.subset // cfg.batch_size
                row.update(status="ok", images_per_s=speeds[-1], first_epoch_images_per_s=speeds[0],
                           first_epoch_extra_s=seconds[0] - seconds[-1], compile=speed["compile"],
                           steps_per_epoch=min(steps, cfg.max_steps_per_epoch or steps),
                           lif_backend=resolve_backend(speed["lif_backend"], torch.empty(0, device=device)),
                           **{k: speed[k] for k in ("bf16_autocast", "channels_last", "cuda_graph", "resident_data")})
            except Exception as err:  # noqa: BLE001 - a failing row is stored as such, the others go on
                row.update(status=f"error: {type(err).__name__}: {err}"[:300], images_per_s=None)
            rows.append(row)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def jobs_counts(device: torch.device) -> tuple[int, ...]:
    """The ``--jobs N`` the concurrency rows compare; the largest is also how many runs
    each trains."""
    return (1, 2, 4) if device.type == "cuda" else (1, 2)


def bench_jobs(device: torch.device, quick: bool, deadline=None) -> list[dict]:
    """One row per N of :func:`jobs_counts`: the wall time of training the same runs (the
    loop rows' MS-ResNet-20, two epochs, seeds 0 .. max N - 1) with N at once, and the
    images/s of all runs together over that wall time; a row that would start after
    ``deadline`` is marked :data:`NOT_RUN`."""
    from msr.jobs import run_jobs

    dataset = loop_dataset()
    m = loop_configs(device, quick)[0]
    counts = jobs_counts(device)
    rows = []
    for n in counts:
        row = {"model": f"MS-ResNet-{m['depth']}", "dataset": dataset, "batch": m["batch"], "T": 6,
               "runs": max(counts), "epochs": LOOP_EPOCHS, "jobs": n}
        if not time_left(deadline):
            rows.append({**row, "status": NOT_RUN, "images_per_s": None})
            continue
        with tempfile.TemporaryDirectory(prefix="msr-bench-jobs-") as tmp:
            t0 = time.perf_counter()
            try:
                base = loop_config(m["depth"], m["batch"], m["steps"], device, dataset)
                done = run_jobs([base.replace(seed=s) for s in range(max(counts))], profile="bench",
                                experiment="loop", store_root=f"{tmp}/results", run_dir=f"{tmp}/runs", jobs=n,
                                analyse=False, quiet=True)
                failed = [j.error for j in done if j.result is None]
            except Exception as err:  # noqa: BLE001 - a failing row is stored as such, the others go on
                failed = [f"{type(err).__name__}: {err}"]
            wall = time.perf_counter() - t0
        if failed:
            row.update(status=f"error: {failed[0]}"[:300], images_per_s=None)
        else:
            epochs = [j.result["epochs"] for j in done]
            images = sum(v * t for e in epochs for v, t in zip(e["images_per_s"], e["epoch_time"], strict=True))
            row.update(status="ok", wall_s=wall, images_per_s=images / wall,
                       run_images_per_s=sum(e["images_per_s"][-1] for e in epochs) / len(epochs))
        rows.append(row)
    return rows


__all__ = ["LOOP_BATCH", "LOOP_EPOCHS", "NOT_RUN", "bench_jobs", "bench_loop", "jobs_counts", "loop_config",
           "loop_configs", "loop_dataset", "loop_strategies", "time_left"]
