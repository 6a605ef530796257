"""Device-resident data for small data sets: the whole set as one tensor on the device.

Fashion-MNIST (47 MB as uint8 at 32x32), CIFAR-10/100 (150 MB) and the synthetic set fit
on any GPU; holding them there removes the DataLoader's per-sample transforms, worker
processes and host-to-device copies, which dominate a launch-bound training step.
:class:`ResidentLoader` keeps the images as uint8 (synthetic: float) and builds each
batch on the device: gather the batch's samples, then the Table VIII augmentations in
batch (:func:`augment_batch`), in the order torchvision's pipeline applies them
(:func:`msr.data.make_transform`): random crop with 4 pixels of zero padding, random
rotation by up to 15 degrees (nearest neighbour, zero fill), horizontal flip with
probability 1/2, then scaling to [0, 1] and normalisation.

Same samples, not the same random draws: the batches' order is the :class:`msr.data.EpochSampler`
permutation of the DataLoader path, and each batch's augmentation is drawn from a
``torch.Generator`` on the data's device seeded by (seed, rank, epoch, batch), so a run
resumed at any batch sees exactly the batches an uninterrupted one sees.  The draws
differ from torchvision's (and between CPU and CUDA generators), so a run with resident
data is a different sample of the same training distribution than one without:
``TrainConfig.resident_data`` is a runtime switch, like the other speed switches.
"""
from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F
from torch.utils.data import Subset

from msr.data import MEAN_STD, EpochSampler, Synthetic, TensorImages, build_datasets

#: data sets whose whole split msr can hold as one tensor
RESIDENT_DATASETS = ("fashion_mnist", "cifar10", "cifar100", "synthetic")
#: augmentations :func:`augment_batch` does on the device (Table VIII)
RESIDENT_AUGMENTS = ("random_crop_32", "random_rotation_15", "hflip", "normalize")


def resident_supported(cfg) -> bool:
    """Whether ``cfg``'s data set and augmentations can be device-resident."""
    return cfg.dataset in RESIDENT_DATASETS and set(cfg.augment) <= set(RESIDENT_AUGMENTS)


