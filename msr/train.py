"""The training engine: one readable loop (nanoGPT style) with the paper's recipes.

``train(cfg, profile=..., experiment=...)`` trains one model and stores its result in
the results store (``results/<profile>/<experiment>/<hash>.json``); a run whose result
exists is skipped unless ``force``.  Checkpoints (model, optimizer, epoch, step, RNG
states, metrics so far) go to ``runs/<profile>/<experiment>/<hash>/last.pt`` at every
epoch end (and every ``checkpoint_every`` steps), so an interrupted run resumes
exactly where it stopped.  Final weights: ``.../<hash>/model.pt`` (:func:`load_trained`).
With a ``deadline`` (:class:`msr.budget.Deadline`) the loop checks it after every step:
once it has passed, the run saves its checkpoint and raises :class:`msr.budget.BudgetExhausted`
(with ``must_finish``, after an epoch whose pace says the rest cannot fit:
:class:`msr.budget.WontFinish`).
Before any work the results and runs folders must be writable directories, and the run
is claimed (:func:`msr.runs.claim_run`): a second process on the same run waits for the first
and then skips it, instead of training it twice.

Reported accuracy (``final.reported_acc``) = mean test accuracy over the epochs
:func:`msr.config.reported_epochs` picks, recorded as ``final.reported_epochs`` (1-based): the last
ceil(5 % of the epochs), at least one, and only epochs at the final learning rate
(MultiStepLR: epochs after the last milestone; cosine and constant: just the last 5 %).
The paper reports "the average test accuracy of the last five epochs" (Appendix B-A) of
100-epoch runs, i.e. the last 5 % of training, all at the final learning rate after the
milestone at epoch 80; with a literal five, a short budget (8 epochs) would average
epochs 4-8 across learning-rate steps and penalise slowly converging deep models.
Multi-GPU: run under ``torchrun``; the model's BNs become synchronized BNs (Appendix B:
"Synchronized BN across GPUs"), and ``batch_size`` is the global batch (:mod:`msr.distributed`).
"""
from __future__ import annotations

import math
import os
import random
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msr import distributed
from msr.analysis.firing import record_spikes
from msr.budget import BudgetExhausted, WontFinish
from msr.config import TrainConfig, base_lr, lr_at, reported_epochs
from msr.data import build_loaders, data_shape
from msr.models import create_model
from msr.provenance import provenance
from msr.results import (
    CheckpointError,
    ResultsStore,
    check_writable_dir,
    default_root,
    load_checkpoint,
    remove_stale_temps,
    save_checkpoint,
)
from msr.runs import claim_run, resolve_init, run_folder
from msr.speed import GraphedStep, prepare_model, to_memory_format, tune_cpu_allocator


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept and no result is written."""


class WeightsNotFound(ValueError):
    """A finished run's ``model.pt`` is not on this machine (unreadable weights raise
    :class:`msr.results.CheckpointError` instead)."""


# ----------------------------------------------------------------------------- pieces
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for but CUDA is not available; use --device cpu")
    return dev


def use_resident_data(cfg: TrainConfig, device: torch.device) -> bool:
    """``cfg.resident_data``, or when None: on for CUDA where the data set supports it
    (:func:`msr.resident.resident_supported`).  True for data it cannot hold: ValueError."""
    from msr.resident import resident_supported

    if cfg.resident_data is None:
        return device.type == "cuda" and resident_supported(cfg)
    return bool(cfg.resident_data)


def use_cuda_graph(cfg: TrainConfig, device: torch.device, world: int) -> bool:
    """Whether the training step is replayed as a CUDA graph (:class:`msr.speed.GraphedStep`):
    ``cfg.cuda_graph`` (None: yes) on CUDA, for one process and without ``compile``; on a
    CPU the switch is ignored."""
    return device.type == "cuda" and cfg.cuda_graph is not False and world == 1 and not cfg.compile



def build_model(cfg: TrainConfig, info: dict) -> nn.Module:
    """``msr.models.create_model`` with the data set's channels, classes and input size."""
    kw = dict(block=cfg.block, in_channels=info["in_channels"], num_classes=info["num_classes"], T=cfg.T,
              norm=cfg.norm, gamma1=cfg.gamma1, gamma2=cfg.gamma2, lif_backend=cfg.lif_backend,
              input_size=tuple(info["input_size"]))
    if cfg.model == "cifar_resnet":
        kw["depth"] = cfg.depth
    if cfg.dropout is not None:
        kw["dropout"] = cfg.dropout
    return create_model(cfg.model, **kw)


