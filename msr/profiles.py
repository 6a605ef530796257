"""Profiles: how much compute each of the paper's experiments gets (one definition).

* ``smoke``: CPU, seconds per run: synthetic 16x16 data, T = 2, 2 epochs of 2 steps.
  Proves the pipeline end to end; its numbers mean nothing.  Its ``dvs`` runs on
  emulated events (``msr.events``) of the first Fashion-MNIST images when the files are
  on the machine, else of synthetic images (``synthetic_dvs``): no data files needed.
* ``fmnist``: real Fashion-MNIST padded to 32x32, the paper's architectures and the
  shape of the Table VIII recipes (T = 6, batch 100, lr 0.1, schedules stretched to
  the epochs below), budgets sized for one GPU.  Its ``dvs`` (Table IV's network,
  T = 6 frames) trains on Fashion-MNIST turned into event streams by emulated saccades
  (``fashion_mnist_dvs``), a stand-in for CIFAR10-DVS, not CIFAR10-DVS.
* ``paper``: the paper's data sets and recipes (CIFAR-10/100, CIFAR10-DVS, ImageNet).

``order`` is the value order in which a budgeted command (``msr compute all --budget``,
:mod:`msr.budget`) works through the experiments; names that :mod:`msr.sweep` does not
know (yet) are skipped with a note.

A profile gives defaults for every run and per-experiment settings; ``msr.sweep``
combines them with the recipe (``msr.recipes``) and the experiment's own variables:
recipe < profile defaults < profile experiment settings < run variables.  Keys
``depths``, ``datasets`` and ``fig5b_epochs`` are read by the experiment builders, and
``seeds`` (how many training seeds, 0, 1, ..., an experiment gets; default 1) by
:func:`msr.sweep.experiment_configs`: each seed is its own stored run, and the chapters
show mean ± std over the seeds stored (Table II and VI: 3 seeds in ``fmnist``, 2 in
``smoke`` so that its book shows the spread too).  In the value order, ``table2_seeds``
and ``table6_seeds`` stand for the seeds after the first, so a budgeted command trains
seed 0 of everything before seeds 1 and 2.

Expected costs (``cost``) are estimates in words, written before the runs.  Where an
experiment has several seeds, its estimate is per seed (``seed_cost``) and
:meth:`Profile.expected_cost` multiplies it by the seeds planned, so that ``table2`` (seed 0
in the value order) and ``table2_seeds`` (the others) each show their own share.

The ``fmnist`` estimates are from throughput measured on one H100 at T = 6, batch 100,
bf16 autocast, Fashion-MNIST: with ``lif_backend="auto"`` (the profile's) depth 20
5200 img/s, depth 56 1900 img/s; the reference backend is 2-3x slower (depth 8 2350,
20 1550, 56 600-735, 110 324 img/s), so costs then grow by that factor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: What a GPU minute is spent on first: Table II with its per-model analyses, Fig. 5, Table VI,
#: MS-ResNet110/482, two-phase, the gamma2 = 0 ablation of Table II's baselines, more seeds of
#: Table II and VI, MS-ResNet20 on emulated DVS events.
VALUE_ORDER = ("table2", "init", "table6", "deep", "two_phase", "ablation", "table2_seeds", "table6_seeds", "dvs")
#: Profile settings that the experiment builders (:mod:`msr.sweep`) read; not TrainConfig fields.
BUILDER_KEYS = ("depths", "datasets", "fig5b_epochs", "seeds")


def _smoke_dvs_dataset() -> str:
    """Emulated events of real Fashion-MNIST images when the files are here, else of
    synthetic images: the smoke profile never needs data files."""
    from msr.data import fashion_mnist_available

    return "fashion_mnist_dvs" if fashion_mnist_available() else "synthetic_dvs"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    dataset: str  # the data set of the image experiments (what the book labels results with)
    device: str
    defaults: dict
    experiments: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)  # experiment -> expected cost, in words
    order: tuple[str, ...] = VALUE_ORDER  # value order of budgeted commands (msr.budget)
    #: experiment -> :class:`SeedCost`, the estimate of one seed; ``cost`` of such an
    #: experiment is filled in from it (all the profile's seeds), see :meth:`expected_cost`
    seed_cost: dict = field(default_factory=dict)

    def __post_init__(self):  # a new dict: dataclasses.replace must not change the profile it copies
        object.__setattr__(self, "cost", {**self.cost, **{e: self.expected_cost(e) for e in self.seed_cost}})

    def settings(self, experiment: str) -> dict:
        """Profile defaults updated with this experiment's settings."""
        return {**self.defaults, **self.experiments.get(experiment, {})}

    def run_settings(self, experiment: str | None = None) -> dict:
        """The TrainConfig fields this profile sets: its defaults, updated with the settings
        of ``experiment`` (None: the defaults alone), without :data:`BUILDER_KEYS`."""
        s = self.settings(experiment) if experiment is not None else dict(self.defaults)
        return {k: v for k, v in s.items() if k not in BUILDER_KEYS}

    def seeds(self, experiment: str) -> tuple[int, ...]:
        """The training seeds ``experiment`` gets in this profile: 0, 1, ... (``seeds`` setting, default 1)."""
        n = self.settings(experiment).get("seeds", 1)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"profile {self.name}: seeds of {experiment} must be an integer >= 1, got {n!r}")
        return tuple(range(n))

    def expected_cost(self, experiment: str, seeds: tuple[int, ...] | None = None) -> str | None:
        """The expected cost of training ``experiment`` for ``seeds`` (default: the profile's
        seeds of it), in words: for an experiment with a per-seed estimate (``seed_cost``), that
        estimate times the number of seeds; otherwise ``cost`` (None where it has none)."""
        if experiment not in self.seed_cost:
            return self.cost.get(experiment)
        seeds = self.seeds(experiment) if seeds is None else tuple(seeds)
        return self.seed_cost[experiment].words(seeds) if seeds else None


