"""Data sets and transforms (torchvision), and a sampler that makes resume exact.

* ``fashion_mnist``: the offline default.  Read from ``$MSR_FMNIST_DIR`` when set (only
  there: a folder that does not hold the files is an error, never a silent fallback),
  else Debian's ``dataset-fashion-mnist`` idx ``.gz`` files
  (``/usr/share/datasets/fashion-mnist``) or the data root, else torchvision's download
  into the data root; padded 28 -> 32 so the 32/16/8 feature maps of Table I hold; one
  input channel.  A damaged file is an error naming it; ``DataInfo.source`` says which
  copy was read.
* ``cifar10`` / ``cifar100``: torchvision (downloaded unless ``$MSR_OFFLINE`` is set).
* ``imagenet``: ``ImageFolder`` roots ``<data_root>/imagenet/{train,val}``.
* ``cifar10_dvs``: event files ``<data_root>/cifar10_dvs/<class>/*.npz`` with arrays
  ``x, y, t, p`` (the layout spikingjelly extracts), turned into T frames by Fang et
  al.'s PLIF pre-processing (Table IV): events split into T slices of equal event
  count, integrated per polarity, 128x128 summed down to 64x64 -> ``[T, 2, 64, 64]``.
* ``fashion_mnist_dvs``: Fashion-MNIST as an event camera would record it during three
  emulated saccades (:mod:`msr.events`: 64x64 sensor, ON/OFF events at a log-contrast
  threshold), converted once and cached under ``<data_root>/fashion_mnist_dvs``; the
  same ``x, y, t, p`` streams and the same frame binning as ``cifar10_dvs``.  It stands
  in for CIFAR10-DVS in the ``fmnist`` profile; it is not CIFAR10-DVS.
* ``synthetic_dvs``: the ``synthetic`` patterns (28x28, squashed to [0, 255]) through the
  same emulator (cache ``<data_root>/synthetic_dvs``): the DVS path without any data files.
* ``synthetic``: class-dependent mean patterns plus noise, learnable in a few steps.

Augmentations: Table VIII (RandomCrop(32, padding=4), RandomRotation(15),
RandomHorizontalFlip, Normalize) and Table X (RandomResizedCrop, AutoAugment,
RandomHorizontalFlip, Normalize).
"""
from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

DATASETS = ("fashion_mnist", "cifar10", "cifar100", "imagenet", "cifar10_dvs", "fashion_mnist_dvs", "synthetic_dvs",
            "synthetic")
#: Data sets of emulated event recordings (msr.events) and what their events come from.
EMULATED_EVENTS = {"fashion_mnist_dvs": "emulated Fashion-MNIST events (saccades)",
                   "synthetic_dvs": "synthetic images through the event emulator"}
#: Data sets whose files list their samples class by class (folder data sets): the first
#: n of them would be a few classes only, so their subsets are drawn at random (seeded).
CLASS_ORDERED = ("imagenet", "cifar10_dvs")
_LABELS = {"fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet": "ImageNet",
           "cifar10_dvs": "CIFAR10-DVS", "synthetic": "synthetic images", **EMULATED_EVENTS}


#: What a model sees of each data set: (channels, height, width), classes, and whether
#: batches are event frames ``[B, T, C, H, W]`` (time-first after the loop's transpose).
#: ``imagenet``'s side is ``input_size``'s (the crop, default 224) and ``synthetic``'s
#: shape is ``input_size`` (default 1x32x32); the folder data sets (``imagenet``,
#: ``cifar10_dvs``) train on the classes their folder holds, these many in full.
SHAPES: dict[str, tuple[tuple[int, int, int], int, bool]] = {
    "fashion_mnist": ((1, 32, 32), 10, False),  # 28x28 padded to 32x32 (Table I's 32/16/8 maps)
    "cifar10": ((3, 32, 32), 10, False),
    "cifar100": ((3, 32, 32), 100, False),
    "imagenet": ((3, 224, 224), 1000, False),
    "cifar10_dvs": ((2, 64, 64), 10, True),  # 128x128 events summed down to 64x64 (Table IV)
    "fashion_mnist_dvs": ((2, 64, 64), 10, True),  # the emulated 64x64 sensor (msr.events)
    "synthetic_dvs": ((2, 64, 64), 10, True),
    "synthetic": ((1, 32, 32), 10, False),
}


