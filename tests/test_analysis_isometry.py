"""Gradient isometry (Proposition 1): msr.analysis.isometry."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from msr.analysis.isometry import block_isometry, gradient_norms, jacobian_phi, plot_gradient_norms
from msr.models import create_model


def linear_map(singular_values, n_in, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.tensor(singular_values, dtype=torch.float64)
    u, _ = torch.linalg.qr(torch.randn(len(s), len(s), generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(n_in, len(s), generator=g, dtype=torch.float64))
    return u @ torch.diag(s) @ v.T  # [n_out, n_in] with singular values s


def test_known_singular_values():
    s = [3.0, 2.0, 1.0, 0.5, 0.25, 0.0]
    m = linear_map(s, n_in=9)
    x = torch.randn(9, dtype=torch.float64)
    est = jacobian_phi(lambda z: m @ z, x, probes=4000, spread=True, seed=1)
    phi = sum(v**2 for v in s) / 6
    phi2 = sum(v**4 for v in s) / 6
    assert (est["n_in"], est["n_out"]) == (9, 6)
    assert est["phi"] == pytest.approx(phi, rel=0.03)
    assert est["phi2"] == pytest.approx(phi2, rel=0.05)
    assert est["spread"] == pytest.approx(phi2 / phi**2 - 1, rel=0.1)
    assert est["varphi"] == pytest.approx(phi2 - phi**2, rel=0.1)


def test_scaled_orthogonal_map_is_exact_with_one_probe():
    m = 1.7 * linear_map([1.0] * 5, n_in=5, seed=2)
    est = jacobian_phi(lambda z: m @ z, torch.zeros(5, dtype=torch.float64), probes=1, spread=True)
    assert est["phi"] == pytest.approx(1.7**2, rel=1e-12)
    assert est["spread"] == pytest.approx(0.0, abs=1e-12)


def test_ms_blocks_are_isometric_at_initialisation():
    # gamma2 = 0: every MS block is the identity (Proposition 1), phi = 1 and spread = 0
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=14, block="ms", T=2)
    x = torch.randn(2, 3, 32, 32)
    rows = block_isometry(m, x, probes=2, spread=True)
    assert [r["block"] for r in rows] == [f"stages.{s}.{b}" for s in range(3) for b in range(2)]
    for r in rows:
        if r["index"] > 0 or r["stage"] == 0:  # non-downsampling blocks
            assert r["n_in"] == r["n_out"]
            assert r["phi"] == pytest.approx(1.0, abs=1e-9)
            assert r["spread"] == pytest.approx(0.0, abs=1e-9)
        else:
            assert r["n_out"] == r["n_in"] // 2 and r["phi"] > 0
    # a trained-looking MS block (gamma2 != 0) is no longer the identity
    m2 = create_model("cifar_resnet", depth=8, block="ms", T=2, gamma2=1.0)
    assert block_isometry(m2, x, probes=2)[0]["phi"] != pytest.approx(1.0, abs=1e-6)


def test_gradient_norms_pass_identity_blocks_unchanged():
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=14, block="ms", T=2).eval()
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([1, 7])
    before = {k: v.clone() for k, v in m.state_dict().items()}
    norms = gradient_norms(m, x, y)
    assert len(norms) == 6 and all(n > 0 for n in norms)
    # identity blocks pass dL/dx unchanged: the gradient at the input of identity block
    # i equals that at the input of block i + 1; downsampling blocks (1,0), (2,0) change it
    identity_then_next = [(0, 1), (1, 2), (3, 4)]  # blocks (0,0), (0,1), (1,1)
    for i, j in identity_then_next:
        assert norms[i] == pytest.approx(norms[j], rel=1e-6)
    assert norms[2] != pytest.approx(norms[3], rel=1e-3)
    assert all(p.grad is None for p in m.parameters())
    assert not m.training
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_vanilla_and_plot():
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=8, block="vanilla", T=2)
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([0, 3])
    rows = block_isometry(m, x, probes=2)
    assert len(rows) == 3 and all(r["phi"] >= 0 for r in rows)
    norms = gradient_norms(m, x, y)
    fig, ax = plt.subplots()
    plot_gradient_norms(ax, {"vanilla": norms}, stages=[r["stage"] for r in rows])
    assert len(ax.lines) == 1 + 2
    plt.close(fig)
    with pytest.raises(ValueError, match="probes"):
        jacobian_phi(lambda z: z, torch.zeros(2), probes=0)
    with pytest.raises(ValueError, match="mode"):
        gradient_norms(m, x, y, mode="inference")


def test_identity_shortcut_phi_leaves_out_the_stage_starts():
    from msr.analysis.isometry import identity_shortcut_phi

    # blocks 3 and 5 start a stage (strided 1x1 shortcut); block 0 starts the network on an identity
    phi, stages = [2.6, 0.9, 0.95, 1.8, 0.9, 1.7, 1.0], [0, 0, 0, 1, 1, 2, 2]
    assert identity_shortcut_phi(phi, stages) == [2.6, 0.9, 0.95, 0.9, 1.0]
    with pytest.raises(ValueError, match="one entry per block"):
        identity_shortcut_phi([1.0, 1.0], [0])


def test_spread_names_the_lif_backend_it_needs():
    """varphi needs a double backward through the LIF: a model with the fused CPU LIF gets a
    one-line error naming the backend to use, not a traceback from inside the kernel."""
    m = create_model("cifar_resnet", depth=8, block="ms", T=2, lif_backend="cpu")
    with pytest.raises(ValueError, match="lif_backend='reference'"):
        block_isometry(m, torch.randn(2, 3, 32, 32), probes=1, spread=True)
