"""SSIM between blocks (Fig. 2b): msr.analysis.ssim."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from msr.analysis.ssim import block_ssim, plot_ssim_radar, rate_maps, sampling_points, ssim
from msr.models import create_model


def rand_maps(seed, shape=(2, 3, 8, 8)):
    return np.random.default_rng(seed).random(shape)


def test_ssim_of_map_with_itself_is_one():
    a = rand_maps(0)
    s, frac = ssim(a, a)
    assert s == pytest.approx(1.0, abs=1e-12) and frac == 0.0


def test_ssim_agrees_with_skimage_per_channel_and_sample():
    a, b = rand_maps(1, (3, 4, 16, 16)), rand_maps(2, (3, 4, 16, 16))
    ref = np.mean([structural_similarity(a[i, c], b[i, c], data_range=1.0) for i in range(3) for c in range(4)])
    s, _ = ssim(a, b)
    assert s == pytest.approx(ref, abs=1e-12)
    assert s < 0.5  # independent noise is far from identical


def test_small_maps_use_smaller_window():
    a, b = rand_maps(3, (1, 2, 5, 5)), rand_maps(4, (1, 2, 5, 5))
    ref = np.mean([structural_similarity(a[0, c], b[0, c], data_range=1.0, win_size=5) for c in range(2)])
    assert ssim(a, b)[0] == pytest.approx(ref)
    with pytest.raises(ValueError, match="too small"):
        ssim(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))


def test_silent_maps():
    z = np.zeros((1, 2, 8, 8))
    assert ssim(z, z) == (1.0, 1.0)  # scikit-image's convention, kept by "include"
    s, frac = ssim(z, z, silent="exclude")
    assert math.isnan(s) and frac == 1.0
    a = np.zeros((1, 2, 8, 8))
    b = np.zeros((1, 2, 8, 8))
    a[0, 1], b[0, 1] = rand_maps(5, (8, 8)), rand_maps(6, (8, 8))
    only = structural_similarity(a[0, 1], b[0, 1], data_range=1.0)
    assert ssim(a, b, silent="exclude") == (pytest.approx(only), 0.5)
    assert ssim(a, b)[0] == pytest.approx((1.0 + only) / 2)
    with pytest.raises(ValueError, match="valid"):
        ssim(a, b, silent="drop")


def test_ms_identity_blocks_give_ssim_one_and_boundaries_are_skipped():
    # MS blocks with gamma2 = 0 are the identity at initialisation: the lif1 rate maps
    # of consecutive blocks within a stage are identical.
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=14, block="ms", T=2)
    x = torch.randn(2, 3, 32, 32)
    res = block_ssim(m, [x, x[:1]], mode="train")
    # lif1 spikes on each block's input, head_lif on the last block's output: one value per block
    assert res.points == [f"stages.{s}.{b}.lif1" for s in range(3) for b in range(2)] + ["head_lif"]
    assert len(res.ssim) == 6
    # value i is block i's: the downsampling blocks (1, 0) and (2, 0) are 2 and 4
    assert res.ssim[2] is None and res.ssim[4] is None
    for i in (0, 1, 3, 5):
        assert res.ssim[i] == pytest.approx(1.0, abs=1e-12)
        assert res.silent_fraction[i] < 1.0
    assert res.samples == 3
    pooled = block_ssim(m, x, boundary="pool", mode="train")
    assert all(v is not None and -1 <= v <= 1 for v in pooled.ssim)
    assert pooled.ssim[2] < 0.999  # different neurons across a boundary
    # skipped, the boundaries' pooled values are kept apart (same inputs: the same numbers)
    alone = block_ssim(m, x, mode="train")
    assert [v is not None for v in alone.boundary_pooled] == [False, False, True, False, True, False]
    assert alone.boundary_pooled[2] == pytest.approx(pooled.ssim[2]) and pooled.boundary_pooled is None
    d = res.to_dict()
    assert d["ssim"][2] is None and np.isnan(res.values()[2])


def test_vanilla_samples_block_outputs_and_its_values_line_up_with_ms_block_by_block():
    m = create_model("cifar_resnet", depth=14, block="vanilla", T=2)
    # stem_lif spikes on the first block's input, lif_out on each block's output
    assert sampling_points(m)[:2] == ["stem_lif", "stages.0.0.lif_out"]
    assert sampling_points(m, role="lif_out")[0] == "stages.0.0.lif_out"  # a role given: that LIF alone
    maps = rate_maps(m, torch.randn(2, 3, 32, 32), mode="train")
    assert maps["stages.1.0.lif_out"].shape == (2, 32, 16, 16)
    assert all(((v >= 0) & (v <= 1)).all() for v in maps.values())
    res = block_ssim(m, torch.randn(2, 3, 32, 32), mode="train")
    # value i is block i's: the downsampling blocks (1, 0) and (2, 0), at the places MS has them
    skipped = [v is None for v in res.ssim]
    assert skipped == [False, False, True, False, True, False]
    ms = block_ssim(create_model("cifar_resnet", depth=14, block="ms", T=2), torch.randn(2, 3, 32, 32), mode="train")
    assert [v is None for v in ms.ssim] == skipped
    with pytest.raises(ValueError, match="role"):
        sampling_points(create_model("cifar_resnet", depth=8, block="sr_c", T=2))


def test_radar_plot():
    fig, ax = plt.subplots(subplot_kw={"projection": "polar"})
    plot_ssim_radar(ax, {"vanilla": [1.0, None, 0.4, 0.9], "ms": [0.8, 0.7, 0.9]})
    assert len(ax.lines) == 2 and len(ax.get_xticks()) == 4
    plt.close(fig)
    fig, ax = plt.subplots(subplot_kw={"projection": "polar"})  # a boundary's pooled value: a hollow marker
    plot_ssim_radar(ax, {"vanilla": [1.0, None, 0.4, 0.9]}, boundaries={"vanilla": [None, 0.2, None, None]})
    (line, marks) = ax.lines
    assert marks.get_linestyle() == "None" and marks.get_ydata()[1] == 0.2 and ax.get_ylim()[0] == 0.0
    plt.close(fig)
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="polar"):
        plot_ssim_radar(ax, {"x": [1.0]})
    plt.close(fig)
