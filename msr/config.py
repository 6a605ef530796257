"""The configuration of one training run, and the learning-rate schedule it implies.

:class:`TrainConfig` holds every choice that makes a run's numbers (model, data, recipe,
T, seed, ...) plus runtime switches that do not (:data:`RUNTIME_FIELDS`, left out of the
hash); its :meth:`TrainConfig.hash` keys the results store and the run folder.  The
schedule (:func:`lr_at`, :func:`reported_epochs`) follows Tables VIII and X and
Appendix B-A.  :mod:`msr.train` runs a config; :mod:`msr.recipes` and
:mod:`msr.profiles` build them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from msr.data import EMULATED_EVENTS
from msr.results import config_hash

SCHEDULES = ("multistep", "cosine", "constant")
#: ``TrainConfig.compile``: False, True (torch.compile's default mode) or one of its modes.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
#: Fields that change how a run executes but not its numbers: left out of the config hash.
RUNTIME_FIELDS = ("device", "workers", "data_root", "lif_backend", "checkpoint_every", "deterministic",
                  "recipe", "progress", "channels_last", "compile", "compact_spikes", "resident_data", "cuda_graph",
                  "concurrent_runs")
#: Version of what a training result means (what the loop stores and how ``final`` is
#: computed); part of every result's hash.  2: reported accuracy by :func:`reported_epochs`.
RESULT_VERSION = 2
#: Fields added after results were stored, with the value every earlier result was trained
#: with: hashed only where a config has another value, so the keys of those results stay what
#: they were.  (weight_decay_all's default is now True: runs with weight decay get new keys.)
ADDED_FIELDS = {"weight_decay_all": False}
#: Version of the classifier head with dropout (:meth:`msr.models.SpikingResNet.forward`);
#: part of the hash of runs with dropout > 0 only.  2: one mask on the rate over T.
HEAD_VERSION = 2
#: Version of :func:`reported_epochs` where it differs from the first (runs of more than 100
#: epochs only, so only their keys carry it).  2: at most the last five epochs, not 5 %.
REPORTED_VERSION = 2



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
    # weight decay on every parameter, BN scales and biases too: Table VIII's plain SGD with
    # weight decay, as the authors' optimizer applies it (train_amp.py: SGD(net.parameters()));
    # False: on conv and FC weights only (an option, not the paper's)
    weight_decay_all: bool = True
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
    # speed switches (msr.speed); same spikes, numbers equal up to float rounding
    channels_last: bool = False  # NHWC weights and activations
    compile: bool | str = False  # torch.compile of the training forward (evaluation runs eager); a str: its mode
    compact_spikes: bool = False  # spike-fed convs save their input as bits for the backward
    # None = auto: on for CUDA where it applies, off on CPU (msr.resident; msr.speed.GraphedStep)
    resident_data: bool | None = None  # whole data set on the device, augmentation in batch there
    cuda_graph: bool | None = None  # training step replayed as a CUDA graph; ignored on CPU
    concurrent_runs: int = 1  # runs sharing the machine with this one (--jobs): its images/s is a share
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
        for name in ("epochs", "batch_size", "T", "log_every", "concurrent_runs"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not isinstance(self.compile, bool) and self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be True, False or a torch.compile mode, got {self.compile!r}; "
                             f"valid modes: {', '.join(COMPILE_MODES)}")

    def to_dict(self) -> dict:
        return asdict(self)

    def hash_dict(self) -> dict:
        """The fields that determine the result (the results store's key), plus the
        ``definitions`` they are read with: the block type's ``version``
        (:mod:`msr.blocks`), :data:`RESULT_VERSION` of the training loop and, for emulated
        event data, the emulator's version and parameters (:mod:`msr.events`).  A changed
        definition thus changes the key, and a stored result of the old definition is
        not reused even when the config is unchanged.  Fields of :data:`ADDED_FIELDS` at
        their old defaults are left out, so a new field keeps the keys of the configs before
        it; ``weight_decay_all`` is left out where ``weight_decay`` is 0, since it then
        changes nothing."""
        from msr.blocks import get_block

        key = {k: v for k, v in asdict(self).items()
               if k not in RUNTIME_FIELDS and not (k in ADDED_FIELDS and v == ADDED_FIELDS[k])}
        if not self.weight_decay:  # where nothing decays, which parameters would is no part of the result
            key.pop("weight_decay_all", None)
        key["definitions"] = {"block": get_block(self.block).version, "train": RESULT_VERSION}
        if self.dropout:  # 2: one dropout mask on the rate over T (1: a mask per time step)
            key["definitions"]["head"] = HEAD_VERSION
        if self.epochs > 100:  # 2: at most five epochs averaged (reported_epochs; 1 averaged 5 %)
            key["definitions"]["reported"] = REPORTED_VERSION
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


def base_lr(cfg: TrainConfig) -> float:
    """Table X: the learning rate scales linearly with the batch (per ``lr_scale_batch``)."""
    return cfg.lr * (cfg.batch_size / cfg.lr_scale_batch if cfg.lr_scale_batch else 1.0)


def reported_epochs(cfg: TrainConfig) -> list[int]:
    """The 1-based epochs whose mean test accuracy is the reported accuracy.

    The paper's "last five epochs" (Appendix B-A and B-B), scaled to shorter runs: the last
    ceil(epochs / 20) epochs (5 %), at least one and at most five, keeping only those at the
    final learning rate: for MultiStepLR the epochs from the last milestone reached within
    the run on (0-based epoch index >= milestone, as :func:`lr_at` steps), for cosine and
    constant schedules just those.  100 epochs, milestones (40, 60, 80): 96-100; 125
    epochs (ImageNet, cosine): 121-125; 8 epochs, milestones (3, 5, 6): 8.
    """
    n = cfg.epochs  # >= 1 (TrainConfig validates it)
    first = n - min(5, max(1, -(-n // 20)))  # 0-based index of the first averaged epoch
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