@dataclass(frozen=True)
class SeedCost:
    """The expected cost of one seed of an experiment: ``about`` ``unit`` (minutes,
    seconds) ``where`` (the hardware), for ``runs`` (what one seed trains, in words)."""

    about: float
    unit: str
    runs: str
    where: str = ""

    def words(self, seeds: tuple[int, ...]) -> str:
        """The cost of ``seeds`` in words: ``"about 25 min on one H100 (seed 0: 24 runs at depth
        8-56)"``, ``"about 50 min on one H100 (seeds 1 and 2, each 24 runs at depth 8-56; about
        25 min per seed)"``."""
        where = f" {self.where}" if self.where else ""
        total = self.about * len(seeds)
        if len(seeds) == 1:
            return f"about {total:g} {self.unit}{where} (seed {seeds[0]}: {self.runs})"
        names = ", ".join(str(s) for s in seeds[:-1]) + f" and {seeds[-1]}"
        return (f"about {total:g} {self.unit}{where} (seeds {names}, each {self.runs}; "
                f"about {self.about:g} {self.unit} per seed)")


def _profiles() -> dict[str, Profile]:
    smoke = Profile(
        name="smoke",
        description="CPU, seconds per run: synthetic 16x16 data, T = 2, 2 epochs x 2 steps; numbers mean nothing",
        dataset="synthetic",
        device="cpu",
        defaults=dict(dataset="synthetic", input_size=(1, 16, 16), T=2, epochs=2, subset=32, test_subset=32,
                      batch_size=16,
                      workers=0, amp=False, log_every=1, device="cpu", lif_backend="reference"),
        experiments={
            "table2": dict(seeds=2),  # so that the smoke book shows mean ± std
            "table6": dict(datasets=("synthetic",)),
            "init": dict(epochs=1, fig5b_epochs=2),
            "deep": dict(epochs=1, max_steps_per_epoch=2),
            "dvs": dict(dataset=_smoke_dvs_dataset(), input_size=None, subset=8, test_subset=8, batch_size=4),
            "imagenet": dict(dataset="synthetic", input_size=(3, 64, 64), batch_size=8, subset=16, test_subset=8,
                             epochs=1),
            "two_phase": dict(depths=(8,)),
            "short": dict(epochs=1),
        },
        seed_cost={"table2": SeedCost(10, "s", "24 runs", "on 2 CPU cores")},
        cost={"table6": "about 10 s (12 runs)",
              "init": "about 10 s (16 runs)", "deep": "about 6 s",
              "dvs": "about 10 s (events of 2 x 500 images emulated once, then 2 epochs x 2 steps at 64x64)",
              "imagenet": "about 5 s", "two_phase": "seconds", "short": "seconds",
              "ablation": "about 5 s (12 runs)"},
    )
    fm = dict(dataset="fashion_mnist", T=6, batch_size=100, subset=20000, test_subset=5000, epochs=8,
              workers=4, amp=True, log_every=10, device="auto", lif_backend="auto")
    fmnist = Profile(
        name="fmnist",
        description="Fashion-MNIST padded to 32x32, T = 6, Table VIII recipes on 20k training images x 8 epochs",
        dataset="fashion_mnist",
        device="auto",
        defaults=fm,
        experiments={
            "table2": dict(seeds=3),
            "table6": dict(datasets=("fashion_mnist",), seeds=3),
            "init": dict(epochs=1, fig5b_epochs=5),
            "two_phase": dict(depths=(56,)),
            "short": dict(epochs=1, subset=5000, test_subset=2000, workers=0),
            # Table IV's network and T on Fashion-MNIST as emulated event streams (msr.events)
            "dvs": dict(dataset="fashion_mnist_dvs", subset=None, test_subset=None, epochs=12, batch_size=50,
                        workers=8, input_size=None),
            # no Fashion-MNIST stand-in for ImageNet: it needs the real data
            "imagenet": dict(dataset="imagenet", subset=None, test_subset=None, epochs=10, batch_size=256,
                             workers=12, input_size=None),
        },
        seed_cost={"table2": SeedCost(25, "min", "24 runs at depth 8-56", "on one H100"),
                   "table6": SeedCost(20, "min", "12 runs at depth 32-110", "on one H100")},
        cost={"init": "about 10 min (12 one-epoch runs at depth 56 + 4 five-epoch runs at depth 104)",
              "deep": "about 15 min (depth 110 and 482)",
              "two_phase": "about 2 min (depth 56: T = 1 pretrain, T = 6 finetune)",
              "short": "about 2 min on two CPU cores (MS-ResNet20, 1 epoch x 5,000 images)",
              # estimate: MS-ResNet20-DVS has the MACs of MS-ResNet20 and 1.26x its LIF neurons per time
              # step, so at T = 6 about 1.15x MS-ResNet20's cost per image (5200 img/s measured):
              # about 3,500-4,500 img/s at batch 50-100, 12 epochs x 60,000 images
              "dvs": "about 5 min on one H100, plus about 2 CPU-min once per machine to turn the 70,000 images "
                     "into events (4.6 GB under the data root)",
              "ablation": "about 12 min (12 runs: the vanilla spiking ResNet and W/O interblock LIF, depth 8-56, "
                          "gamma2 = 0)",
              "imagenet": "needs ImageNet; days"},
    )
    paper = Profile(
        name="paper",
        description="the paper's data sets and recipes (Tables VIII and X)",
        dataset="cifar10",
        device="auto",
        defaults=dict(dataset="cifar10", workers=8, amp=True, log_every=50, device="auto", lif_backend="auto"),
        experiments={
            "table6": dict(datasets=("cifar10", "cifar100")),
            "init": dict(epochs=1, fig5b_epochs=10),
            "dvs": dict(dataset="cifar10_dvs"),
            "imagenet": dict(dataset="imagenet", workers=16),
            "two_phase": dict(dataset="imagenet", workers=16),
            "short": dict(epochs=1, subset=5000, test_subset=2000),
        },
        cost={"table2": "24 runs x 100 epochs of CIFAR-10: about 2 GPU-days",
              "table6": "24 runs x 100 epochs (CIFAR-10 and CIFAR-100): about 3 GPU-days",
              "init": "about 4 GPU-hours", "deep": "MS-ResNet482: about a GPU-week",
              "dvs": "about 2 GPU-hours", "imagenet": "weeks on 8 GPUs", "two_phase": "weeks on 8 GPUs",
              "short": "about 2 min on two CPU cores (1 epoch x 5,000 CIFAR-10 images)",
              "ablation": "12 runs x 100 epochs of CIFAR-10: about a GPU-day"},
    )
    return {p.name: p for p in (smoke, fmnist, paper)}


#: name -> Profile (a fresh copy per import; profiles are frozen).
PROFILES: dict[str, Profile] = _profiles()


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return PROFILES[name]