def model_info(cfg: TrainConfig) -> dict:
    """Channels, classes and input size of ``cfg.dataset`` without loading data
    (:data:`msr.data.SHAPES`; for :func:`load_trained`)."""
    size, classes, _ = data_shape(cfg)
    return {"in_channels": size[0], "num_classes": classes, "input_size": size}


def autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def to_model_input(x: torch.Tensor, time_first: bool) -> torch.Tensor:
    """Event frames come batched ``[B, T, C, H, W]``; models are time-first ``[T, B, C, H, W]``."""
    return x.transpose(0, 1).contiguous() if time_first and x.dim() == 5 else x



@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, cfg: TrainConfig, time_first: bool,
             T: int | None = None) -> dict:
    """Test loss, accuracy (%) and the network's mean firing rate r = #spikes / (#neurons * T)
    over all LIFs (Sec. IV-B, :func:`msr.analysis.firing.record_spikes`); summed over
    processes under DDP."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, correct, n
    with record_spikes(model) as rec:
        for x, y in loader:
            x, y = to_model_input(x.to(device, non_blocking=True), time_first), y.to(device, non_blocking=True)
            x = to_memory_format(x, cfg.channels_last)
            with autocast(device, cfg.amp):
                logits = model(x, T=None if x.dim() == 5 else (T or cfg.test_T or cfg.T))
            sums += torch.stack([F.cross_entropy(logits.float(), y, reduction="sum").double(),
                                 (logits.argmax(1) == y).sum().double(), torch.tensor(len(y), device=device).double()])
    fr = torch.tensor([sum(c.spikes for c in rec.counts.values()), float(sum(c.elements for c in rec.counts.values()))],
                      dtype=torch.float64, device=device)
    distributed.all_reduce_(sums)
    distributed.all_reduce_(fr)
    loss, correct, n = sums.tolist()
    return {"loss": loss / max(n, 1), "acc": 100.0 * correct / max(n, 1),
            "firing_rate": fr[0].item() / max(fr[1].item(), 1)}


def rng_state() -> dict:
    """RNG states as tensors and plain lists (safe for ``weights_only`` loading)."""
    py = random.getstate()
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    v, s, g = state["python"]
    random.setstate((v, tuple(s), g))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)



@contextmanager
def _deterministic(on: bool):
    before = torch.are_deterministic_algorithms_enabled()
    if on:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


# ----------------------------------------------------------------------------- the loop
#: What a result's ``epochs`` holds: one value per epoch of each.
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time", "images_per_s",
              "firing_rate")


@dataclass
class EpochSums:
    """Running sums of the epoch in progress, up to the last checkpoint (the steps since
    are summed on the device until the next one or the epoch's end): this process's
    training loss x images, correct predictions, images and seconds; and the window of
    the training-loss curve (per-step global-batch losses, steps), which runs on across
    epoch ends until ``log_every`` steps are full."""

    loss: float = 0.0
    correct: float = 0.0
    seen: int = 0
    time: float = 0.0
    win_loss: float = 0.0
    win_n: int = 0


@dataclass
class TrainState:
    """Where a run stands: what its checkpoint ``last.pt`` carries besides the weights,
    the optimizer and the RNG states, so that a resumed run continues exactly."""

    epoch: int = 0  # epochs finished
    batch: int = 0  # batches done in the epoch in progress
    step: int = 0  # optimizer steps done in the run
    hist: dict = field(default_factory=lambda: {k: [] for k in EPOCH_KEYS})
    curve: dict = field(default_factory=lambda: {"step": [], "loss": []})  # training-loss curve (Fig. 5b)
    sums: EpochSums = field(default_factory=EpochSums)
    init_eval: dict | None = None  # test metrics of the start weights (init_from)
    elapsed_s: float = 0.0  # seconds of the earlier segments of an interrupted run

    def as_checkpoint(self) -> dict:
        # "acc" is the sums' key in the checkpoints written so far: they keep resuming
        return {"epoch": self.epoch, "batch": self.batch, "step": self.step, "hist": self.hist, "curve": self.curve,
                "acc": asdict(self.sums), "init_eval": self.init_eval}

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "TrainState":
        return cls(ckpt["epoch"], ckpt["batch"], ckpt["step"], ckpt["hist"], ckpt["curve"], EpochSums(**ckpt["acc"]),
                   ckpt["init_eval"], float(ckpt.get("elapsed_s", 0.0)))


@dataclass
class _Run:
    """What one process trains with (:func:`_setup`)."""

    cfg: TrainConfig
    experiment: str
    folder: Path  # runs/<profile>/<experiment>/<hash>: last.pt, model.pt
    rank: int
    world: int
    device: torch.device
    model: nn.Module
    ddp: nn.Module  # the model, inside DDP under torchrun
    forward: nn.Module  # what the training step calls: ddp, compiled with cfg.compile
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    graph_step: GraphedStep | None
    train_loader: object
    test_loader: object
    info: dict
    steps_per_epoch: int
    resident: bool
    t_start: float  # when this segment of the run started
    provenance: dict

    @property
    def master(self) -> bool:
        return self.rank == 0


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """The optimizer's parameter groups: weight decay on every parameter, BN scales and
    biases included (``cfg.weight_decay_all``, the default: Table VIII's SGD with weight
    decay, as the authors' optimizer applies it), or on conv and FC weights only."""
    if cfg.weight_decay_all:
        return [{"params": list(model.parameters()), "weight_decay": cfg.weight_decay}]
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.dim() <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train(cfg: TrainConfig, *, profile: str, experiment: str, store: ResultsStore | None = None,
          force: bool = False, run_dir: str | Path = "runs", deadline=None, must_finish: bool = False) -> dict:
    """Train ``cfg`` (resuming from its checkpoint if one exists) and return the stored payload.
    ``deadline`` (single process only): checkpoint and raise ``BudgetExhausted`` once it passed.
    ``must_finish`` (with a deadline; for a run whose checkpoint cannot travel to a later
    command): after every epoch, checkpoint and raise ``WontFinish`` when the epochs left,
    each as long as the last, need more time than the deadline leaves."""
    store = store or ResultsStore(default_root())
    key = cfg.hash_dict()
    if not force:
        found = store.get(profile, experiment, key)
        if found is not None:
            return {**found, "skipped": True}
    # before any work: both outputs writable (else one line, not a traceback hours later)
    check_writable_dir(store.root, "--results")
    check_writable_dir(run_dir, "--runs")
    folder = run_folder(run_dir, profile, experiment, cfg)
    with claim_run(folder) if distributed.is_master() else nullcontext():  # under torchrun rank 0 claims for all
        if not force and distributed.world_size() == 1:  # another process may have finished it while we waited
            found = store.get(profile, experiment, key)
            if found is not None:
                return {**found, "skipped": True}
        with _deterministic(cfg.deterministic):
            return _train(cfg, profile, experiment, store, force, Path(run_dir), key, deadline, must_finish)


def _train(cfg, profile, experiment, store, force, run_dir, key, deadline=None, must_finish=False) -> dict:
    # --- setup: this process, its data, the model and the optimizer
    rank, world, device = distributed.setup(resolve_device(cfg.device))
    if deadline is not None and world > 1:
        raise ValueError("a deadline needs a single-process run (WORLD_SIZE=1)")
    run = _setup(cfg, experiment, run_dir, run_folder(run_dir, profile, experiment, cfg), rank, world, device)

    # --- resume: an interrupted run goes on from its last checkpoint, exactly
    state = _resume(run, force)

    # --- epochs
    while state.epoch < cfg.epochs:
        lr = lr_at(cfg, state.epoch)  # closed form: resuming needs no scheduler state
        for g in run.optimizer.param_groups:
            g["lr"] = lr
        t_epoch = time.perf_counter()
        train_loss, train_acc, seen, seconds = _train_epoch(run, state, deadline)
        test = evaluate(run.model, run.test_loader, device, cfg, run.info["time_first"])
        for k, v in zip(EPOCH_KEYS, (state.epoch + 1, train_loss, train_acc, test["loss"], test["acc"], lr, seconds,
                                     seen / seconds, test["firing_rate"]), strict=True):
            state.hist[k].append(v)
        if run.master:
            print(f"epoch {state.epoch + 1}/{cfg.epochs}  train loss {train_loss:.4f} acc {train_acc:.2f}  "
                  f"test loss {test['loss']:.4f} acc {test['acc']:.2f}  lr {lr:.4g}  {seen / seconds:.0f} img/s  "
                  f"rate {test['firing_rate']:.3f}", flush=True)
        # the next epoch starts at its first batch with fresh sums; the loss-curve window runs on
        state.epoch, state.batch = state.epoch + 1, 0
        state.sums = replace(state.sums, loss=0.0, correct=0.0, seen=0, time=0.0)
        _save(run, state)
        if deadline is not None and state.epoch < cfg.epochs:
            if deadline.passed():
                _out_of_time(run, state)
            if must_finish:  # a run that would lose its work at the deadline stops now, while others can still use it
                need = (cfg.epochs - state.epoch) * (time.perf_counter() - t_epoch)
                if need > deadline.left():
                    _wont_finish(run, state, need, deadline.left())

    # --- result: stored by rank 0 only once every epoch is done (never half a run)
    payload = _result(run, state, profile, experiment)
    if run.master:
        save_checkpoint(run.folder / "model.pt", run.model.state_dict())
        store.put(profile, experiment, key, payload)
    distributed.barrier()
    return {**store.get(profile, experiment, key), "skipped": False} if run.master else payload


def _setup(cfg: TrainConfig, experiment: str, run_dir: Path, folder: Path, rank: int, world: int,
           device: torch.device) -> _Run:
    """Data, model, optimizer and loss of this process, seeded as every rank must be."""
    if device.type == "cpu":
        tune_cpu_allocator()  # large activations reused without page faults (same numbers)
    if rank == 0:
        remove_stale_temps(folder)  # of a process killed while writing a checkpoint
    t_start = time.perf_counter()
    prov = provenance(device)  # the code as it was when this (piece of the) run started
    resident = use_resident_data(cfg, device)
    if resident:
        from msr.resident import build_resident_loaders

        train_loader, test_loader, info = build_resident_loaders(cfg, device, rank=rank, world_size=world)
    else:
        train_loader, test_loader, info = build_loaders(cfg, rank=rank, world_size=world)
    if rank == 0 and cfg.dataset != "synthetic":
        print(f"data: {cfg.dataset} from {info['source']}", flush=True)  # which copy is used
    seed_everything(cfg.seed)  # same initial weights on every rank
    model = build_model(cfg, info)
    if cfg.init_from:  # two-phase training (Appendix B): T owns no weights
        model.load_state_dict(load_checkpoint(resolve_init(cfg.init_from, run_dir)))
    model.to(device)
    prepare_model(model, channels_last=cfg.channels_last, compact_spikes=cfg.compact_spikes, lif_backend=None)
    model, ddp = distributed.wrap(model, device, world)
    optimizer = torch.optim.SGD(param_groups(model, cfg), lr=base_lr(cfg), momentum=cfg.momentum)
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    graphed = use_cuda_graph(cfg, device, world)
    graph_step = GraphedStep(model, optimizer, criterion, amp=cfg.amp) if graphed else None
    seed_everything(cfg.seed + rank)  # augmentation / dropout streams per rank
    steps_per_epoch = len(train_loader.sampler) // train_loader.batch_size
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    forward = torch.compile(ddp, mode=None if cfg.compile is True else cfg.compile) if cfg.compile else ddp
    return _Run(cfg, experiment, folder, rank, world, device, model, ddp, forward,
                optimizer, criterion, graph_step, train_loader, test_loader, info, steps_per_epoch, resident, t_start,
                prov)


def _resume(run: _Run, force: bool) -> TrainState:
    """The state of an interrupted run from its ``last.pt``, with the weights, optimizer and
    RNG states restored; else (or with ``force``) a fresh one."""
    path = run.folder / "last.pt"
    if force or not path.exists():
        # "T = 1 weights evaluated at T = 6" of Appendix B: at the training T (6), not at the
        # run's inference T (ResNet-104 tests at 5)
        init = evaluate(run.model, run.test_loader, run.device, run.cfg, run.info["time_first"], T=run.cfg.T) \
            if run.cfg.init_from else None
        return TrainState(init_eval=init)
    ckpt = load_checkpoint(path)
    if ckpt.get("hash") != run.cfg.hash():
        raise ValueError(f"checkpoint {path} belongs to another config ({ckpt.get('hash')}); it was left as it is")
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    set_rng_state(ckpt["rng"])
    state = TrainState.from_checkpoint(ckpt)
    if run.master:
        print(f"resuming {path} at epoch {state.epoch + 1}, step {state.step}", flush=True)
    return state


def _train_epoch(run: _Run, state: TrainState, deadline) -> tuple[float, float, float, float]:
    """Train epoch ``state.epoch`` from batch ``state.batch`` on; returns its training loss,
    accuracy (%), images (all processes) and seconds.  Checkpoints every
    ``checkpoint_every`` steps, and stops with one once ``deadline`` passed."""
    cfg, sums, device = run.cfg, state.sums, run.device
    run.train_loader.sampler.set_epoch(state.epoch, state.batch)
    run.ddp.train()
    t0 = time.perf_counter()
    # the steps' sums stay on the device (no sync per step) until a checkpoint or the epoch's end
    loss_sum, correct, win = (torch.zeros((), dtype=torch.float64, device=device) for _ in range(3))
    bar = None
    if cfg.progress and run.master and os.isatty(2):
        from tqdm import tqdm

        bar = tqdm(total=run.steps_per_epoch, initial=state.batch, desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
                   leave=False)
    for x, y in run.train_loader:
        if state.batch >= run.steps_per_epoch:
            break
        x, y = to_model_input(x.to(device, non_blocking=True), run.info["time_first"]), y.to(device, non_blocking=True)
        x = to_memory_format(x, cfg.channels_last)
        if cfg.compile == "reduce-overhead":  # torch.compile's CUDA graphs: a new step, earlier outputs consumed
            torch.compiler.cudagraph_mark_step_begin()
        loss, logits = train_step(run.forward, x, y, run.optimizer, run.criterion, amp=cfg.amp,
                                  graph_step=run.graph_step)
        loss_sum += loss.detach().double() * y.shape[0]
        correct += (logits.detach().argmax(1) == y).sum().double()
        win += loss.detach().double()
        sums.seen += y.shape[0]
        sums.win_n += 1
        state.batch += 1
        state.step += 1
        if state.step % cfg.log_every == 0:  # one point of the training-loss curve (Fig. 5b)
            w = (sums.win_loss + distributed.rank_mean(win)) / sums.win_n
            if not math.isfinite(w):
                _diverged(run, f"epoch {state.epoch + 1}, step {state.step}")
            state.curve["step"].append(state.step)
            state.curve["loss"].append(w)
            sums.win_loss, sums.win_n = 0.0, 0
            win.zero_()
            if bar is not None:
                bar.set_postfix(loss=f"{w:.3f}", acc=f"{100 * (sums.correct + correct.item()) / max(sums.seen, 1):.1f}",
                                img_s=f"{sums.seen * run.world / max(sums.time + time.perf_counter() - t0, 1e-9):.0f}")
        if bar is not None:
            bar.update(1)
        late = deadline is not None and deadline.passed()
        if (late or cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0) \
                and state.batch < run.steps_per_epoch:  # an epoch's end checkpoints anyway
            if not distributed.all_finite(loss_sum):
                _diverged(run, f"epoch {state.epoch + 1}, step {state.step}")
            sums.loss += loss_sum.item()
            sums.correct += correct.item()
            sums.win_loss += distributed.rank_mean(win)
            sums.time += time.perf_counter() - t0
            loss_sum.zero_(), correct.zero_(), win.zero_()
            t0 = time.perf_counter()
            _save(run, state)
            if late:
                _out_of_time(run, state)
    if bar is not None:
        bar.close()
    # epoch end: metrics over all processes
    totals = distributed.all_reduce_(torch.stack([loss_sum + sums.loss, correct + sums.correct,
                                                  torch.tensor(float(sums.seen), dtype=torch.float64, device=device)]))
    loss, right, seen = totals.tolist()
    if not math.isfinite(loss):
        _diverged(run, f"epoch {state.epoch + 1}")
    sums.win_loss += distributed.rank_mean(win)
    return loss / seen, 100 * right / seen, seen, sums.time + time.perf_counter() - t0


def train_step(forward: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
               criterion: nn.Module, *, amp: bool, graph_step: GraphedStep | None = None):
    """One optimizer step on the batch ``(x, y)``: forward, loss, backward, update (with a
    ``graph_step``: the four replayed as one CUDA graph).  Returns ``(loss, logits)``."""
    if graph_step is not None:
        return graph_step(x, y)
    with autocast(x.device, amp):
        logits = forward(x)
        loss = criterion(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, logits


def _save(run: _Run, state: TrainState) -> None:
    """``last.pt`` (rank 0; written atomically: a kill leaves the previous one whole)."""
    if not run.master:
        return
    cfg = run.cfg
    save_checkpoint(run.folder / "last.pt", {
        "hash": cfg.hash(), "config": cfg.to_dict() | {"augment": list(cfg.augment), "milestones": list(cfg.milestones),
                                                      "input_size": list(cfg.input_size) if cfg.input_size else None},
        "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "scheduler": {"epoch": state.epoch},
        **state.as_checkpoint(), "rng": rng_state(), "elapsed_s": state.elapsed_s + time.perf_counter() - run.t_start,
    })


def _diverged(run: _Run, where: str):
    path = run.folder / "last.pt"
    good = f"the last good checkpoint is kept at {path}" if path.exists() else "no checkpoint had been written yet"
    raise TrainingDiverged(f"loss became NaN/inf ({where}); training stopped, {good}; no result was written. "
                           f"Lower the learning rate or check the data.")


def _progress(run: _Run, state: TrainState) -> dict:
    """What a stopped run did so far: its training time (every segment) and part of its steps."""
    return dict(elapsed_s=state.elapsed_s + time.perf_counter() - run.t_start,
                fraction=state.step / max(run.steps_per_epoch * run.cfg.epochs, 1))


def _wont_finish(run: _Run, state: TrainState, need: float, left: float):
    raise WontFinish(f"gave up after epoch {state.epoch}/{run.cfg.epochs}: the epochs left need about {need:.0f} s, "
                     f"{max(left, 0):.0f} s are left; checkpoint saved to {run.folder / 'last.pt'}",
                     **_progress(run, state))


def _out_of_time(run: _Run, state: TrainState):
    raise BudgetExhausted(f"time budget reached: {run.experiment} run {run.cfg.hash()} stopped at epoch "
                          f"{state.epoch + 1}/{run.cfg.epochs}, step {state.step}; checkpoint saved to "
                          f"{run.folder / 'last.pt'}", **_progress(run, state))


def _result(run: _Run, state: TrainState, profile: str, experiment: str) -> dict:
    """The payload the results store keeps for a finished run."""
    cfg, hist, device = run.cfg, state.hist, run.device
    last = hist["test_acc"][-1:]
    averaged = [e for e in reported_epochs(cfg) if e in hist["epoch"]]
    final = {
        # mean test accuracy over the last 5 % of epochs at the final lr (reported_epochs)
        "reported_acc": float(np.mean([hist["test_acc"][hist["epoch"].index(e)] for e in averaged]))
        if averaged else None,
        "reported_epochs": averaged,
        "best_acc": max(hist["test_acc"]) if last else None,
        "final_acc": last[-1] if last else None,
        "final_train_loss": hist["train_loss"][-1] if last else None,
        "final_test_loss": hist["test_loss"][-1] if last else None,
        "firing_rate": hist["firing_rate"][-1] if last else None,
    }
    if state.init_eval is not None:
        final["init_acc"] = state.init_eval["acc"]
    wall = state.elapsed_s + time.perf_counter() - run.t_start  # every segment of a resumed run
    return {
        "status": "complete", "profile": profile, "experiment": experiment, "epochs": hist, "steps": state.curve,
        "final": final, "init_eval": state.init_eval, "data": run.info, "world_size": run.world, "seed": cfg.seed,
        "params": sum(p.numel() for p in run.model.parameters()), "wall_time_s": wall, "runtime": {
            "device": str(device), "lif_backend": cfg.lif_backend, "workers": cfg.workers,
            "resident_data": run.resident, "concurrent_runs": cfg.concurrent_runs},
        "provenance": {**run.provenance, "wall_time_s": wall, "speed": {
            "lif_backend": cfg.lif_backend, "bf16_autocast": cfg.amp and device.type == "cuda",
            "channels_last": cfg.channels_last, "compile": cfg.compile, "compact_spikes": cfg.compact_spikes,
            "resident_data": run.resident, "cuda_graph": run.graph_step is not None,
            "concurrent_runs": cfg.concurrent_runs}},
    }


def load_trained(cfg_or_result: TrainConfig | dict, run_dir: str | Path = "runs", *, profile: str | None = None,
                 experiment: str | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The model of a finished run with its final weights, in eval mode."""
    if isinstance(cfg_or_result, TrainConfig):
        cfg = cfg_or_result
    elif isinstance(cfg_or_result, dict):
        d = cfg_or_result.get("config", cfg_or_result)
        cfg = TrainConfig.from_dict({k: v for k, v in d.items() if k in {f.name for f in fields(TrainConfig)}})
        profile = profile or cfg_or_result.get("profile")
        experiment = experiment or cfg_or_result.get("experiment")
    else:
        raise ValueError(f"load_trained takes a TrainConfig or a stored result dict, "
                         f"got {type(cfg_or_result).__name__}")
    h = cfg.hash()
    pattern = f"{profile or '*'}/{experiment or '*'}/{h}/model.pt"
    found = sorted(Path(run_dir).glob(pattern))
    if not found:
        raise WeightsNotFound(f"no trained weights for run {h} ({pattern} under {run_dir}); train it first "
                              f"(msr train / msr sweep) on this machine, or rerun with --force if only the result "
                              "exists")
    model = build_model(cfg, model_info(cfg))
    try:
        model.load_state_dict(load_checkpoint(found[0]))
    except RuntimeError as err:  # the file is readable but holds another model's weights
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 else lines[0])[:160] if lines else type(err).__name__
        raise CheckpointError(f"weights {found[0]} do not fit run {h}'s model ({detail}); they were left as "
                              f"they are: delete them or retrain with --force") from None
    return model.to(device).eval()
