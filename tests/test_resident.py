"""Device-resident data (msr.resident) on CPU tensors (and, marked ``gpu``, on CUDA):
batched crop / rotation / flip by known answers, determinism per (seed, epoch, batch),
the DataLoader's batches without augmentation, and exact resume of a run with resident
data."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from msr.budget import BudgetExhausted, Deadline
from msr.data import build_loaders
from msr.resident import (
    augment_batch,
    batch_seed,
    build_resident_loaders,
    random_crop,
    random_hflip,
    random_rotation,
    resident_supported,
)
from msr.results import ResultsStore, load_checkpoint
from msr.runs import run_folder
from msr.train import TrainConfig, train, use_resident_data

from conftest import HAVE_FMNIST, needs_fmnist

#: the known-answer tests run where the data lives: on CPU tensors always, on CUDA where there is one
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA")])]


def _gen(seed=0, device="cpu"):
    return torch.Generator(device).manual_seed(seed)


def _images(b=16, c=2, h=6, w=5, device="cpu"):
    x = torch.arange(b * c * h * w, dtype=torch.float32).view(b, c, h, w) + 1  # no zeros: padding is visible
    return x.to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_crop_is_a_shifted_window_of_the_padded_image(device):
    x = _images(device=device)
    out = random_crop(x, 2, _gen(device=device))
    assert out.shape == x.shape
    padded = F.pad(x, (2,) * 4)
    offsets = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 5])]
        assert len(hits) == 1, i  # exactly one window, the same for every channel
        offsets.add(hits[0])
    assert len(offsets) > 3  # offsets differ between samples
    assert torch.equal(random_crop(x, 0, _gen(device=device)), x)  # no padding: the only window is the image


@pytest.mark.parametrize("device", DEVICES)
def test_flip_mirrors_about_half_of_the_samples(device):
    x = _images(b=64, device=device)
    out = random_hflip(x, _gen(device=device))
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))]
    assert all(f or torch.equal(out[i], x[i]) for i, f in enumerate(flipped))
    assert 16 < sum(flipped) < 48
    assert torch.equal(random_hflip(x, _gen(device=device), p=1.0), x.flip(-1))
    assert torch.equal(random_hflip(x, _gen(device=device), p=0.0), x)


@pytest.mark.parametrize("device", DEVICES)
def test_rotation_keeps_the_centre_and_zero_degrees_is_the_identity(device):
    x = _images(b=8, c=1, h=9, w=9, device=device)
    assert torch.equal(random_rotation(x, 0.0, _gen(device=device)), x)
    out = random_rotation(x, 15.0, _gen(device=device))
    assert out.shape == x.shape and torch.equal(out[:, :, 4, 4], x[:, :, 4, 4])  # the centre pixel stays
    assert not torch.equal(out, x)
    # nearest neighbour: every output value is an input value of the same sample or the zero fill
    for i in range(len(x)):
        assert set(out[i].unique().tolist()) <= set(x[i].unique().tolist()) | {0.0}


def test_augmentation_is_a_function_of_seed_rank_epoch_and_batch():
    x = _images()
    aug = ("random_crop_32", "random_rotation_15", "hflip")

    def batch(*pos):
        return augment_batch(x, aug, torch.Generator().manual_seed(batch_seed(*pos)))

    assert torch.equal(batch(0, 0, 3, 7), batch(0, 0, 3, 7))
    for other in ((1, 0, 3, 7), (0, 1, 3, 7), (0, 0, 4, 7), (0, 0, 3, 8)):
        assert not torch.equal(batch(0, 0, 3, 7), batch(*other)), other
    with pytest.raises(ValueError, match="cannot run on resident data; valid: random_crop_32"):
        augment_batch(x, ("autoaugment",), _gen())


def _tiny(**kw):
    base = dict(depth=8, dataset="synthetic", input_size=(1, 8, 8), T=2, epochs=2, batch_size=8, subset=32,
                test_subset=16, amp=False, device="cpu", log_every=1, progress=False)
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("device", DEVICES)
def test_resident_batches_equal_the_dataloader_batches_without_augmentation(device):
    cfgs = [_tiny()]
    if HAVE_FMNIST:
        cfgs.append(_tiny(dataset="fashion_mnist", input_size=None, augment=("normalize",), subset=64))
    for cfg in cfgs:
        ref_tr, ref_te, _ = build_loaders(cfg)
        tr, te, _ = build_resident_loaders(cfg, device)
        for epoch, start in ((1, 0), (2, 3)):
            ref_tr.sampler.set_epoch(epoch, start)
            tr.sampler.set_epoch(epoch, start)
            pairs = list(itertools.zip_longest(ref_tr, tr))
            assert len(pairs) == len(ref_tr.sampler) // cfg.batch_size > 0
            for (xa, ya), (xb, yb) in pairs:
                assert xb.device.type == device
                assert torch.equal(ya, yb.cpu()) and torch.allclose(xa, xb.cpu(), atol=1e-6), cfg.dataset
        assert all(torch.equal(a[1], b[1].cpu()) and torch.allclose(a[0], b[0].cpu(), atol=1e-6)
                   for a, b in zip(ref_te, te, strict=True))


def test_auto_switch_is_off_on_cpu_and_on_for_supported_data_on_cuda():
    cfg = _tiny()
    assert not use_resident_data(cfg, torch.device("cpu"))
    assert use_resident_data(cfg, torch.device("cuda"))
    assert not use_resident_data(cfg.replace(dataset="cifar10_dvs"), torch.device("cuda"))
    assert not resident_supported(cfg.replace(dataset="imagenet", augment=("autoaugment",)))
    assert use_resident_data(cfg.replace(resident_data=True), torch.device("cpu"))
    assert cfg.replace(resident_data=True, cuda_graph=False).hash() == cfg.hash()  # runtime switches


def test_synthetic_run_with_resident_data_equals_the_dataloader_run(tmp_path):
    cfg = _tiny()
    a = train(cfg, profile="s", experiment="a", store=ResultsStore(tmp_path / "a"), run_dir=tmp_path / "ra")
    b = train(cfg.replace(resident_data=True), profile="s", experiment="a", store=ResultsStore(tmp_path / "b"),
              run_dir=tmp_path / "rb")
    assert a["steps"] == b["steps"] and a["final"] == b["final"]
    assert b["runtime"]["resident_data"] and not a["runtime"]["resident_data"]


class _Steps:
    """A clock that advances one second per reading: the deadline passes after a few steps."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