def batch_seed(seed: int, rank: int, epoch: int, batch: int) -> int:
    """A 63-bit seed for the augmentation of one batch, a function of its position only."""
    digest = hashlib.blake2b(f"{seed}/{rank}/{epoch}/{batch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Per sample, a random ``H x W`` window of ``x`` zero-padded by ``padding`` on every side
    (``RandomCrop(size, padding)`` in batch); ``x``: ``[B, C, H, W]``."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    off = torch.randint(0, 2 * padding + 1, (2, b), generator=gen, device=gen.device).to(x.device)
    rows = off[0, :, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = off[1, :, None] + torch.arange(w, device=x.device)  # [B, W]
    idx = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_hflip(x: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Each sample mirrored left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], generator=gen, device=gen.device).to(x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_rotation(x: torch.Tensor, degrees: float, gen: torch.Generator) -> torch.Tensor:
    """Each sample rotated about its centre by an angle uniform in [-degrees, degrees];
    nearest neighbour, zero fill (``RandomRotation(degrees)``'s defaults)."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=gen, device=gen.device).to(x.device) * 2 - 1) * math.radians(degrees)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def augment_batch(x: torch.Tensor, augment, gen: torch.Generator) -> torch.Tensor:
    """Table VIII training augmentations of ``augment`` in torchvision's order (crop,
    rotation, flip) on a float batch ``[B, C, H, W]``; normalisation is not done here."""
    unknown = set(augment) - set(RESIDENT_AUGMENTS)
    if unknown:
        raise ValueError(f"augmentation(s) {sorted(unknown)} cannot run on resident data; "
                         f"valid: {', '.join(RESIDENT_AUGMENTS)}")
    if "random_crop_32" in augment:
        x = random_crop(x, 4, gen)
    if "random_rotation_15" in augment:
        x = random_rotation(x, 15.0, gen)
    if "hflip" in augment:
        x = random_hflip(x, gen)
    return x


def _tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of a data set built by :func:`msr.data.build_datasets`."""
    indices = None
    if isinstance(ds, Subset):
        ds, indices = ds.dataset, torch.as_tensor(ds.indices)
    if not isinstance(ds, (TensorImages, Synthetic)) and not hasattr(ds, "data"):
        raise ValueError(f"{type(ds).__name__} cannot be held as one tensor")
    if isinstance(ds, (TensorImages, Synthetic)):
        images, labels = ds.images, torch.as_tensor(ds.targets)
    else:  # torchvision CIFAR: HWC uint8 array
        images, labels = torch.as_tensor(ds.data).permute(0, 3, 1, 2), torch.as_tensor(ds.targets)
    if indices is not None:
        images, labels = images[indices], labels[indices]
    return images.contiguous(), labels.long()


class ResidentLoader:
    """Batches ``(x, y)`` of a whole split held on ``device``; iterates like the training
    DataLoader (``sampler.set_epoch(epoch, batch)``, ``batch_size`` per rank)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, sampler: EpochSampler, batch_size: int, *,
                 device, augment=(), mean_std=None, pad: int = 0, seed: int = 0, train: bool = True):
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.sampler, self.batch_size, self.seed, self.train = sampler, batch_size, seed, train
        self.augment = tuple(a for a in augment if a != "normalize") if train else ()
        self.pad = pad  # Fashion-MNIST: 28 -> 32
        self.uint8 = images.dtype == torch.uint8
        self.mean = self.std = None
        if mean_std is not None:
            self.mean, self.std = (torch.tensor(v, device=self.device).view(1, -1, 1, 1) for v in mean_std)

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def _batch(self, idx: torch.Tensor, batch: int):
        x = self.images[idx]
        x = x.float() / 255 if self.uint8 else x.float()
        if self.pad:
            x = F.pad(x, (self.pad,) * 4)
        if self.augment:
            gen = torch.Generator(self.device)
            gen.manual_seed(batch_seed(self.seed, self.sampler.rank, self.sampler.epoch, batch))
            x = augment_batch(x, self.augment, gen)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x, self.labels[idx]

    def __iter__(self):
        order = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long).to(self.device)
        first = self.sampler.start_batch
        for i, start in enumerate(range(0, len(order), self.batch_size)):
            yield self._batch(order[start:start + self.batch_size], first + i)


def build_resident_loaders(cfg, device, *, rank: int = 0, world_size: int = 1):
    """``(train_loader, test_loader, info)`` like :func:`msr.data.build_loaders`, with both
    splits held on ``device`` (:class:`ResidentLoader`)."""
    if not resident_supported(cfg):
        raise ValueError(f"resident data needs one of {', '.join(RESIDENT_DATASETS)} with augmentations among "
                         f"{', '.join(RESIDENT_AUGMENTS)}; got {cfg.dataset} with {list(cfg.augment)}")
    tr, te, info = build_datasets(cfg)
    if cfg.batch_size % world_size:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {world_size} processes")
    if len(tr) < cfg.batch_size:
        raise ValueError(f"the training set has {len(tr)} samples, fewer than one batch of {cfg.batch_size}")
    local = cfg.batch_size // world_size
    real = cfg.dataset != "synthetic"  # synthetic data: no transform on either path
    mean_std = MEAN_STD[cfg.dataset] if real and "normalize" in cfg.augment else None
    pad = 2 if cfg.dataset == "fashion_mnist" else 0
    train_sampler = EpochSampler(len(tr), cfg.batch_size, shuffle=True, seed=cfg.seed, rank=rank,
                                 world_size=world_size, drop_last=True)
    test_sampler = EpochSampler(len(te), cfg.batch_size, shuffle=False, rank=rank, world_size=world_size,
                                drop_last=False)
    kw = dict(device=device, mean_std=mean_std, pad=pad, seed=cfg.seed)
    train = ResidentLoader(*_tensors(tr), train_sampler, local, augment=cfg.augment if real else (), train=True, **kw)
    test = ResidentLoader(*_tensors(te), test_sampler, local, train=False, **kw)
    return train, test, info.as_dict()


__all__ = ["RESIDENT_AUGMENTS", "RESIDENT_DATASETS", "ResidentLoader", "augment_batch", "batch_seed",
           "build_resident_loaders", "random_crop", "random_hflip", "random_rotation", "resident_supported"]
