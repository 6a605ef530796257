"""Firing patterns (Fig. 3): msr.analysis.firing."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from msr.analysis.firing import firing_rates, lif_names, plot_block_rates, plot_raster, record_spikes, spike_raster
from msr.models import create_model
from msr.neuron import LIF


class Flip(nn.Module):
    def forward(self, o):
        return 1.0 - o


def hand_net():
    """LIF -> 1 - o -> LIF.  Binary input currents pass a LIF unchanged (u_t = x_t after a
    reset or from rest), so the first layer's spikes equal the input, the second's 1 - input."""
    return nn.Sequential(LIF(), Flip(), LIF())


def test_binary_input_passes_lif_unchanged():
    x = (torch.rand(5, 3, 7, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    assert torch.equal(LIF()(x), x)


def test_hand_built_net_rates_exact():
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(4, 2, 5, generator=g) < 0.35).float()  # [T, B, N]
    k = int(x.sum())
    net = hand_net()
    with record_spikes(net) as rec:
        net(x)
    rates = rec.layer_rates()
    assert list(rates) == ["0", "2"]
    assert rates["0"] == k / x.numel()
    assert rates["2"] == (x.numel() - k) / x.numel()
    assert rec.network_rate() == 0.5  # k + (n - k) spikes over 2n neuron-steps
    c = rec.counts["0"]
    assert (c.T, c.neurons, c.elements, c.spikes) == (4, 5, 40, k)


def test_counts_accumulate_over_batches():
    net = hand_net()
    x1 = torch.ones(2, 1, 3)
    x2 = torch.zeros(2, 3, 3)
    rec = firing_rates(net, [x1, x2])
    assert rec.layer_rates()["0"] == pytest.approx(6 / 24)
    assert rec.counts["0"].elements == 24


@pytest.mark.parametrize("block,roles", [("ms", {"lif1", "lif2"}), ("vanilla", {"lif1", "lif_out"})])
def test_hooks_leave_outputs_unchanged_and_are_removed(block, roles):
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=14, block=block, T=2)
    x = torch.randn(3, 3, 32, 32)
    m.train()  # batch statistics: spikes everywhere, a stronger test than silent eval nets
    ref = m(x)
    with record_spikes(m, keep=lif_names(m)) as rec:
        out = m(x)
    assert torch.equal(out, ref)
    assert all(not mod._forward_hooks for mod in m.modules())
    # network rate = all kept spikes / all kept neuron-steps
    total = sum(float(rec.kept(n).sum()) for n in lif_names(m))
    elems = sum(rec.kept(n).numel() for n in lif_names(m))
    assert rec.network_rate() == pytest.approx(total / elems, rel=1e-12)
    assert 0 < rec.network_rate() < 1
    blocks = rec.block_rates()
    assert [b["block"] for b in blocks] == [f"stages.{s}.{i}" for s in range(3) for i in range(2)]
    for b in blocks:
        assert set(b) - {"block", "stage", "index"} == roles
        for role in roles:
            assert b[role] == pytest.approx(float(rec.kept(f"{b['block']}.{role}").float().mean()))
    for st in rec.stage_rates():
        names = [f"stages.{st['stage']}.{i}.{r}" for i in range(2) for r in roles]
        pooled = sum(float(rec.kept(n).sum()) for n in names) / sum(rec.kept(n).numel() for n in names)
        assert st["all"] == pytest.approx(pooled)
    d = rec.to_dict()
    assert d["network_rate"] == rec.network_rate() and len(d["blocks"]) == 6


def test_train_mode_restores_bn_statistics_and_mode():
    m = create_model("cifar_resnet", depth=8, block="ms", T=2).eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    rec = firing_rates(m, torch.randn(2, 3, 32, 32), mode="train")
    assert rec.network_rate() > 0
    assert not m.training
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_unknown_names_are_rejected():
    m = create_model("cifar_resnet", depth=8, block="ms", T=2)
    with pytest.raises(ValueError, match="valid"):
        with record_spikes(m, keep=["stages.0.0.lif_out"]):
            pass
    with pytest.raises(ValueError, match="mode"):
        firing_rates(m, torch.randn(1, 3, 32, 32), mode="test")


def test_spike_raster_layout():
    T, S, N = 3, 2, 4
    spikes = torch.zeros(T, S, N, dtype=torch.uint8)
    spikes[1, 0, 2] = 1
    spikes[2, 1, 0] = 1
    r = spike_raster(spikes, neurons=N)
    assert r.shape == (N, S * T) and r.dtype == np.uint8
    assert r.sum() == 2 and r[2, 0 * T + 1] == 1 and r[0, 1 * T + 2] == 1
    sub = spike_raster(torch.ones(2, 5, 3, 8, 8), neurons=100, samples=2, seed=3)
    assert sub.shape == (100, 4) and sub.all()
    with pytest.raises(ValueError, match="neurons"):
        spike_raster(spikes, neurons=N + 1)


def test_plots_draw():
    m = create_model("cifar_resnet", depth=8, block="vanilla", T=2)
    keep = ["stem_lif", "stages.0.0.lif1", "stages.0.0.lif_out"]
    rec = firing_rates(m, torch.randn(2, 3, 32, 32), keep=keep, mode="train")
    rasters = {n: spike_raster(rec.kept(n), neurons=100) for n in keep}
    fig, (a1, a2) = plt.subplots(1, 2)
    plot_raster(a1, rasters, T=2)
    assert sum(len(c.get_offsets()) for c in a1.collections) == sum(int(r.sum()) for r in rasters.values())
    plot_block_rates(a2, rec.block_rates())
    assert len(a2.lines) >= 2
    fig.canvas.draw()  # a 3-block network: ticks at whole blocks only (no 1.25)
    assert all(float(t).is_integer() for t in a2.get_xticks())
    plt.close(fig)


def test_raster_title_follows_the_arrays_shape():
    from msr.render.firing import raster_title

    three = {f"l{i}": np.zeros((100, 4 * 3), np.uint8) for i in range(3)}
    assert raster_title(three, T=3) == "100 neurons per layer, 3 layers, 4 samples"
    assert raster_title({"a": np.zeros((64, 5), np.uint8)}) == "64 neurons per layer, 1 layer"
    mixed = {"a": np.zeros((100, 4), np.uint8), "b": np.zeros((36, 4), np.uint8)}
    assert raster_title(mixed, T=2) == "100/36 neurons per layer, 2 layers, 2 samples"
    assert raster_title({}) == "no spike raster stored"


def test_raster_has_no_grid_and_strong_sample_boundaries():
    import matplotlib as mpl

    from msr.render.firing import plot_firing

    T, samples = 4, 3
    kept = ["stages.0.0.lif1", "stages.1.1.lif2", "stages.2.2.lif2"]
    rng = np.random.default_rng(0)
    rasters = {f"cifar_resnet20__{j}": (rng.random((100, samples * T)) < 0.2).astype(np.uint8) for j in range(3)}
    blocks = [{"block": f"stages.{s}.{b}", "stage": s, "index": b, "lif1": 0.2, "lif2": 0.1}
              for s in range(3) for b in range(3)]
    model = {"blocks": blocks, "network_rate": 0.2, "kept": kept, "T": T}
    with mpl.rc_context({"axes.grid": True}):  # the book's style draws grids
        fig = plot_firing({"cifar_resnet20": model}, rasters)
    rates, raster = fig.axes
    assert "spikes of\n100 neurons per layer, 3 layers, 3 samples" in raster.get_title()
    assert not any(line.get_visible() for line in raster.get_xgridlines() + raster.get_ygridlines())
    assert [t.get_text() for t in raster.get_yticklabels()] == [
        "stage 1, block 1, LIF 1", "stage 2, block 2, LIF 2", "stage 3, block 3, LIF 2"]
    assert [t.get_text() for t in rates.get_legend().get_texts()] == ["LIF 1", "LIF 2"]
    vertical = [ln for ln in raster.lines if ln.get_xdata()[0] == ln.get_xdata()[1]]  # axvline
    horizontal = [ln for ln in raster.lines if ln.get_ydata()[0] == ln.get_ydata()[1]]  # axhline
    assert sorted(ln.get_xdata()[0] for ln in vertical) == [T - 0.5, 2 * T - 0.5]  # the sample boundaries
    assert len(horizontal) == 2  # between the 3 layers
    gridwidth = mpl.rcParams["grid.linewidth"]
    assert all(ln.get_linewidth() > max(gridwidth, *(h.get_linewidth() for h in horizontal)) for ln in vertical)
    assert all(ln.get_linestyle() == "--" for ln in vertical)
    assert "dashed lines separate the samples" in raster.get_xlabel()
    plt.close(fig)


def test_raster_counts_timesteps_per_sample_and_titles_stay_short():
    """Four samples of T = 6: ticks read 1 ... 6 four times, the samples are named above the
    raster, and the rates' title needs no third line."""
    from msr.render.firing import plot_firing

    T, samples = 6, 4
    kept = ["stages.0.0.lif1"]
    rasters = {"cifar_resnet20__0": np.zeros((10, samples * T), np.uint8)}
    blocks = [{"block": "stages.0.0", "stage": 0, "index": 0, "lif1": 0.2, "lif2": 0.1}]
    fig = plot_firing({"cifar_resnet20": {"blocks": blocks, "network_rate": 0.2, "kept": kept, "T": T}}, rasters)
    rates, raster = fig.axes
    assert [t.get_text() for t in raster.get_xticklabels()] == [str(t) for t in range(1, T + 1)] * samples
    top = raster.child_axes[0]
    assert [t.get_text() for t in top.get_xticklabels()] == [f"sample {k}" for k in range(1, samples + 1)]
    assert f"1 … {T} per sample" in raster.get_xlabel()
    assert rates.get_title().count("\n") == 1 and "and LIF" not in rates.get_title()
    plt.close(fig)


