"""The training engine: one readable loop (nanoGPT style) with the paper's recipes.

``train(cfg, profile=..., experiment=...)`` trains one model and stores its result in
the results store (``results/<profile>/<experiment>/<hash>.json``); a run whose result
exists is skipped unless ``force``.  Checkpoints (model, optimizer, epoch, step, RNG
states, metrics so far) go to ``runs/<profile>/<experiment>/<hash>/last.pt`` at every
epoch end (and every ``checkpoint_every`` steps), so an interrupted run resumes
exactly where it stopped.  Final weights: ``.../<hash>/model.pt`` (:func:`load_trained`).
With a ``deadline`` (:class:`msr.budget.Deadline`) the loop checks it after every step:
once it has passed, the run saves its checkpoint and raises :class:`msr.budget.BudgetExhausted`.
Before any work the results and runs folders must be writable directories, and the run
is claimed (:func:`claim_run`): a second process on the same run waits for the first
and then skips it, instead of training it twice.

Reported accuracy (``final.reported_acc``) = mean test accuracy over the epochs
:func:`reported_epochs` picks, recorded as ``final.reported_epochs`` (1-based): the last
ceil(5 % of the epochs), at least one, and only epochs at the final learning rate
(MultiStepLR: epochs after the last milestone; cosine and constant: just the last 5 %).
The paper reports "the average test accuracy of the last five epochs" (Appendix B-A) of
100-epoch runs, i.e. the last 5 % of training, all at the final learning rate after the
milestone at epoch 80; with a literal five, a short budget (8 epochs) would average
epochs 4-8 across learning-rate steps and penalise slowly converging deep models.
Multi-GPU: run under ``torchrun``; the model's BNs become synchronized BNs (Appendix B:
"Synchronized BN across GPUs"), and ``batch_size`` is the global batch.
"""
from __future__ import annotations

import fcntl
import math
import os
import random
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from msr.budget import BudgetExhausted
from msr.data import EMULATED_EVENTS, build_loaders
from msr.kernels.speed import GraphedStep, prepare_model, to_memory_format, tune_cpu_allocator
from msr.models import create_model
from msr.neuron import LIF
from msr.results import (CheckpointError, ResultsStore, check_writable_dir, config_hash, default_root,
                         load_checkpoint, pid_alive, provenance, remove_stale_temps, save_checkpoint)

SCHEDULES = ("multistep", "cosine", "constant")
#: Fields that change how a run executes but not its numbers: left out of the config hash.
RUNTIME_FIELDS = ("device", "workers", "data_root", "lif_backend", "checkpoint_every", "deterministic",
                  "recipe", "progress", "channels_last", "compile", "compact_spikes", "resident_data", "cuda_graph")
#: Version of what a training result means (what the loop stores and how ``final`` is
#: computed); part of every result's hash.  2: reported accuracy by :func:`reported_epochs`.
RESULT_VERSION = 2


