"""Event-camera emulation (msr.events): known answers, frames, seeding and the cache."""
from __future__ import annotations

import math

import numpy as np
import pytest

from msr.data import events_to_frames
from msr.events import EventCache, SaccadeParams, emulate, saccade_path


def _images(n=6, seed=0):
    """Blocky random images (a few 4x4 patches on black), 28x28 uint8."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 7, 7)) * (rng.random((n, 7, 7)) < 0.6)
    return np.kron(small, np.ones((4, 4), dtype=np.int64)).astype(np.uint8)


def test_static_image_gives_no_events():
    imgs = _images()
    ev = emulate(imgs, SaccadeParams(amplitude=0.0))  # the path has no extent: nothing moves
    assert len(ev) == len(imgs) and ev.counts().sum() == 0
    assert emulate(imgs).counts().min() > 0  # the same images under saccades do emit


def test_step_edge_moving_one_pixel():
    """A bright bar (image columns 4-8 of 9, full height) moves one sensor pixel right:
    its trailing edge (sensor column 5) turns dark -> OFF only there, its leading edge
    (column 10) turns bright -> ON only there; every row; ln(1.1 / 0.1) / 0.3 = 7.99
    levels crossed, so 7 or 8 events per pixel as the initial reference lies."""
    img = np.zeros((1, 12, 9), np.uint8)
    img[0, :, 4:] = 255
    p = SaccadeParams(sensor=12, scale=1.0, amplitude=1.0, path=((0, 0), (1, 0)), steps=4, threshold=0.3,
                      threshold_sigma=0.0, eps=0.1)
    ev = emulate(img, p)
    x, y, t, pol = (ev.sample(0)[k].astype(np.int64) for k in ("x", "y", "t", "p"))
    assert set(zip(x[pol == 0], y[pol == 0], strict=True)) == {(5, r) for r in range(12)}
    assert set(zip(x[pol == 1], y[pol == 1], strict=True)) == {(10, r) for r in range(12)}
    per_pixel = np.bincount(y * 12 + x, minlength=144).reshape(12, 12)
    levels = math.log(1.1 / 0.1) / 0.3
    assert set(per_pixel[:, [5, 10]].ravel()) <= {math.floor(levels), math.ceil(levels)}
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() <= 100_000  # sorted, within the one move


def test_closed_path_returns_each_pixel_near_its_reference():
    """Over a closed path a pixel's ON minus OFF count is -1, 0 or 1 (the reference
    moves by C per event and ends within C of where it started)."""
    ev = emulate(_images(3), SaccadeParams(threshold_sigma=0.05))
    for i in range(len(ev)):
        e = ev.sample(i)
        pix = e["y"].astype(np.int64) * 64 + e["x"]
        net = np.bincount(pix, weights=2.0 * e["p"] - 1.0, minlength=64 * 64)
        assert set(np.unique(net)) <= {-1.0, 0.0, 1.0}
        assert np.all(np.diff(e["t"].astype(np.int64)) >= 0)
        assert e["t"].max() <= 300_000


def test_frames_conserve_event_count_and_split_it_equally():
    ev = emulate(_images(2))
    for i in range(2):
        e = ev.sample(i)
        n = len(e["x"])
        f = events_to_frames(e["x"], e["y"], e["p"], T=7, size=64, out_size=64)
        assert f.shape == (7, 2, 64, 64) and f.sum() == n
        per_frame = f.sum(dim=(1, 2, 3))
        assert per_frame.max() - per_frame.min() <= 1  # equal event count per frame
        assert f[:, 1].sum() == int(e["p"].sum())  # ON events in channel 1
        pooled = events_to_frames(e["x"], e["y"], e["p"], T=7, size=64, out_size=32)
        assert pooled.sum() == n


def test_same_seed_same_events_and_samples_independent_of_batch():
    imgs = _images(4)
    a, b = emulate(imgs, SaccadeParams(seed=3)), emulate(imgs, SaccadeParams(seed=3))
    for k in ("x", "y", "t", "p", "offsets"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    c = emulate(imgs, SaccadeParams(seed=4))
    assert not (np.array_equal(a.offsets, c.offsets) and np.array_equal(a.t, c.t))
    one = emulate(imgs[2:3], SaccadeParams(seed=3), ids=[2]).sample(0)  # alone, with its id
    assert all(np.array_equal(one[k], a.sample(2)[k]) for k in ("x", "y", "t", "p"))
    other = emulate(imgs[2:3], SaccadeParams(seed=3), ids=[2], stream=1).sample(0)  # test split: new start
    assert not np.array_equal(other["t"], one["t"]) or not np.array_equal(other["x"], one["x"])


def test_cache_is_reused_and_keyed_by_parameters(tmp_path):
    imgs = _images(7)
    cache = EventCache(tmp_path, imgs, shard=3)
    assert cache.n_shards == 3 and cache.missing() == [0, 1, 2]
    assert cache.ensure([4], log=None) == 1 and cache.missing() == [0, 2]  # only the shard index 4 lives in
    assert cache.ensure(log=None) == 2
    files = sorted(cache.dir.glob("*.npy"))
    mtimes = [f.stat().st_mtime_ns for f in files]
    again = EventCache(tmp_path, imgs, shard=3)
    assert again.dir == cache.dir and again.ensure(log=None) == 0  # reused, nothing converted
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    ref = emulate(imgs[5:6], ids=[5]).sample(0)
    got = again.events(5)
    assert all(np.array_equal(ref[k], got[k]) for k in ("x", "y", "t", "p"))
    other = EventCache(tmp_path, imgs, SaccadeParams(threshold=0.4), shard=3)
    assert other.dir != cache.dir and other.missing() == [0, 1, 2]  # parameters are part of the key
    assert EventCache(tmp_path, imgs[::-1].copy(), shard=3).dir != cache.dir  # so are the images
    assert EventCache(tmp_path, imgs, stream=1, shard=3).dir != cache.dir  # and the split
    other.events(0)  # a read converts the sample's shard, and only it
    assert other.missing() == [1, 2]
    assert not list(tmp_path.rglob(".*.tmp"))  # atomic writes leave no temp files


def test_path_and_parameter_validation():
    offsets, times = saccade_path(SaccadeParams())
    np.testing.assert_allclose(offsets[[0, 8, 16, 24]], [[0, 0], [2, 4], [4, 0], [0, 0]])
    assert times[-1] == 300_000 and len(times) == 25
    with pytest.raises(ValueError, match="threshold must be > 0"):
        SaccadeParams(threshold=0)
    with pytest.raises(ValueError, match="path must be two or more"):
        SaccadeParams(path=((0, 0),))
    with pytest.raises(ValueError, match="does not fit a 32-pixel sensor"):
        emulate(_images(1), SaccadeParams(sensor=32))
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        emulate(np.zeros((2, 3, 4, 5), np.uint8))