def data_shape(cfg) -> tuple[tuple[int, int, int], int, bool]:
    """``(input_size, classes, time_first)`` of ``cfg.dataset`` from :data:`SHAPES`, with
    ``cfg.input_size`` applied where it sets the shape (``imagenet``'s crop, ``synthetic``)."""
    if cfg.dataset not in SHAPES:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; valid: {', '.join(DATASETS)}")
    size, classes, time_first = SHAPES[cfg.dataset]
    if cfg.input_size and cfg.dataset == "imagenet":
        size = (3, cfg.input_size[-1], cfg.input_size[-1])
    elif cfg.input_size and cfg.dataset == "synthetic":
        size = tuple(cfg.input_size)
    return size, classes, time_first


def describe_dataset(name: str) -> str:
    """What a data set name stands for, in words (``fashion_mnist_dvs`` -> emulated
    Fashion-MNIST events): the label the book and the report put beside a number."""
    return _LABELS.get(name, name)

#: Augmentation names (Tables VIII and X) accepted in ``augment``.
AUGMENTS = ("random_crop_32", "random_rotation_15", "hflip", "random_resized_crop_224", "autoaugment", "normalize")

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")
FMNIST_FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot")
MEAN_STD = {
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


class MissingDataError(ValueError):
    """The data set's files are not where msr looks; the message says where to put them."""


class CorruptDataError(ValueError):
    """A data file exists but cannot be read; the message names it."""


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about a data set."""

    dataset: str
    in_channels: int
    num_classes: int
    input_size: tuple[int, int, int]
    n_train: int
    n_test: int
    time_first: bool  # batches are event frames [B, T, C, H, W] (moved to [T, B, ...] by the loop)
    source: str = ""  # where the data came from (the folder read; "generated" for synthetic)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def offline() -> bool:
    return os.environ.get("MSR_OFFLINE", "") not in ("", "0")


# ----------------------------------------------------------------------------- transforms
def make_transform(dataset: str, train: bool, augment: tuple[str, ...] | list[str], input_size: int):
    """Table VIII / X augmentation pipeline (torchvision v2) for one split."""
    from torchvision.transforms import v2

    augment = tuple(augment)
    unknown = set(augment) - set(AUGMENTS)
    if unknown:
        raise ValueError(f"unknown augmentation(s) {sorted(unknown)}; valid: {', '.join(AUGMENTS)}")
    t: list = [v2.ToImage()]
    if dataset == "fashion_mnist":
        t.append(v2.Pad(2))  # 28x28 -> 32x32 (Table I sizes)
    if dataset == "imagenet":
        if train and "random_resized_crop_224" in augment:
            t.append(v2.RandomResizedCrop(input_size, antialias=True))
        else:
            t += [v2.Resize(round(input_size * 256 / 224), antialias=True), v2.CenterCrop(input_size)]
    if train:
        if "random_crop_32" in augment:
            t.append(v2.RandomCrop(input_size, padding=4))
        if "random_rotation_15" in augment:
            t.append(v2.RandomRotation(15))
        if "hflip" in augment:
            t.append(v2.RandomHorizontalFlip())
        if "autoaugment" in augment:
            t.append(v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET))
    t.append(v2.ToDtype(torch.float32, scale=True))
    if "normalize" in augment and dataset in MEAN_STD:
        mean, std = MEAN_STD[dataset]
        t.append(v2.Normalize(mean, std))
    return v2.Compose(t)


# ----------------------------------------------------------------------------- Fashion-MNIST
def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (``.gz`` or raw): the format of (Fashion-)MNIST.  A damaged file
    (bad gzip stream, truncated, not idx) raises :class:`CorruptDataError` naming it."""
    fix = "replace the file (Debian: apt-get install --reinstall dataset-fashion-mnist) or remove it"
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise CorruptDataError(f"{path} is damaged ({type(err).__name__}: {err}); {fix}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise CorruptDataError(f"{path} is not an idx file of unsigned bytes; {fix}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != math.prod(shape):
        raise CorruptDataError(f"{path} is truncated: expected {math.prod(shape)} values, found {arr.size}; {fix}")
    return arr.reshape(shape).copy()


class TensorImages(Dataset):
    """uint8 images ``[N, H, W]`` or ``[N, C, H, W]`` + labels, with a transform."""

    def __init__(self, images: np.ndarray | torch.Tensor, labels, transform=None):
        images = torch.as_tensor(np.asarray(images))
        self.images = images.unsqueeze(1) if images.dim() == 3 else images
        self.targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        x = self.images[i]
        return (self.transform(x) if self.transform else x), int(self.targets[i])


def _fmnist_dirs(root: Path) -> list[Path]:
    env = os.environ.get("MSR_FMNIST_DIR")
    if env:  # named by the user: that copy or an error, never another one
        return [Path(env).expanduser()]
    return [DEBIAN_FMNIST, root / "fashion_mnist", root / "FashionMNIST" / "raw"]


def fashion_mnist_available(root: str | Path = "data") -> bool:
    """Whether the Fashion-MNIST idx files are on this machine (no download)."""
    names = FMNIST_FILES[True] + FMNIST_FILES[False]
    return any(all((d / n).exists() or (d / n).with_suffix("").exists() for n in names)
               for d in _fmnist_dirs(Path(root).expanduser()))


def fashion_mnist(root: Path, train: bool, transform) -> Dataset:
    """The split's images and labels; the dataset's ``source`` is the folder they were read from."""
    images_name, labels_name = FMNIST_FILES[train]
    for d in _fmnist_dirs(root):
        for suffix in ("", "_raw"):
            img, lab = d / images_name, d / labels_name
            if suffix:  # torchvision keeps un-gzipped copies
                img, lab = img.with_suffix(""), lab.with_suffix("")
            if img.exists() and lab.exists():
                ds = TensorImages(read_idx(img), read_idx(lab), transform)
                ds.source = str(d)
                return ds
    env = os.environ.get("MSR_FMNIST_DIR")
    if env:
        what = ("does not exist" if not Path(env).expanduser().is_dir()
                else f"does not hold {images_name} and {labels_name}")
        raise MissingDataError(f"MSR_FMNIST_DIR={env} {what}; point it at the folder with the Fashion-MNIST idx files "
                               f"or unset it to use {DEBIAN_FMNIST} or {root / 'fashion_mnist'}")
    if not offline():
        from torchvision.datasets import FashionMNIST

        try:
            FashionMNIST(str(root), train=train, download=True)
        except Exception as err:  # no network
            raise MissingDataError(_fmnist_missing(root, f" (download failed: {err})")) from err
        return fashion_mnist(root, train, transform)
    raise MissingDataError(_fmnist_missing(root, ""))


def _fmnist_missing(root: Path, why: str) -> str:
    return (
        f"Fashion-MNIST not found{why}: install Debian's dataset-fashion-mnist (files in {DEBIAN_FMNIST}) "
        f"or put {', '.join(FMNIST_FILES[True] + FMNIST_FILES[False])} in {root / 'fashion_mnist'}"
    )


# ----------------------------------------------------------------------------- CIFAR, ImageNet
def cifar(name: str, root: Path, train: bool, transform) -> Dataset:
    from torchvision import datasets

    cls, folder, archive = {
        "cifar10": (datasets.CIFAR10, "cifar-10-batches-py", "cifar-10-python.tar.gz"),
        "cifar100": (datasets.CIFAR100, "cifar-100-python", "cifar-100-python.tar.gz"),
    }[name]
    missing = (
        f"{name} not found: put {archive} (from https://www.cs.toronto.edu/~kriz/) extracted as "
        f"{root / folder} (torchvision layout), or allow the network so torchvision downloads it"
    )
    try:
        return cls(str(root), train=train, transform=transform, download=False)
    except RuntimeError:
        if offline():
            raise MissingDataError(missing) from None
    try:
        return cls(str(root), train=train, transform=transform, download=True)
    except Exception as err:  # no network
        raise MissingDataError(f"{missing} (download failed: {err})") from err


def first_of_each_class(labels) -> list[int]:
    """The index of the first sample of each class, in the order the classes first appear."""
    first: dict = {}
    for i, c in enumerate(labels):
        first.setdefault(c, i)
    return list(first.values())


def imagenet_available(root: str | Path = "data") -> bool:
    """Whether ``root`` holds ImageNet in the layout :func:`imagenet` reads (msr does not ship it)."""
    root = Path(root).expanduser()
    return all((root / "imagenet" / split).is_dir() for split in ("train", "val"))


def imagenet(root: Path, train: bool, transform) -> Dataset:
    from torchvision.datasets import ImageFolder

    folder = root / "imagenet" / ("train" if train else "val")
    if not folder.is_dir():
        raise MissingDataError(
            f"ImageNet not found: put the ILSVRC-2012 images as class folders in {root / 'imagenet' / 'train'} "
            f"and {root / 'imagenet' / 'val'} (torchvision ImageFolder layout)"
        )
    return ImageFolder(str(folder), transform=transform)


# ----------------------------------------------------------------------------- CIFAR10-DVS
def events_to_frames(x, y, p, T: int, size: int = 128, out_size: int = 64) -> torch.Tensor:
    """Fang et al. (PLIF) frames: split the event stream into T slices of equal event
    count, count events per polarity and pixel, sum-pool ``size`` -> ``out_size``.
    Returns ``[T, 2, out_size, out_size]`` float32 counts."""
    x, y, p = (np.asarray(a).astype(np.int64) for a in (x, y, p))
    n = len(x)
    if not (len(y) == len(p) == n):
        raise ValueError("event arrays x, y, p must have the same length")
    if size % out_size:
        raise ValueError(f"sensor size {size} must be a multiple of the frame size {out_size}")
    f = size // out_size
    frames = np.zeros((T, 2, out_size, out_size), dtype=np.float32)
    if n == 0:
        return torch.from_numpy(frames)
    bounds = (np.arange(T + 1) * n) // T  # equal event count per slice (spikingjelly split_by="number")
    slot = np.searchsorted(bounds[1:], np.arange(n), side="right")
    pol = (p > 0).astype(np.int64)
    row, col = np.clip(y // f, 0, out_size - 1), np.clip(x // f, 0, out_size - 1)
    flat = ((slot * 2 + pol) * out_size + row) * out_size + col
    frames.reshape(-1)[:] = np.bincount(flat, minlength=frames.size)
    return torch.from_numpy(frames)


class EventFolder(Dataset):
    """``<root>/<class>/*.npz`` event files (keys x, y, t, p) -> frames ``[T, 2, H, W]``;
    per class the first 90 % of the sorted files train, the rest test (Fang et al.'s 9:1)."""

    def __init__(self, root: Path, train: bool, T: int, size: int = 128, out_size: int = 64, hflip: bool = False):
        classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        if not classes:
            raise MissingDataError(f"no class folders in {root}")
        self.classes, self.samples = classes, []
        for c, name in enumerate(classes):
            files = sorted((root / name).glob("*.npz"))
            cut = int(round(0.9 * len(files)))
            for path in files[:cut] if train else files[cut:]:
                self.samples.append((path, c))
        self.targets = [c for _, c in self.samples]
        self.T, self.size, self.out_size, self.hflip = T, size, out_size, hflip

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        path, c = self.samples[i]
        with np.load(path, allow_pickle=False) as ev:
            frames = events_to_frames(ev["x"], ev["y"], ev["p"], self.T, self.size, self.out_size)
        if self.hflip and torch.rand(()) < 0.5:
            frames = frames.flip(-1)
        return frames, c


def cifar10_dvs(root: Path, train: bool, T: int, augment) -> Dataset:
    folder = root / "cifar10_dvs"
    if not folder.is_dir() or not any(folder.iterdir()):
        raise MissingDataError(
            f"CIFAR10-DVS not found: put the events as {folder}/<class>/<sample>.npz with arrays x, y, t, p "
            f"(the layout spikingjelly's CIFAR10DVS extracts to events_np/)"
        )
    return EventFolder(folder, train, T, hflip=train and "hflip" in tuple(augment))


# ----------------------------------------------------------------------------- emulated events
class EmulatedEvents(Dataset):
    """Event recordings emulated from images (:class:`msr.events.EventCache`) -> frames
    ``[T, 2, S, S]`` by :func:`events_to_frames` (the CIFAR10-DVS binning, no pooling)."""

    def __init__(self, cache, targets, T: int, hflip: bool = False):
        self.cache, self.T, self.hflip = cache, T, hflip
        self.targets = torch.as_tensor(np.asarray(targets), dtype=torch.long)
        if len(self.targets) != len(cache):
            raise ValueError(f"{len(cache)} images but {len(self.targets)} labels")

    def __len__(self) -> int:
        return len(self.targets)

    def prepare(self, indices=None) -> None:
        """Convert (once, cached) the event shards ``indices`` need; the loaders call this
        before their workers start."""
        self.cache.ensure(indices)

    def __getitem__(self, i):
        ev = self.cache.events(int(i))
        s = self.cache.params.sensor
        x = ev["x"]
        if self.hflip and torch.rand(()) < 0.5:
            x = (s - 1) - x.astype(np.int64)  # mirror the events: the frames' horizontal flip, cheaper
        return events_to_frames(x, ev["y"], ev["p"], self.T, size=s, out_size=s), int(self.targets[i])


def synthetic_images(n: int, train: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images of the ``synthetic`` patterns (sigmoid-squashed) and labels."""
    ds = Synthetic(n, (1, 28, 28), 10, train, seed=seed, noise=0.5)
    return (torch.sigmoid(ds.images[:, 0]) * 255).round().to(torch.uint8).numpy(), ds.targets.numpy()


#: How many synthetic images ``synthetic_dvs`` emulates (its images depend on the count).
SYNTHETIC_DVS_N = 512


def emulated_events(name: str, root: Path, train: bool, T: int, augment, n: int = SYNTHETIC_DVS_N,
                    seed: int = 0) -> Dataset:
    """``fashion_mnist_dvs`` or ``synthetic_dvs`` (``n``, ``seed``: the synthetic images)."""
    from msr.events import EventCache

    if name == "fashion_mnist_dvs":
        src = fashion_mnist(root, train, None)
        images, labels = src.images[:, 0].numpy(), src.targets.numpy()
    elif name == "synthetic_dvs":
        images, labels = synthetic_images(n, train, seed)
    else:
        raise ValueError(f"unknown emulated event data set {name!r}; valid: {', '.join(EMULATED_EVENTS)}")
    cache = EventCache(root / name, images, stream=0 if train else 1)
    return EmulatedEvents(cache, labels, T, hflip=train and "hflip" in tuple(augment))


def emulated_examples(name: str, root: str | Path, n: int = 4, T: int = 10, seed: int = 0) -> dict:
    """``n`` test samples of ``name`` (``fashion_mnist_dvs`` / ``synthetic_dvs``), the first of
    each of the first ``n`` classes in test order (fewer where the set has fewer classes):
    source images, event counts and frames ``[n, T, 2, S, S]`` (the events the cache holds
    for these samples, emulated here under their test indices without touching the cache:
    milliseconds)."""
    from msr.events import SaccadeParams, emulate

    root = Path(root).expanduser()
    if name == "fashion_mnist_dvs":
        src = fashion_mnist(root, False, None)
        all_images, all_labels = src.images[:, 0], src.targets
        classes = FMNIST_CLASSES
    elif name == "synthetic_dvs":
        all_images, all_labels = synthetic_images(SYNTHETIC_DVS_N, False, seed)  # the set emulated_events builds
        classes = tuple(f"class {c}" for c in range(10))
    else:
        raise ValueError(f"unknown emulated event data set {name!r}; valid: {', '.join(EMULATED_EVENTS)}")
    all_labels = np.asarray(all_labels)
    ids = first_of_each_class(all_labels.tolist())[:n]
    images, labels = np.asarray(all_images[ids]), all_labels[ids]
    params = SaccadeParams()
    ev = emulate(images, params, ids=ids, stream=1)
    s = params.sensor
    frames = np.stack([events_to_frames(e["x"], e["y"], e["p"], T, size=s, out_size=s).numpy()
                       for e in (ev.sample(i) for i in range(len(ev)))])
    return {"dataset": name, "label": EMULATED_EVENTS[name], "images": images, "labels": labels.tolist(),
            "classes": [classes[int(c)] for c in labels], "counts": ev.counts().tolist(), "frames": frames,
            "T": T, "params": params.as_dict()}


def prepare_events(ds: Dataset) -> None:
    """Convert the emulated events a data set (or a subset of one) will read; others: nothing."""
    if isinstance(ds, Subset) and isinstance(ds.dataset, EmulatedEvents):
        ds.dataset.prepare(ds.indices)
    elif isinstance(ds, EmulatedEvents):
        ds.prepare()


# ----------------------------------------------------------------------------- synthetic
class Synthetic(Dataset):
    """Random but learnable: class c's images are a fixed random pattern ``m_c`` plus
    Gaussian noise.  Deterministic in ``seed``; train and test share the patterns."""

    def __init__(self, n: int, input_size=(1, 32, 32), num_classes: int = 10, train: bool = True,
                 seed: int = 0, noise: float = 1.0):
        g = torch.Generator().manual_seed(seed)
        means = torch.randn(num_classes, *input_size, generator=g)
        g.manual_seed(seed + (1 if train else 2))
        self.targets = torch.randint(0, num_classes, (n,), generator=g)
        self.images = means[self.targets] + noise * torch.randn(n, *input_size, generator=g)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        return self.images[i], int(self.targets[i])


# ----------------------------------------------------------------------------- building
def build_datasets(cfg) -> tuple[Dataset, Dataset, DataInfo]:
    """Train and test sets of ``cfg.dataset`` (a ``TrainConfig`` or anything with its fields)."""
    name = cfg.dataset
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    root = Path(cfg.data_root).expanduser()
    augment = tuple(cfg.augment)
    source = str(root)
    size, classes, time_first = data_shape(cfg)
    if name == "fashion_mnist":
        tr, te = (fashion_mnist(root, s, make_transform(name, s, augment, 32)) for s in (True, False))
        source = getattr(tr, "source", source)
    elif name in ("cifar10", "cifar100"):
        tr, te = (cifar(name, root, s, make_transform(name, s, augment, 32)) for s in (True, False))
    elif name == "imagenet":
        tr, te = (imagenet(root, s, make_transform(name, s, augment, size[-1])) for s in (True, False))
        classes = len(tr.classes)
        source = str(root / "imagenet")
    elif name == "cifar10_dvs":
        tr, te = (cifar10_dvs(root, s, cfg.T, augment) for s in (True, False))
        classes = len(tr.classes)
        source = str(root / "cifar10_dvs")
    elif name in EMULATED_EVENTS:
        n = {True: cfg.subset or 512, False: cfg.test_subset or 128}
        tr, te = (emulated_events(name, root, s, cfg.T, augment, n[s], cfg.data_seed) for s in (True, False))
        source = str(root / name)
    else:
        tr = Synthetic(cfg.subset or 512, size, classes, True, seed=cfg.data_seed)
        te = Synthetic(cfg.test_subset or 128, size, classes, False, seed=cfg.data_seed)
        source = "generated"
    home = str(Path.home())
    if home not in ("", "/") and (source == home or source.startswith(home + os.sep)):
        source = "~" + source[len(home):]  # no user names in stored results
    if cfg.subset is not None and cfg.subset_mode == "first" and name in CLASS_ORDERED:
        raise ValueError(f"subset_mode='first' on {name} would keep its first classes only (its files are sorted "
                         f"by class); valid for a subset of {name}: subset_mode='random'")
    te_mode = "random" if name in CLASS_ORDERED else "first"
    tr, te = take_subset(tr, cfg.subset, cfg.subset_mode, cfg.seed), take_subset(te, cfg.test_subset, te_mode, 0)
    info = DataInfo(name, size[0], classes, tuple(size), len(tr), len(te), time_first, source)
    return tr, te, info


def take_subset(ds: Dataset, n: int | None, mode: str = "first", seed: int = 0) -> Dataset:
    """The first ``n`` samples, or ``n`` seeded random ones (``mode="random"``)."""
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise ValueError(f"subset must be >= 1, got {n}")
    if mode == "first":
        idx = list(range(n))
    elif mode == "random":
        idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n].sort().values.tolist()
    else:
        raise ValueError(f"unknown subset mode {mode!r}; valid: first, random")
    return Subset(ds, idx)


class EpochSampler(Sampler[int]):
    """Seeded per-epoch permutation, sharded over ranks, resumable mid-epoch.

    Epoch e's order is ``randperm(n, seed + e)`` (independent of any RNG state), so a
    run resumed at step k of epoch e sees exactly the samples it would have seen.
    Rank r takes positions r, r + W, ... of each global batch, so W processes with
    batch B/W see the same global batches as one process with batch B.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int = 0, rank: int = 0,
                 world_size: int = 1, drop_last: bool = True):
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def global_order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            return torch.randperm(self.n, generator=g).tolist()
        return list(range(self.n))

    def num_batches(self) -> int:
        full = self.n // self.batch_size
        return full if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self):
        order = self.global_order()[: self.num_batches() * self.batch_size]
        order = order[self.start_batch * self.batch_size:]
        return iter(order[self.rank:: self.world_size])

    def __len__(self) -> int:
        return len(range(self.rank, len(self.global_order()[: self.num_batches() * self.batch_size][
            self.start_batch * self.batch_size:]), self.world_size))


def build_loaders(cfg, *, rank: int = 0, world_size: int = 1) -> tuple[DataLoader, DataLoader, dict]:
    """``(train_loader, test_loader, info)``; ``cfg.batch_size`` is the global batch, split over ranks.

    The train loader's sampler is an :class:`EpochSampler` (``loader.sampler.set_epoch``),
    dropping the last incomplete batch; the test loader shards without padding.
    """
    tr, te, info = build_datasets(cfg)
    for ds in (tr, te):
        prepare_events(ds)  # emulated events: convert once, before the workers start
    if cfg.batch_size % world_size:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {world_size} processes")
    if len(tr) < cfg.batch_size:
        raise ValueError(f"the training set has {len(tr)} samples, fewer than one batch of {cfg.batch_size}")
    local = cfg.batch_size // world_size
    # own generator: creating a loader iterator must not draw from the global RNG, so a
    # run resumed mid-epoch sees the same augmentation/dropout stream as an uninterrupted one
    kw = dict(num_workers=cfg.workers, generator=torch.Generator().manual_seed(cfg.seed),
              pin_memory=torch.cuda.is_available() and cfg.workers > 0, persistent_workers=cfg.workers > 0)
    train_sampler = EpochSampler(len(tr), cfg.batch_size, shuffle=True, seed=cfg.seed, rank=rank,
                                 world_size=world_size, drop_last=True)
    test_sampler = EpochSampler(len(te), cfg.batch_size, shuffle=False, rank=rank, world_size=world_size,
                                drop_last=False)
    train_loader = DataLoader(tr, batch_size=local, sampler=train_sampler, drop_last=False, **kw)
    test_loader = DataLoader(te, batch_size=local, sampler=test_sampler, **kw)
    return train_loader, test_loader, info.as_dict()