@dataclass
class TrainConfig:
    """Everything that defines one training run (Tables VIII and X are presets: ``msr.recipes``)."""

    model: str = "cifar_resnet"
    depth: int | None = 20  # cifar_resnet only (6n + 2)
    block: str = "ms"
    dataset: str = "synthetic"
    T: int = 6
    test_T: int | None = None  # T at inference (ResNet-104: 5); None = T
    epochs: int = 1
    batch_size: int = 100  # global batch (split over processes)
    lr: float = 0.1
    lr_scale_batch: int | None = None  # Table X: lr is per this many images, scaled linearly
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "multistep"
    milestones: tuple[int, ...] = ()
    lr_factor: float = 0.2
    label_smoothing: float = 0.0
    dropout: float | None = None  # None: the model's default
    augment: tuple[str, ...] = ()
    seed: int = 0
    data_seed: int = 0  # synthetic data's patterns
    subset: int | None = None
    test_subset: int | None = None
    subset_mode: str = "first"
    input_size: tuple[int, ...] | None = None  # synthetic (C, H, W); imagenet crop
    norm: str = "tdbn"
    gamma1: float | None = None
    gamma2: float | None = None
    init_from: str | None = None  # weights to start from: a .pt path or "hash:<16 hex>" (two-phase, App. B)
    max_steps_per_epoch: int | None = None
    log_every: int = 10  # steps per point of the training-loss curve (Fig. 5b)
    amp: bool = True  # bf16 autocast on CUDA
    # runtime only (not hashed)
    data_root: str = "data"
    device: str = "auto"
    lif_backend: str = "reference"
    # speed switches (msr.kernels.speed); same spikes, numbers equal up to float rounding
    channels_last: bool = False  # NHWC weights and activations
    compile: bool = False  # torch.compile of the training forward (evaluation runs eager)
    compact_spikes: bool = False  # spike-fed convs save their input as bits for the backward
    # None = auto: on for CUDA where it applies, off on CPU (msr.resident; msr.kernels.speed.GraphedStep)
    resident_data: bool | None = None  # whole data set on the device, augmentation in batch there
    cuda_graph: bool | None = None  # training step replayed as a CUDA graph; ignored on CPU
    workers: int = 0
    checkpoint_every: int = 0  # steps; 0 = at epoch ends only
    deterministic: bool = False
    recipe: str | None = None
    progress: bool = True

    def __post_init__(self):
        self.milestones = tuple(int(m) for m in self.milestones)
        self.augment = tuple(self.augment)
        if self.input_size is not None:
            self.input_size = tuple(int(s) for s in self.input_size)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        for name in ("epochs", "batch_size", "T", "log_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    def to_dict(self) -> dict:
        return asdict(self)

    def hash_dict(self) -> dict:
        """The fields that determine the result (the results store's key), plus the
        ``definitions`` they are read with: the block type's ``version``
        (:mod:`msr.blocks`), :data:`RESULT_VERSION` of the training loop and, for emulated
        event data, the emulator's version and parameters (:mod:`msr.events`).  A changed
        definition thus changes the key, and a stored result of the old definition is
        not reused even when the config is unchanged."""
        from msr.blocks import get_block

        key = {k: v for k, v in asdict(self).items() if k not in RUNTIME_FIELDS}
        key["definitions"] = {"block": get_block(self.block).version, "train": RESULT_VERSION}
        if self.dataset in EMULATED_EVENTS:  # the emulator's version and parameters make the data
            from msr.events import VERSION, SaccadeParams

            key["definitions"]["events"] = {"version": VERSION, **asdict(SaccadeParams())}
        return key

    def hash(self) -> str:
        return config_hash(self.hash_dict())

    def replace(self, **kw) -> "TrainConfig":
        return replace(self, **kw)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}")
        return cls(**d)


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept and no result is written."""


class WeightsNotFound(ValueError):
    """A finished run's ``model.pt`` is not on this machine (unreadable weights raise
    :class:`msr.results.CheckpointError` instead)."""


class RunClaimed(RuntimeError):
    """Another live process holds the claim on this run (:func:`claim_run` with ``wait=False``)."""


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
    """Whether the training step is replayed as a CUDA graph (:class:`msr.kernels.speed.GraphedStep`):
    ``cfg.cuda_graph`` (None: yes) on CUDA, for one process and without ``compile``; on a
    CPU the switch is ignored."""
    return device.type == "cuda" and cfg.cuda_graph is not False and world == 1 and not cfg.compile


def base_lr(cfg: TrainConfig) -> float:
    """Table X: the learning rate scales linearly with the batch (per ``lr_scale_batch``)."""
    return cfg.lr * (cfg.batch_size / cfg.lr_scale_batch if cfg.lr_scale_batch else 1.0)


def reported_epochs(cfg: TrainConfig) -> list[int]:
    """The 1-based epochs whose mean test accuracy is the reported accuracy.

    The last ceil(epochs / 20) epochs (5 %, at least one), keeping only those at the final
    learning rate: for MultiStepLR the epochs from the last milestone reached within the
    run on (0-based epoch index >= milestone, as :func:`lr_at` steps), for cosine and
    constant schedules just the last 5 %.  100 epochs, milestones (40, 60, 80): 96-100
    (the paper's "last five epochs", Appendix B-A); 8 epochs, milestones (3, 5, 6): 8.
    """
    n = cfg.epochs  # >= 1 (TrainConfig validates it)
    first = n - max(1, -(-n // 20))  # 0-based index of the first averaged epoch
    if cfg.schedule == "multistep":
        reached = [m for m in cfg.milestones if m < n]
        if reached:
            first = max(first, max(reached))
    return list(range(first + 1, n + 1))


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate of epoch ``epoch``: MultiStepLR or CosineAnnealingLR (eta_min 0), stepped
    per epoch as in Table VIII; closed form, so resuming needs no scheduler state."""
    lr = base_lr(cfg)
    if cfg.schedule == "multistep":
        return lr * cfg.lr_factor ** sum(epoch >= m for m in cfg.milestones)
    if cfg.schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * epoch / max(cfg.epochs, 1)))
    return lr


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
    """Channels/classes/size without loading data (for :func:`load_trained`)."""
    from msr.data import MEAN_STD  # noqa: F401 - keeps the data module the one source

    sizes = {"fashion_mnist": ((1, 32, 32), 10), "cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100),
             "cifar10_dvs": ((2, 64, 64), 10), "fashion_mnist_dvs": ((2, 64, 64), 10),
             "synthetic_dvs": ((2, 64, 64), 10), "imagenet": ((3, 224, 224), 1000),
             "synthetic": (tuple(cfg.input_size or (1, 32, 32)), 10)}
    size, classes = sizes[cfg.dataset]
    return {"in_channels": size[0], "num_classes": classes, "input_size": size}


