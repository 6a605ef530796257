"""Unavailing residual representation (Eq. 7-8): msr.analysis.unavailing."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from msr.analysis.firing import analysis_mode, record_spikes
from msr.analysis.unavailing import p_state_change, p_state_change_mc, plot_state_changes, state_change_fraction
from msr.models import create_model


@pytest.mark.parametrize("p_fire", [0.0, 0.2, 0.5, 1.0])
def test_eq8_at_paper_setting(p_fire):
    # sigma = V_th = 0.5: both tails are Phi(-1), so P(o=1) does not matter
    p = p_state_change(sigma=0.5, v_th=0.5, p_fire=p_fire)
    assert p == pytest.approx(0.159, abs=1e-3)
    assert p == pytest.approx(0.5 * math.erfc(1 / math.sqrt(2)), abs=1e-12)


@pytest.mark.parametrize("sigma,v_th,p_fire", [(0.5, 0.5, 0.5), (1.0, 0.3, 0.2), (0.3, 0.5, 0.7)])
def test_monte_carlo_agrees(sigma, v_th, p_fire):
    analytic = p_state_change(sigma, v_th, p_fire)
    assert p_state_change_mc(sigma, v_th, p_fire, n=400_000, seed=1) == pytest.approx(analytic, abs=0.005)


def test_eq8_depends_on_firing_when_tails_differ():
    assert p_state_change(1.0, 0.3, 0.0) != pytest.approx(p_state_change(1.0, 0.3, 1.0), abs=1e-3)
    with pytest.raises(ValueError, match="sigma"):
        p_state_change(0.0)
    with pytest.raises(ValueError, match="p_fire"):
        p_state_change(0.5, 0.5, 1.5)


def test_measured_state_changes_match_spikes():
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=14, block="vanilla", T=2)
    x = torch.randn(2, 3, 32, 32)
    rows = state_change_fraction(m, x, mode="train")
    keep = ["stem_lif"] + [f"stages.{s}.{b}.lif_out" for s in range(3) for b in range(2)]
    with torch.no_grad(), analysis_mode(m, "train"), record_spikes(m, keep=keep) as rec:
        m(x)
    outs = [rec.kept(n) for n in keep]
    fs = []  # each block's F (bn2's output), for Eq. 7 on the measured values
    hooks = [m.stages[s][b].bn2.register_forward_hook(lambda mod, a, out: fs.append(out))
             for s in range(3) for b in range(2)]
    with torch.no_grad(), analysis_mode(m, "train"):
        m(x)
    for h in hooks:
        h.remove()
    assert len(rows) == 6
    for i, r in enumerate(rows):
        o_in, o_out = outs[i], outs[i + 1]
        if o_in.shape != o_out.shape:  # downsampling: different neurons
            assert r["changed"] is None
            continue
        assert r["changed"] == pytest.approx(float((o_in != o_out).float().mean()))
        assert r["up"] + r["down"] == pytest.approx(r["changed"])
        assert r["p_fire_in"] == pytest.approx(float(o_in.float().mean()))
        assert r["sigma_f"] > 0 and 0 <= r["eq8"] <= 1
        v_th = m.stages[i // 2][i % 2].lif_out.v_th
        crossed = ((fs[i] + o_in) > v_th) != (o_in == 1)  # F + o on the other side of V_th than o
        assert r["eq8_empirical"] == pytest.approx(float(crossed.float().mean()))
    assert [r["changed"] is None for r in rows] == [False, False, True, False, True, False]
    fig, ax = plt.subplots()
    plot_state_changes(ax, {"vanilla-14": rows}, eq8=p_state_change())
    plt.close(fig)


def test_needs_spiking_blocks():
    with pytest.raises(ValueError, match="vanilla"):
        state_change_fraction(create_model("cifar_resnet", depth=8, block="ms", T=2), torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize(("v_th", "lines"), [(0.5, 1), (0.3, 3)])
def test_eq8_figure_draws_one_closed_form_line_where_the_rates_agree(v_th, lines):
    """At V_th = 0.5 Eq. 8 does not depend on the firing rate: one line, not three on top
    of each other; at another threshold each rate has its own."""
    from msr.render.unavailing import plot_eq8

    grid = [{"sigma": s, "rate": r, "analytic": p_state_change(s, v_th, r), "monte_carlo": p_state_change(s, v_th, r)}
            for s in (0.3, 0.5, 0.8) for r in (0.1, 0.25, 0.5)]
    fig = plot_eq8({"grid": grid})
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert sum(lb.startswith("Eq. 8") for lb in labels) == lines
    assert sum(lb.startswith("Monte-Carlo") for lb in labels) == 3
    plt.close(fig)


def test_state_change_figure_says_what_it_counts_and_in_what_unit():
    from msr.render.unavailing import plot_state_change

    rows = [{"changed": 0.15}, {"changed": 0.16}]
    fig = plot_state_change({"vanilla-20 init": rows}, eq8=p_state_change())
    assert fig.axes[0].get_ylabel() == "firing states the block flips\n(% of neurons × timesteps)"
    plt.close(fig)
