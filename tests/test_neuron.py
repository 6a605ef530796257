"""The reference LIF (Eq. 1-3): hand-computed sequences, surrogate window, detached reset."""
import pytest
import torch

from msr.neuron import LIF, RectSpike, lif_reference


def seq(*values):
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1)


def test_decay_without_spikes():
    # u0 = 0.3, u1 = 0.25 * 0.3 + 0.1 = 0.175, u2 = 0.25 * 0.175 + 0.4 = 0.44375 (< 0.5)
    out = lif_reference(seq(0.3, 0.1, 0.4))
    assert out.flatten().tolist() == [0.0, 0.0, 0.0]
    # a slightly larger last input crosses: 0.04375 + 0.46 = 0.50375 > 0.5
    assert lif_reference(seq(0.3, 0.1, 0.46)).flatten().tolist() == [0.0, 0.0, 1.0]


def test_hard_reset_after_spike():
    # u0 = 0.6 fires; reset: u1 = 0.25 * 0.6 * 0 + 0.2 = 0.2; u2 = 0.05 + 0.5 = 0.55 fires
    assert lif_reference(seq(0.6, 0.2, 0.5)).flatten().tolist() == [1.0, 0.0, 1.0]
    # without the reset u1 would be 0.15 + 0.4 = 0.55 and fire; with it, u1 = 0.4 does not
    assert lif_reference(seq(0.6, 0.4)).flatten().tolist() == [1.0, 0.0]


def test_tie_at_threshold_does_not_fire():
    # u0 = 0.4, u1 = 0.1 + 0.4 = 0.5 == V_th exactly (binary-exact values)
    assert lif_reference(seq(0.5)).item() == 0.0
    assert lif_reference(seq(0.4, 0.4)).flatten().tolist() == [0.0, 0.0]
    assert lif_reference(seq(0.5 + 2**-20)).item() == 1.0


def test_nonzero_reset_potential():
    # v_reset = 0.2: u1 = tau * (0 + 0.2) + 0.3 = 0.35
    out = lif_reference(seq(0.8, 0.3), v_reset=0.2)
    assert out.flatten().tolist() == [1.0, 0.0]
    out = lif_reference(seq(0.8, 0.46), v_reset=0.2)  # 0.05 + 0.46 = 0.51 fires
    assert out.flatten().tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "u, expected",
    [(0.5, 1.0), (0.0 + 1e-6, 1.0), (1.0 - 1e-6, 1.0), (0.0, 0.0), (1.0, 0.0), (-0.2, 0.0), (1.3, 0.0)],
)
def test_surrogate_window_edges(u, expected):
    x = torch.tensor([u], dtype=torch.float64, requires_grad=True)
    RectSpike.apply(x, 0.5, 1.0).sum().backward()
    assert x.grad.item() == expected  # (1/a) * 1[|u - V_th| < a/2], open interval


def test_surrogate_scales_with_width():
    x = torch.tensor([0.5, 0.8, 0.2], dtype=torch.float64, requires_grad=True)
    RectSpike.apply(x, 0.5, 0.5).sum().backward()  # window |u - 0.5| < 0.25, height 2
    assert x.grad.tolist() == [2.0, 0.0, 0.0]


def test_gradient_flows_through_membrane():
    # I0 = 0.3 (no spike), I1 = 0.3: u1 = 0.375, inside the window -> d o1 / d I0 = tau
    x = seq(0.3, 0.3).requires_grad_()
    lif_reference(x)[1].sum().backward()
    assert x.grad.flatten().tolist() == [0.25, 1.0]


def test_gradient_does_not_flow_through_reset():
    # I0 = 0.6 fires with u0 inside the window.  Through the membrane u1 = tau*u0*(1-o0)
    # = 0, so d o1 / d I0 must be 0; an attached reset would add -tau * u0 * s(u0).
    x = seq(0.6, 0.3).requires_grad_()
    lif_reference(x)[1].sum().backward()
    assert x.grad.flatten().tolist() == [0.0, 1.0]


def test_module_shapes_and_dtype():
    layer = LIF()
    x = torch.randn(4, 2, 3, 5, 5)
    y = layer(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    # batches are independent: no hidden state survives between calls
    assert torch.equal(layer(x), y)


@pytest.mark.parametrize("kwargs", [{"tau": 1.5}, {"tau": -0.1}, {"a": 0.0}, {"backend": "cuda_magic"}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        LIF(**kwargs)


def test_empty_time_axis_rejected():
    with pytest.raises(ValueError, match="T >= 1"):
        lif_reference(torch.zeros(0, 3))


def test_one_default_backend_is_the_reference():
    """``lif``, ``LIF`` and the model spec share one default: the reference autograd graph
    (a stack of per-step spikes), not a fused backend's Function."""
    from msr.blocks import SpikingSpec
    from msr.neuron import DEFAULT_BACKEND, lif

    x = (torch.randn(3, 40, generator=torch.Generator().manual_seed(0)) + 0.3).requires_grad_()
    assert DEFAULT_BACKEND == "reference"
    assert LIF().backend == SpikingSpec().lif_backend == DEFAULT_BACKEND
    out = lif(x)
    assert out.grad_fn.name() == "StackBackward0"
    assert lif(x, backend="cpu").grad_fn.name() != "StackBackward0"
    assert torch.equal(out, lif_reference(x))


def test_backend_validation_and_resolution():
    from msr.neuron import check_backend, lif, resolve_backend

    x = torch.zeros(2, 3)
    assert [resolve_backend(b, x) for b in ("reference", "cpu", "auto")] == ["reference", "cpu", "cpu"]
    assert check_backend("triton") == "triton"
    for bad in (lambda: check_backend("cuda"), lambda: resolve_backend("cuda", x), lambda: lif(x, backend="cuda")):
        with pytest.raises(ValueError, match="unknown LIF backend 'cuda'; valid: reference, cpu, triton, auto"):
            bad()
    with pytest.raises(ValueError, match="floating-point"):
        lif(torch.zeros(2, 3, dtype=torch.int64), backend="cpu")