class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce (sum): the backward sums the gradients of every rank."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        dist.all_reduce(g)
        return g


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """Synchronized BN for CPU processes (gloo); ``nn.SyncBatchNorm`` is CUDA-only.

    Statistics over the global batch via one differentiable all-reduce of per-channel
    sums and sums of squares: numerically the same function as one process on the whole
    batch (up to float rounding), and gradients flow across ranks as in SyncBatchNorm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        stats = _AllReduceSum.apply(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
            self.num_batches_tracked.add_(1)
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def convert_sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """SyncBatchNorm on CUDA, :class:`GlooSyncBatchNorm` on CPU (BNs live in ``msr.layers.Norm``)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            if type(child) is nn.BatchNorm2d:
                new = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                        child.track_running_stats)
                new.load_state_dict(child.state_dict())
                setattr(mod, child_name, new)
    return model


class FiringRate:
    """Mean firing rate r = #spikes / (#neurons * T) over all LIFs (Sec. IV-B), counted
    with forward hooks on ``msr.neuron.LIF`` modules while enabled."""

    def __init__(self, model: nn.Module):
        self.spikes = self.count = 0.0
        self.handles = [m.register_forward_hook(self._hook) for m in model.modules() if isinstance(m, LIF)]

    def _hook(self, module, inputs, out):
        self.spikes = self.spikes + out.detach().float().sum()
        self.count += out.numel()

    def remove(self):
        for h in self.handles:
            h.remove()


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
    """Test loss, accuracy (%) and mean firing rate; summed over processes under DDP."""
    model.eval()
    rate = FiringRate(model)
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, correct, n
    try:
        for x, y in loader:
            x, y = to_model_input(x.to(device, non_blocking=True), time_first), y.to(device, non_blocking=True)
            x = to_memory_format(x, cfg.channels_last)
            with autocast(device, cfg.amp):
                logits = model(x, T=None if x.dim() == 5 else (T or cfg.test_T or cfg.T))
            sums += torch.stack([F.cross_entropy(logits.float(), y, reduction="sum").double(),
                                 (logits.argmax(1) == y).sum().double(), torch.tensor(len(y), device=device).double()])
        fr = torch.stack([torch.as_tensor(rate.spikes, device=device).double(),
                          torch.tensor(float(rate.count), device=device).double()])
    finally:
        rate.remove()
    if dist.is_initialized():
        dist.all_reduce(sums)
        dist.all_reduce(fr)
    loss, correct, n = sums.tolist()
    return {"loss": loss / max(n, 1), "acc": 100.0 * correct / max(n, 1), "firing_rate": fr[0].item() / max(fr[1].item(), 1)}


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


