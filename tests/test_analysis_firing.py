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
    plt.close(fig)
