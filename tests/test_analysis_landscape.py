"""Loss landscape (Fig. 4): msr.analysis.landscape."""
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from msr.analysis.landscape import (
    Landscape,
    evaluate,
    filter_normalize,
    loss_landscape,
    make_directions,
    plot_landscape,
    random_direction,
)
from msr.models import create_model


def small_model():
    torch.manual_seed(0)
    return create_model("cifar_resnet", depth=8, block="ms", T=2)


def data(n_batches=2, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(b, 3, 32, 32, generator=g), torch.randint(0, 10, (b,), generator=g)) for _ in range(n_batches)]


def filter_norms(t):
    return t.reshape(t.shape[0], -1).norm(dim=1)


def test_filter_normalisation():
    m = small_model()
    d = filter_normalize(random_direction(m, torch.Generator().manual_seed(1)), m)
    n_weights = 0
    for name, p in m.named_parameters():
        if p.dim() >= 2:
            n_weights += 1
            torch.testing.assert_close(filter_norms(d[name]), filter_norms(p.detach()), rtol=1e-5, atol=1e-7)
            assert not torch.allclose(d[name], p.detach())  # a direction, not the weights
        else:  # BN weights/biases, fc bias
            assert torch.count_nonzero(d[name]) == 0, name
    assert n_weights == 1 + 2 * 3 + 2 + 1  # stem, 3 blocks x 2 convs, 2 shortcut convs, fc
    assert "stages.0.0.bn1.module.weight" in d and "fc.bias" in d


def test_directions_orthogonal_and_normalised():
    m = small_model()
    delta, eta = make_directions(m, seed=3)
    dot = sum(float((delta[n].double() * eta[n].double()).sum()) for n in delta)
    norm = sum(float(delta[n].double().pow(2).sum()) for n in delta) ** 0.5
    assert abs(dot) < 1e-6 * norm**2
    for name, p in m.named_parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(filter_norms(eta[name]), filter_norms(p.detach()), rtol=1e-5, atol=1e-7)
    d2, _ = make_directions(m, seed=3)
    assert all(torch.equal(delta[n], d2[n]) for n in delta)  # seeded


def test_origin_is_plain_loss_and_weights_restored():
    m = small_model().train()
    batches = data()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.eval()
    plain_loss, plain_acc = evaluate(m, batches)
    m.train()
    ls = loss_landscape(m, batches, steps=3, span=0.5)
    assert ls.loss.shape == (3, 3) and ls.acc.shape == (3, 3)
    assert ls.alphas[1] == 0.0 and ls.betas[1] == 0.0
    assert ls.loss[1, 1] == pytest.approx(plain_loss, rel=1e-6)
    assert ls.acc[1, 1] == plain_acc
    assert m.training
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_weights_restored_after_failure():
    m = small_model()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    calls = []

    def failing(logits, y, reduction="mean"):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("boom")
        return F.cross_entropy(logits, y, reduction=reduction)

    with pytest.raises(RuntimeError, match="boom"):
        loss_landscape(m, data(1), steps=3, loss_fn=failing)
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_grid_matches_manual_perturbation():
    # A linear classifier: f(alpha, beta) can be recomputed by hand.
    torch.manual_seed(0)
    m = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, y = torch.randn(5, 12), torch.tensor([0, 1, 2, 0, 1])
    delta, eta = make_directions(m, seed=0)
    ls = loss_landscape(m, [(x, y)], alphas=[-1.0, 0.5], betas=[0.0, 2.0], directions=(delta, eta))
    w, b = m[1].weight.detach(), m[1].bias.detach()
    for j, beta in enumerate([0.0, 2.0]):
        for i, alpha in enumerate([-1.0, 0.5]):
            wp = w + alpha * delta["1.weight"] + beta * eta["1.weight"]
            ref = F.cross_entropy(x @ wp.T + b, y)  # bias direction is zero
            assert ls.loss[j, i] == pytest.approx(float(ref), rel=1e-6)
    assert ls.loss.std() > 0
    back = Landscape.from_dict(json.loads(json.dumps(ls.to_dict())))
    assert (back.loss == ls.loss).all() and back.alphas.tolist() == [-1.0, 0.5]
    fig, ax = plt.subplots()
    plot_landscape(ax, ls.to_dict(), levels=5)
    plt.close(fig)


def test_bad_arguments():
    m = small_model()
    with pytest.raises(ValueError, match="list"):
        loss_landscape(m, [], steps=3)
    with pytest.raises(ValueError, match="steps"):
        loss_landscape(m, data(1), steps=0)