def run_folder(run_dir: str | Path, profile: str, experiment: str, cfg: TrainConfig) -> Path:
    return Path(run_dir) / profile / experiment / cfg.hash()


def claim_path(folder: str | Path) -> Path:
    """The claim (lock) file of run folder ``folder``: ``<hash>.lock`` beside it."""
    folder = Path(folder)
    return folder.parent / f"{folder.name}.lock"


def _claim_holder(lock: Path) -> str:
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return "another process"
    return f"pid {pid}" + ("" if pid_alive(pid) else " (gone; the lock is being released)")


def _say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def claim_run(folder: str | Path, *, wait: bool = True, log=_say):
    """Hold the claim on run ``folder`` while the block runs; yields whether it had to wait.

    The claim is ``<hash>.lock`` beside the folder, holding the owner's pid, locked
    with ``flock``: the kernel drops the lock when its process ends (also on kill -9),
    so a lock file left by a dead process is stale and the next claimant takes it.
    Held by a live process: ``wait=True`` waits for it (one line through ``log``, a
    callable taking a string; None: silent), ``wait=False`` raises :class:`RunClaimed`
    at once.  The file is removed on release.
    """
    lock = claim_path(folder)
    lock.parent.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _claim_holder(lock)
                if not wait:
                    raise RunClaimed(f"run {Path(folder).name} is claimed by {holder} ({lock})") from None
                if not waited and log is not None:
                    log(f"run {Path(folder).name} is being trained by {holder} ({lock}); waiting for it")
                waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # the previous holder may have removed the file while we waited: then claim the new one
                if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                    break
            except FileNotFoundError:
                pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield waited
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        os.close(fd)


def resolve_init(init_from: str, run_dir: str | Path) -> Path:
    """``hash:<16 hex>`` -> that run's ``model.pt`` under ``run_dir``; else a file path."""
    if init_from.startswith("hash:"):
        h = init_from[5:]
        found = sorted(Path(run_dir).glob(f"*/*/{h}/model.pt"))
        if not found:
            raise ValueError(f"init_from {init_from}: no finished run {h} under {run_dir}/*/*/ "
                             f"(train the first phase first)")
        return found[0]
    path = Path(init_from)
    if not path.exists():
        raise ValueError(f"init_from: weights file {path} does not exist")
    return path


def _fault(name: str) -> int | None:
    """Test hooks: ``MSR_FAULT_AFTER_STEPS`` (exit the process) and ``MSR_FAULT_NAN_AT_STEP``."""
    v = os.environ.get(name)
    return int(v) if v else None


