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


def test_table_v_dvs_row_is_counted_per_frame():
    """Sec. IV-C: for event streams T is not a factor of the ratio, and the paper's row is per
    frame: 8.32M SyOPs = 40.11M FLOPs x 0.207 (its SyOPs / FLOPs; T does not appear)."""
    row = TABLE_V["dvs_resnet20"]
    rate = row["syops"] / row["flops"]
    assert round(rate, 3) == 0.207
    e = table_v_row(row["flops"], None, rate, per_frame=True)
    assert e.syops == pytest.approx(row["syops"])
    assert e.e_ann_mj == pytest.approx(row["e_ann_mj"], rel=1e-3)  # 184.51 vs 184.46 uJ
    assert e.e_snn_mj == pytest.approx(row["e_snn_mj"], rel=5e-3)  # 7.49 vs 7.46 uJ (paper rounding)
    assert e.ratio == pytest.approx(row["ratio"], rel=5e-3)  # 24.64 vs 24.73
    assert round(summarize(create_model("dvs_resnet20")).macs_residual / 1e6, 2) == round(row["flops"] / 1e6, 2)
    for T in (1, 10, 20):  # T is not a factor
        assert table_v_row(row["flops"], T, rate, per_frame=True).ratio == e.ratio
    # the SNN side alone per sample (T = 10 frames) would make the ratio ten times too small
    assert table_v_row(row["flops"], 10, rate).ratio == pytest.approx(e.ratio / 10)
    with pytest.raises(ValueError, match="per_frame"):
        table_v_row(row["flops"], None, rate)


def test_measured_event_frames_are_counted_per_frame():
    torch.manual_seed(0)
    m = create_model("dvs_resnet20", block="ms", T=4, input_size=(2, 32, 32))
    frames = (torch.rand(4, 3, 2, 32, 32) > 0.8).float()  # [T, B, C, H, W]
    res = measure_energy(m, frames, mode="train")
    assert res.per_frame and res.T == 4 and res.samples == 3
    assert res.syops_formula == pytest.approx(res.network_rate * res.flops)
    assert res.formula.ratio == pytest.approx(ENERGY_PJ["mac"] / (ENERGY_PJ["ac"] * res.network_rate))
    per_sample = measure_energy(m, frames, mode="train", per_frame=False)
    assert not per_sample.per_frame
    assert per_sample.syops_formula == pytest.approx(4 * res.syops_formula)
    assert per_sample.syops_measured == pytest.approx(4 * res.syops_measured)


def test_static_images_run_at_the_given_T():
    """ResNet-104 is trained at T = 6 and evaluated at T = 5 (Table V): T is an argument."""
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=8, block="ms", T=6)
    res = measure_energy(m, torch.randn(2, 3, 32, 32), T=5, mode="train")
    assert res.T == 5 and not res.per_frame
    assert res.syops_formula == pytest.approx(5 * res.network_rate * res.flops)


def test_report_and_energy_page_count_the_same_syops():
    """The report's Table V rows take a trained model's per-run energy (measured on its own input);
    the energy page multiplies our structure MACs (the model's default input) by the same rate.
    For the DVS model both inputs are the emulated 64x64 sensor, so both must give one number."""
    from msr.chapters.energy import _structure_payload, energy_rows

    torch.manual_seed(0)
    m = create_model("dvs_resnet20")
    frames = (torch.rand(6, 2, *m.input_size) > 0.8).float()
    res = measure_energy(m, frames, mode="train")
    rows = {r["model"]: r for r in energy_rows(_structure_payload(),
                                               {"dvs_resnet20": {"rate": res.network_rate, "T": res.T,
                                                                 "per_frame": res.per_frame}})}
    dvs = rows["dvs_resnet20"]
    assert res.network_rate > 0.01
    assert dvs["our SyOPs (M)"] * 1e6 == pytest.approx(res.syops_formula)
    assert dvs["our E(SNN) mJ"] == pytest.approx(res.formula.e_snn_mj)
    assert dvs["our ratio"] == pytest.approx(res.formula.ratio)
