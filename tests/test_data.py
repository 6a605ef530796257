"""Data sets, transforms, subsets, event frames and the resumable sampler."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from msr import data
from msr.data import (
    DATASETS,
    EpochSampler,
    MissingDataError,
    Synthetic,
    build_datasets,
    build_loaders,
    events_to_frames,
    make_transform,
    take_subset,
)

from conftest import needs_fmnist


@needs_fmnist
def test_fashion_mnist_is_padded_to_32(tiny):
    cfg = tiny(dataset="fashion_mnist", subset=None, test_subset=None, batch_size=100,
               augment=("random_crop_32", "normalize"))
    train, test, info = build_loaders(cfg)
    assert info["n_train"] == 60000 and info["n_test"] == 10000
    assert info["in_channels"] == 1 and info["num_classes"] == 10 and info["input_size"] == [1, 32, 32]
    x, y = next(iter(test))
    assert x.shape == (100, 1, 32, 32) and x.dtype == torch.float32
    # pad 2: the border rows are the padding value (0 before Normalize)
    raw = make_transform("fashion_mnist", False, (), 32)(test.dataset.images[0])
    assert raw.shape == (1, 32, 32) and raw[:, :2].abs().sum() == 0 and raw[:, :, -2:].abs().sum() == 0
    assert y.min() >= 0 and y.max() <= 9


def test_unknown_dataset_names_the_valid_ones(tiny):
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*fashion_mnist.*cifar10_dvs"):
        build_loaders(tiny(dataset="mnist"))


@pytest.mark.parametrize("name,where", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"),
                                        ("imagenet", "imagenet/train"), ("cifar10_dvs", "cifar10_dvs")])
def test_missing_data_says_where_to_put_it(tiny, tmp_path, name, where):
    with pytest.raises(MissingDataError, match=where) as err:
        build_loaders(tiny(dataset=name, data_root=str(tmp_path)))
    assert str(tmp_path) in str(err.value)


def test_missing_fashion_mnist(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FMNIST", tmp_path / "nothing")
    monkeypatch.delenv("MSR_FMNIST_DIR", raising=False)
    with pytest.raises(MissingDataError, match="dataset-fashion-mnist.*train-images-idx3-ubyte.gz"):
        build_loaders(tiny(dataset="fashion_mnist", data_root=str(tmp_path)))


def test_read_idx_roundtrip(tmp_path):
    import gzip

    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with gzip.open(tmp_path / "x-idx3-ubyte.gz", "wb") as f:
        f.write(header + arr.tobytes())
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x-idx3-ubyte.gz"), arr)
    (tmp_path / "bad").write_bytes(header + arr.tobytes()[:5])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "bad")


def test_table_viii_and_x_transforms():
    torch.manual_seed(0)
    img = torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
    t6 = make_transform("cifar10", True, ("random_crop_32", "random_rotation_15", "hflip", "normalize"), 32)
    names = [type(t).__name__ for t in t6.transforms]
    assert names[1:4] == ["RandomCrop", "RandomRotation", "RandomHorizontalFlip"] and names[-1] == "Normalize"
    assert t6(img).shape == (3, 32, 32)
    assert not torch.equal(t6(img), t6(img))  # random
    tx = make_transform("imagenet", True, ("random_resized_crop_224", "autoaugment", "normalize"), 64)
    assert [type(t).__name__ for t in tx.transforms][1:3] == ["RandomResizedCrop", "AutoAugment"]
    assert tx(torch.randint(0, 255, (3, 80, 90), dtype=torch.uint8)).shape == (3, 64, 64)
    ev = make_transform("imagenet", False, ("normalize",), 64)(torch.randint(0, 255, (3, 80, 90), dtype=torch.uint8))
    assert ev.shape == (3, 64, 64)
    with pytest.raises(ValueError, match="unknown augmentation.*random_crop_32"):
        make_transform("cifar10", True, ("cutout",), 32)


def test_events_to_frames_by_equal_event_count():
    # 6 events, T = 3 -> 2 events per frame; polarity -> channel; 128 -> 64 sums 2x2 blocks
    x = np.array([0, 1, 127, 126, 10, 10])
    y = np.array([0, 1, 127, 127, 20, 21])
    p = np.array([1, 1, 0, 0, 1, 0])
    f = events_to_frames(x, y, p, T=3)
    assert f.shape == (3, 2, 64, 64) and f.sum() == 6
    assert f[0, 1, 0, 0] == 2  # two ON events in the same 2x2 block
    assert f[1, 0, 63, 63] == 2
    assert f[2, 1, 10, 5] == 1 and f[2, 0, 10, 5] == 1


def _write_events(root, classes=2, per_class=10, seed=0):
    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / "cifar10_dvs" / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            n = 500
            x = rng.integers(0, 64, n) + 64 * c  # class c lives in its own half of the sensor
            np.savez(root / "cifar10_dvs" / f"class{c}" / f"{i:03d}.npz", x=x, y=rng.integers(0, 128, n),
                     t=np.sort(rng.integers(0, 10**6, n)), p=rng.integers(0, 2, n))


def test_cifar10_dvs_folder(tiny, tmp_path):
    _write_events(tmp_path)
    cfg = tiny(dataset="cifar10_dvs", model="dvs_resnet20", data_root=str(tmp_path), T=4, batch_size=4,
               subset=None, test_subset=None)
    train, test, info = build_loaders(cfg)
    assert info["n_train"] == 18 and info["n_test"] == 2 and info["time_first"]
    assert info["in_channels"] == 2 and info["input_size"] == [2, 64, 64] and info["num_classes"] == 2
    x, y = next(iter(train))
    assert x.shape == (4, 4, 2, 64, 64)  # [B, T, 2, H, W]; the loop makes it time-first
    assert torch.allclose(x.sum(dim=(2, 3, 4)), torch.full((4, 4), 125.0))  # 500 events / T


def test_class_ordered_data_sets_are_sampled_at_random_never_by_their_first_files(tiny, tmp_path):
    """CIFAR10-DVS and ImageNet list their files class by class: a test subset and the
    analyses' inputs are a seeded random draw (several classes), a training subset must
    ask for one."""
    from msr import per_run

    _write_events(tmp_path, classes=4, per_class=10)  # 9 training files and 1 test file per class
    cfg = tiny(dataset="cifar10_dvs", model="dvs_resnet20", data_root=str(tmp_path), T=2, subset=None,
               test_subset=None)
    _, te, _ = build_datasets(cfg)
    first_labels = [int(te[i][1]) for i in range(min(2, len(te)))]
    _, y = per_run.analysis_batch(cfg, 12, train_split=True)
    assert len(set(y.tolist())) >= 3, y  # the first 12 training files are classes 0 and 1 only
    assert per_run.item_config("firing", "dvs", cfg, "smoke")["inputs"] == per_run.INPUTS_DRAWN
    assert torch.equal(per_run.analysis_batch(cfg, 12, train_split=True)[1], y)  # seeded: the same draw
    assert first_labels == sorted(first_labels)
    _, te2, _ = build_datasets(cfg.replace(test_subset=2))
    assert len(te2) == 2
    with pytest.raises(ValueError, match="subset_mode='random'"):
        build_datasets(cfg.replace(subset=8))
    build_datasets(cfg.replace(subset=8, subset_mode="random"))
    fm = tiny()  # synthetic: its first samples, as before
    assert per_run.item_config("firing", "short", fm, "smoke")["inputs"] == per_run.INPUTS


def test_a_changed_analysis_definition_has_its_own_keys(tiny):
    """state_change 2 added eq8_empirical: its stored results of version 1 are not reused;
    the analyses still at version 1 keep the keys their stored results have."""
    from msr import per_run
    from msr.analysis.unavailing import VERSION

    cfg = tiny(block="vanilla")
    assert per_run.item_config("state_change", "table2", cfg, "smoke")["version"] == VERSION == 2
    assert "version" not in per_run.item_config("firing", "table2", cfg, "smoke")


def test_subsets_first_and_random():
    ds = Synthetic(50)
    first = take_subset(ds, 10)
    assert first.indices == list(range(10))
    r1, r2 = take_subset(ds, 10, "random", 3), take_subset(ds, 10, "random", 3)
    assert r1.indices == r2.indices != list(range(10)) and len(set(r1.indices)) == 10
    with pytest.raises(ValueError, match="first, random"):
        take_subset(ds, 10, "middle")


def test_synthetic_is_deterministic_and_learnable():
    a, b = Synthetic(64, seed=1), Synthetic(64, seed=1)
    assert torch.equal(a.images, b.images)
    # nearest class mean classifies the test split almost perfectly: learnable
    te = Synthetic(64, train=False, seed=1)
    means = torch.stack([a.images[a.targets == c].mean(0) for c in range(10) if (a.targets == c).any()])
    classes = [c for c in range(10) if (a.targets == c).any()]
    pred = torch.tensor(classes)[torch.cdist(te.images.flatten(1), means.flatten(1)).argmin(1)]
    assert (pred == te.targets).float().mean() > 0.8


def test_epoch_sampler_resume_and_shards():
    full = list(EpochSampler(40, 8, shuffle=True, seed=5))
    assert sorted(full) == list(range(40)) and full != list(range(40))
    s = EpochSampler(40, 8, shuffle=True, seed=5)
    s.set_epoch(0, start_batch=2)
    assert list(s) == full[16:]
    s.set_epoch(1)
    assert list(s) != full  # a new order each epoch
    ranks = [EpochSampler(40, 8, shuffle=True, seed=5, rank=r, world_size=2) for r in range(2)]
    shards = [list(r) for r in ranks]
    for k in range(5):  # global batch k = union of both ranks' k-th local batch
        assert sorted(shards[0][4 * k:4 * k + 4] + shards[1][4 * k:4 * k + 4]) == sorted(full[8 * k:8 * k + 8])
    assert len(EpochSampler(42, 8, shuffle=True)) == 40  # drop_last


def test_all_datasets_listed():
    assert set(DATASETS) == {"fashion_mnist", "cifar10", "cifar100", "imagenet", "cifar10_dvs", "fashion_mnist_dvs",
                             "synthetic_dvs", "synthetic"}


def test_one_shape_table_for_data_and_models(tiny):
    """msr.data.SHAPES is what a model is built for, with and without the data: every data
    set has a row, the event rows match the emulated sensor and the frame binning, the
    crop and the synthetic size follow input_size, and what build_datasets reports."""
    from msr.events import SaccadeParams
    from msr.train import model_info

    assert set(data.SHAPES) == set(DATASETS)
    sensor = SaccadeParams().sensor
    assert data.SHAPES["fashion_mnist_dvs"][0] == data.SHAPES["synthetic_dvs"][0] == (2, sensor, sensor)
    assert events_to_frames(np.zeros(1, int), np.zeros(1, int), np.zeros(1, int), 1).shape[1:] == \
        data.SHAPES["cifar10_dvs"][0]
    assert data.data_shape(tiny(dataset="imagenet", input_size=(3, 64, 64))) == ((3, 64, 64), 1000, False)
    assert data.data_shape(tiny(dataset="imagenet")) == ((3, 224, 224), 1000, False)
    assert model_info(tiny(dataset="synthetic", input_size=(1, 16, 16)))["input_size"] == (1, 16, 16)
    for cfg in (tiny(), tiny(input_size=(3, 8, 8))):
        _, _, info = data.build_datasets(cfg)
        mi = model_info(cfg)
        assert (info.in_channels, info.num_classes, info.input_size) == \
            (mi["in_channels"], mi["num_classes"], mi["input_size"])
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; valid: fashion_mnist"):
        data.data_shape(tiny(dataset="mnist"))


def test_synthetic_dvs_through_the_emulator_and_the_frame_binning(tiny, tmp_path):
    from msr.train import model_info

    cfg = tiny(dataset="synthetic_dvs", model="dvs_resnet20", data_root=str(tmp_path), T=5, batch_size=4,
               subset=8, test_subset=4, augment=("hflip",))
    train, test, info = build_loaders(cfg)
    assert info["time_first"] and info["in_channels"] == 2 and info["input_size"] == [2, 64, 64]
    assert (info["n_train"], info["n_test"], info["num_classes"]) == (8, 4, 10)
    mi = model_info(cfg)
    assert (mi["in_channels"], mi["num_classes"], list(mi["input_size"])) == (2, 10, [2, 64, 64])
    ds = test.dataset
    assert len(list((tmp_path / "synthetic_dvs").rglob("*.offsets.npy"))) == 2  # train and test, converted once
    for i in range(4):
        frames, _ = ds[i]
        n = len(ds.cache.events(i)["x"])
        assert n > 0 and frames.shape == (5, 2, 64, 64) and frames.sum() == n  # every event in one frame
    x, y = next(iter(train))
    assert x.shape == (4, 5, 2, 64, 64)
    # the same names build the same data (seeded, cached)
    again = build_loaders(cfg)[1].dataset
    assert torch.equal(again[3][0], ds[3][0])


@needs_fmnist
def test_fashion_mnist_dvs_has_the_fashion_mnist_labels(tiny, tmp_path):
    cfg = tiny(dataset="fashion_mnist_dvs", model="dvs_resnet20", data_root=str(tmp_path), T=10, batch_size=4,
               subset=4, test_subset=4)
    train, test, info = build_loaders(cfg)
    assert info["n_train"] == 4 and info["input_size"] == [2, 64, 64] and info["num_classes"] == 10
    plain = data.fashion_mnist(tmp_path, False, None)
    frames, label = test.dataset[0]
    assert label == int(plain.targets[0]) and frames.shape == (10, 2, 64, 64) and frames.sum() > 1000
    assert data.describe_dataset("fashion_mnist_dvs") == "emulated Fashion-MNIST events (saccades)"