def test_run_with_resident_augmented_data_resumes_exactly(tmp_path):
    kw = dict(resident_data=True, dropout=0.2, subset=48)  # 6 steps of 8 per epoch
    if HAVE_FMNIST:
        kw.update(dataset="fashion_mnist", input_size=None, epochs=1,
                  augment=("random_crop_32", "random_rotation_15", "hflip", "normalize"))
    cfg = _tiny(**kw)
    ref = train(cfg, profile="s", experiment="a", store=ResultsStore(tmp_path / "ref"), run_dir=tmp_path / "rref")
    store = ResultsStore(tmp_path / "res")
    with pytest.raises(BudgetExhausted):
        train(cfg, profile="s", experiment="a", store=store, run_dir=tmp_path / "runs", deadline=Deadline(4, _Steps()))
    state = load_checkpoint(run_folder(tmp_path / "runs", "s", "a", cfg) / "last.pt")
    assert state["epoch"] == 0 and 0 < state["batch"] < 6  # stopped mid epoch 1 (6 steps)
    got = train(cfg, profile="s", experiment="a", store=store, run_dir=tmp_path / "runs")
    assert got["steps"] == ref["steps"] and got["final"] == ref["final"]
    assert got["epochs"]["train_loss"] == ref["epochs"]["train_loss"]
    w_ref = load_checkpoint(run_folder(tmp_path / "rref", "s", "a", cfg) / "model.pt")
    w_got = load_checkpoint(run_folder(tmp_path / "runs", "s", "a", cfg) / "model.pt")
    assert all(torch.equal(w_ref[k], w_got[k]) for k in w_ref)


@needs_fmnist
def test_fashion_mnist_resident_training_batches_are_augmented_images():
    cfg = _tiny(dataset="fashion_mnist", input_size=None, subset=64, augment=("random_crop_32", "hflip"))
    tr, _, _ = build_resident_loaders(cfg, "cpu")
    tr.sampler.set_epoch(0)
    x, y = next(iter(tr))
    assert x.shape == (8, 1, 32, 32) and y.shape == (8,) and 0 <= x.min() and x.max() <= 1
    tr.sampler.set_epoch(0)
    assert torch.equal(next(iter(tr))[0], x)  # the same batch again