def _dist_setup(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """Rank, world size and device; joins the torchrun process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, resolve_device(cfg.device)
    device = resolve_device(cfg.device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def _rank_mean(x: torch.Tensor) -> float:
    """Mean of a scalar over processes (the global-batch mean loss under DDP)."""
    x = x.detach().double().clone()
    if dist.is_initialized():
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x.item()


def _all_finite(x: torch.Tensor) -> bool:
    x = x.detach().double().reshape(1).clone()
    if dist.is_initialized():
        dist.all_reduce(x)
    return bool(torch.isfinite(x).all())


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
def train(cfg: TrainConfig, *, profile: str, experiment: str, store: ResultsStore | None = None,
          force: bool = False, run_dir: str | Path = "runs", deadline=None) -> dict:
    """Train ``cfg`` (resuming from its checkpoint if one exists) and return the stored payload.
    ``deadline`` (single process only): checkpoint and raise ``BudgetExhausted`` once it passed."""
    store = store or ResultsStore(default_root())
    key = cfg.hash_dict()
    if not force:
        found = store.get(profile, experiment, key)
        if found is not None:
            return {**found, "skipped": True}
    # before any work: both outputs writable (else one line, not a traceback hours later)
    check_writable_dir(store.root, "--results")
    check_writable_dir(run_dir, "--runs")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    master = int(os.environ.get("RANK", "0")) == 0
    folder = run_folder(run_dir, profile, experiment, cfg)
    with claim_run(folder) if master else nullcontext():  # under torchrun rank 0 claims for all
        if not force and world == 1:  # another process may have finished it while we waited
            found = store.get(profile, experiment, key)
            if found is not None:
                return {**found, "skipped": True}
        with _deterministic(cfg.deterministic):
            return _train(cfg, profile, experiment, store, force, Path(run_dir), key, deadline)


def _train(cfg, profile, experiment, store, force, run_dir, key, deadline=None) -> dict:
    rank, world, device = _dist_setup(cfg)
    if deadline is not None and world > 1:
        raise ValueError("a deadline needs a single-process run (WORLD_SIZE=1)")
    master = rank == 0
    if device.type == "cpu":
        tune_cpu_allocator()  # large activations reused without page faults (same numbers)
    folder = run_folder(run_dir, profile, experiment, cfg)
    ckpt_path, weights_path = folder / "last.pt", folder / "model.pt"
    if master:
        remove_stale_temps(folder)  # of a process killed while writing a checkpoint
    t_start = time.perf_counter()
    elapsed = 0.0  # seconds spent in earlier segments of this run (a resumed run sums them)
    prov = provenance(device)  # the code as it was when this (piece of the) run started

    # --- data, model, optimizer
    resident = use_resident_data(cfg, device)
    if resident:
        from msr.resident import build_resident_loaders

        train_loader, test_loader, info = build_resident_loaders(cfg, device, rank=rank, world_size=world)
    else:
        train_loader, test_loader, info = build_loaders(cfg, rank=rank, world_size=world)
    if master and cfg.dataset != "synthetic":
        print(f"data: {cfg.dataset} from {info['source']}", flush=True)  # which copy is used
    time_first = info["time_first"]
    seed_everything(cfg.seed)  # same initial weights on every rank
    model = build_model(cfg, info)
    if cfg.init_from:  # two-phase training (Appendix B): T owns no weights
        model.load_state_dict(load_checkpoint(resolve_init(cfg.init_from, run_dir)))
    model.to(device)
    prepare_model(model, channels_last=cfg.channels_last, compact_spikes=cfg.compact_spikes, lif_backend=None)
    if world > 1:
        model = convert_sync_bn(model, device)
        ddp = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp = model
    forward = torch.compile(ddp) if cfg.compile else ddp
    graphed = use_cuda_graph(cfg, device, world)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.dim() <= 1 else decay).append(p)  # no weight decay on BN/bias (torchvision reference)
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=base_lr(cfg), momentum=cfg.momentum)
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    graph_step = GraphedStep(model, optimizer, criterion, amp=cfg.amp) if graphed else None
    seed_everything(cfg.seed + rank)  # augmentation / dropout streams per rank
    steps_per_epoch = len(train_loader.sampler) // train_loader.batch_size
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)

    # --- state that a checkpoint carries
    hist = {k: [] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time",
                            "images_per_s", "firing_rate")}
    curve = {"step": [], "loss": []}
    epoch, batch, step = 0, 0, 0
    acc = {"loss": 0.0, "correct": 0.0, "seen": 0, "time": 0.0, "win_loss": 0.0, "win_n": 0}
    init_eval = None
    if ckpt_path.exists() and not force:
        state = load_checkpoint(ckpt_path)
        if state.get("hash") != cfg.hash():
            raise ValueError(f"checkpoint {ckpt_path} belongs to another config ({state.get('hash')}); "
                             f"it was left as it is")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, batch, step = state["epoch"], state["batch"], state["step"]
        hist, curve, acc, init_eval = state["hist"], state["curve"], state["acc"], state["init_eval"]
        elapsed = float(state.get("elapsed_s", 0.0))
        set_rng_state(state["rng"])
        if master:
            print(f"resuming {ckpt_path} at epoch {epoch + 1}, step {step}", flush=True)
    elif cfg.init_from:  # e.g. "T = 1 weights evaluated at T = 6" of Appendix B
        init_eval = evaluate(model, test_loader, device, cfg, time_first)

    def checkpoint():
        if not master:
            return
        save_checkpoint(ckpt_path, {
            "hash": cfg.hash(), "config": cfg.to_dict() | {"augment": list(cfg.augment), "milestones": list(cfg.milestones),
                                                          "input_size": list(cfg.input_size) if cfg.input_size else None},
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": {"epoch": epoch},
            "epoch": epoch, "batch": batch, "step": step, "hist": hist, "curve": curve, "acc": acc,
            "init_eval": init_eval, "rng": rng_state(), "elapsed_s": elapsed + time.perf_counter() - t_start,
        })

    def out_of_time():
        raise BudgetExhausted(f"time budget reached: {experiment} run {cfg.hash()} stopped at epoch "
                              f"{epoch + 1}/{cfg.epochs}, step {step}; checkpoint saved to {ckpt_path}")

    def diverged(where: str):
        good = f"the last good checkpoint is kept at {ckpt_path}" if ckpt_path.exists() else "no checkpoint had been written yet"
        raise TrainingDiverged(f"loss became NaN/inf ({where}); training stopped, {good}; no result was written. "
                               f"Lower the learning rate or check the data.")

    fault_exit, fault_nan = _fault("MSR_FAULT_AFTER_STEPS"), _fault("MSR_FAULT_NAN_AT_STEP")
    show = cfg.progress and master and os.isatty(2)

    # --- epochs
    while epoch < cfg.epochs:
        lr = lr_at(cfg, epoch)
        for g in optimizer.param_groups:
            g["lr"] = lr
        train_loader.sampler.set_epoch(epoch, batch)
        ddp.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.float64, device=device)
        win = torch.zeros((), dtype=torch.float64, device=device)
        bar = None
        if show:
            from tqdm import tqdm
            bar = tqdm(total=steps_per_epoch, initial=batch, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
        for x, y in train_loader:
            if batch >= steps_per_epoch:
                break
            x, y = to_model_input(x.to(device, non_blocking=True), time_first), y.to(device, non_blocking=True)
            x = to_memory_format(x, cfg.channels_last)
            if graph_step is not None:  # forward, loss, backward and step replayed as one CUDA graph
                if fault_nan is not None and step + 1 == fault_nan:
                    x = x * float("nan")
                loss, logits = graph_step(x, y)
            else:
                with autocast(device, cfg.amp):
                    logits = forward(x)
                    loss = criterion(logits.float(), y)
                if fault_nan is not None and step + 1 == fault_nan:
                    loss = loss * float("nan")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            n = y.shape[0]
            loss_sum += loss.detach().double() * n
            correct += (logits.detach().argmax(1) == y).sum().double()
            win += loss.detach().double()
            acc["seen"] += n
            acc["win_n"] += 1
            batch += 1
            step += 1
            if step % cfg.log_every == 0:  # one point of the training-loss curve (Fig. 5b)
                w = (acc["win_loss"] + _rank_mean(win)) / acc["win_n"]
                if not math.isfinite(w):
                    diverged(f"epoch {epoch + 1}, step {step}")
                curve["step"].append(step)
                curve["loss"].append(w)
                acc["win_loss"], acc["win_n"] = 0.0, 0
                win.zero_()
                if bar is not None:
                    seen = acc["seen"] * world
                    bar.set_postfix(loss=f"{w:.3f}", acc=f"{100 * (acc['correct'] + correct.item()) / max(acc['seen'], 1):.1f}",
                                    img_s=f"{seen / max(acc['time'] + time.perf_counter() - t0, 1e-9):.0f}")
            if bar is not None:
                bar.update(1)
            late = deadline is not None and deadline.passed()
            if (late or cfg.checkpoint_every and step % cfg.checkpoint_every == 0) and batch < steps_per_epoch:
                if not _all_finite(loss_sum):
                    diverged(f"epoch {epoch + 1}, step {step}")
                acc["loss"] += loss_sum.item()
                acc["correct"] += correct.item()
                acc["win_loss"] += _rank_mean(win)
                acc["time"] += time.perf_counter() - t0
                loss_sum.zero_(), correct.zero_(), win.zero_()
                t0 = time.perf_counter()
                checkpoint()
                if late:
                    out_of_time()
            if fault_exit is not None and step >= fault_exit:
                os._exit(17)  # test hook: simulate a kill mid-epoch
        if bar is not None:
            bar.close()
        # epoch end: metrics over all processes
        sums = torch.stack([loss_sum + acc["loss"], correct + acc["correct"],
                            torch.tensor(float(acc["seen"]), dtype=torch.float64, device=device)])
        if dist.is_initialized():
            dist.all_reduce(sums)
        tr_loss, tr_correct, seen = sums.tolist()
        if not math.isfinite(tr_loss):
            diverged(f"epoch {epoch + 1}")
        acc["win_loss"] += _rank_mean(win)
        epoch_time = acc["time"] + time.perf_counter() - t0
        test = evaluate(model, test_loader, device, cfg, time_first)
        for k, v in (("epoch", epoch + 1), ("train_loss", tr_loss / seen), ("train_acc", 100 * tr_correct / seen),
                     ("test_loss", test["loss"]), ("test_acc", test["acc"]), ("lr", lr), ("epoch_time", epoch_time),
                     ("images_per_s", seen / epoch_time), ("firing_rate", test["firing_rate"])):
            hist[k].append(v)
        if master:
            print(f"epoch {epoch + 1}/{cfg.epochs}  train loss {tr_loss / seen:.4f} acc {100 * tr_correct / seen:.2f}  "
                  f"test loss {test['loss']:.4f} acc {test['acc']:.2f}  lr {lr:.4g}  {seen / epoch_time:.0f} img/s  "
                  f"rate {test['firing_rate']:.3f}", flush=True)
        epoch, batch = epoch + 1, 0
        acc.update(loss=0.0, correct=0.0, seen=0, time=0.0)
        checkpoint()
        if deadline is not None and epoch < cfg.epochs and deadline.passed():
            out_of_time()

    # --- result
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
    if init_eval is not None:
        final["init_acc"] = init_eval["acc"]
    wall = elapsed + time.perf_counter() - t_start  # every segment of a resumed run
    payload = {
        "status": "complete", "profile": profile, "experiment": experiment, "epochs": hist, "steps": curve,
        "final": final, "init_eval": init_eval, "data": info, "world_size": world, "seed": cfg.seed,
        "params": sum(p.numel() for p in model.parameters()), "wall_time_s": wall, "runtime": {
            "device": str(device), "lif_backend": cfg.lif_backend, "workers": cfg.workers, "resident_data": resident},
        "provenance": {**prov, "wall_time_s": wall, "speed": {
            "lif_backend": cfg.lif_backend, "bf16_autocast": cfg.amp and device.type == "cuda",
            "channels_last": cfg.channels_last, "compile": cfg.compile, "compact_spikes": cfg.compact_spikes,
            "resident_data": resident, "cuda_graph": graphed}},
    }
    if master:
        save_checkpoint(weights_path, model.state_dict())
        store.put(profile, experiment, key, payload)
    if dist.is_initialized():
        dist.barrier()
    return {**store.get(profile, experiment, key), "skipped": False} if master else payload


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
        raise ValueError(f"load_trained takes a TrainConfig or a stored result dict, got {type(cfg_or_result).__name__}")
    h = cfg.hash()
    pattern = f"{profile or '*'}/{experiment or '*'}/{h}/model.pt"
    found = sorted(Path(run_dir).glob(pattern))
    if not found:
        raise WeightsNotFound(f"no trained weights for run {h} ({pattern} under {run_dir}); train it first "
                              f"(msr train / msr sweep) on this machine, or rerun with --force if only the result exists")
    model = build_model(cfg, model_info(cfg))
    try:
        model.load_state_dict(load_checkpoint(found[0]))
    except RuntimeError as err:  # the file is readable but holds another model's weights
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 else lines[0])[:160] if lines else type(err).__name__
        raise CheckpointError(f"weights {found[0]} do not fit run {h}'s model ({detail}); they were left as "
                              f"they are: delete them or retrain with --force") from None
    return model.to(device).eval()
