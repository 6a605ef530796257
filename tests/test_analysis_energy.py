"""Energy (Table V): msr.analysis.energy."""
import pytest
import torch

from msr.analysis.energy import energy, measure_energy, syops_from_rate, table_v_row
from msr.analysis.firing import firing_rates
from msr.models import create_model
from msr.paper import ENERGY_PJ, FIRING_RATE, TABLE_V
from msr.structure import summarize

#: The paper's ResNet-104 E(ANN) 54.24 mJ vs 4.6 pJ x 11.79G = 54.234 mJ: rounding of FLOPs.
TOLERANCE = 5e-4  # 0.05 %


def test_table_v_resnet34():
    row = TABLE_V["imagenet_resnet34"]
    counted = summarize(create_model("imagenet_resnet34")).macs_residual
    assert counted == 3_525_967_872  # rounds to the paper's 3.53G
    syops = syops_from_rate(row["flops"], row["T"], FIRING_RATE["imagenet_resnet34"])
    e = energy(counted, syops)
    assert round(e.syops / 1e9, 2) == row["syops"] / 1e9 == 4.77
    assert round(e.e_ann_mj, 2) == row["e_ann_mj"] == 16.22
    assert round(e.e_snn_mj, 2) == row["e_snn_mj"] == 4.29
    assert round(e.ratio, 2) == row["ratio"] == 3.78
    # with 3.53G itself E(ANN) would be 16.24 mJ: the paper used the unrounded count
    assert round(energy(3.53e9, syops).e_ann_mj, 2) == 16.24


def test_table_v_resnet104():
    row = TABLE_V["imagenet_resnet104"]
    e = table_v_row(row["flops"], row["T"], FIRING_RATE["imagenet_resnet104"])
    assert round(e.syops / 1e9, 2) == 11.32
    assert round(e.e_snn_mj, 2) == 10.19
    assert e.e_ann_mj == pytest.approx(54.24, rel=TOLERANCE)
    assert round(e.ratio, 2) == 5.32


def test_energy_constants_are_parameters():
    e = energy(2e9, 1e9, e_mac_pj=1.0, e_ac_pj=0.5)
    assert (e.e_ann_mj, e.e_snn_mj, e.ratio) == (pytest.approx(2.0), pytest.approx(0.5), pytest.approx(4.0))
    assert energy(1e9, 1e9).e_ann_mj == pytest.approx(ENERGY_PJ["mac"])
    with pytest.raises(ValueError, match="firing rate"):
        syops_from_rate(1e9, 6, 1.5)
    with pytest.raises(ValueError, match="T"):
        syops_from_rate(1e9, 0, 0.2)


@pytest.mark.parametrize("name,kw,size", [
    ("cifar_resnet", dict(depth=14), (2, 3, 32, 32)),
    ("dvs_resnet20", dict(), (2, 2, 64, 64)),  # downsampling in the first block
])
def test_conv_macs_match_structure_summary(name, kw, size):
    m = create_model(name, block="ms", T=2, **kw)
    res = measure_energy(m, torch.randn(*size), mode="train")
    ref = summarize(m).residual_convs
    assert res.conv_macs == ref
    assert res.flops == summarize(m).macs_residual


def test_measured_syops_use_input_firing_rates():
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=8, block="ms", T=2)
    x = torch.randn(3, 3, 32, 32)
    res = measure_energy(m, x, mode="train")
    rec = firing_rates(m, x, mode="train")
    rates = rec.layer_rates()
    assert all(res.conv_input_binary.values()) and not res.notes
    for conv, lif in (("conv1", "lif1"), ("conv2", "lif2")):
        for s in range(3):
            assert res.conv_input_rate[f"stages.{s}.0.{conv}"] == pytest.approx(rates[f"stages.{s}.0.{lif}"])
    expected = sum(rates[f"stages.{s}.0.lif{k}"] * 2 * res.conv_macs[f"stages.{s}.0.conv{k}"]
                   for s in range(3) for k in (1, 2))
    assert res.syops_measured == pytest.approx(expected)
    assert res.network_rate == pytest.approx(rec.network_rate())
    assert res.syops_formula == pytest.approx(2 * rec.network_rate() * res.flops)
    assert res.measured.e_snn_mj == pytest.approx(res.syops_measured * 0.9e-9)
    assert res.T == 2 and res.samples == 3
    assert res.to_dict()["measured"]["syops"] == res.syops_measured


def test_non_spiking_conv_inputs_are_flagged():
    m = create_model("cifar_resnet", depth=8, block="wolif", T=2)
    res = measure_energy(m, torch.randn(2, 3, 32, 32), mode="train")
    assert res.conv_input_binary["stages.0.0.conv1"] is True  # the stem LIF's spikes
    assert res.conv_input_binary["stages.1.0.conv1"] is False  # block 0's real-valued output
    assert res.conv_input_binary["stages.1.0.conv2"] is True
    assert res.notes