@pytest.mark.parametrize("name, kw", [("cifar_resnet", {"depth": 8, "block": "ms"}),
                                      ("cifar_resnet", {"depth": 8, "block": "vanilla"}),
                                      ("cifar_resnet", {"depth": 8, "block": "plain"}),
                                      ("cifar_resnet", {"depth": 8, "block": "sr_b"})])
def test_layer_label_names_every_module_of_a_real_model_in_the_papers_words(name, kw):
    from msr.structure import layer_label

    m = create_model(name, **kw)
    names = [n for n, _ in m.named_modules() if n and n != "stages"]
    labels = {n: layer_label(n) for n in names}
    assert not [lab for lab in labels.values() if "stages." in lab or "lif" in lab or "stem" in lab]
    assert layer_label("stages.1.1.lif2") == "stage 2, block 2, LIF 2"
    assert layer_label("stages.1.2") == "stage 2, block 3"
    assert layer_label("stem_lif") == "encoding LIF" and layer_label("lif1") == "LIF 1"
    # every LIF the firing analyses record and every block the state-change rows name
    lifs = {layer_label(n) for n in lif_names(m)}
    assert len(lifs) == len(lif_names(m))  # distinct names stay distinct
    blocks = [f"stages.{s}.{b}" for s, st in enumerate(m.stages) for b in range(len(st))]
    assert [layer_label(b) for b in blocks] == [f"stage {s + 1}, block {b + 1}"
                                              for s, st in enumerate(m.stages) for b in range(len(st))]
    assert layer_label("stages.0.0.weird") == "stages.0.0.weird" and layer_label("fc2") == "fc2"  # unknown: itself
