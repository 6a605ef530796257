"""Blocks and model families (Table I, IX, IV) and their structure (Table IV, V)."""
import json

import pytest
import torch

from msr import create_model, list_models
from msr.blocks import BLOCKS, Block, MSBlock, SpikingSpec, get_block, residual_convs
from msr.cli import main as cli_main
from msr.structure import summarize

SMALL = {  # family -> kwargs for a small, fast instance
    "cifar_resnet": dict(depth=8),
    "dvs_resnet20": dict(input_size=(2, 32, 32)),
    "imagenet_resnet18": dict(num_classes=7),
    "imagenet_resnet34": dict(num_classes=7),
    "imagenet_resnet104": dict(num_classes=7),
}
IMAGE = {"cifar_resnet": (3, 32, 32), "dvs_resnet20": (2, 32, 32)}


def test_registry_lists_every_family():
    assert set(SMALL) == set(list_models())


@pytest.mark.parametrize("family", sorted(SMALL))
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_every_block_runs_on_every_family(family, block):
    torch.manual_seed(0)
    model = create_model(family, block=block, T=2, **SMALL[family])
    size = IMAGE.get(family, (3, 32, 32))
    x = torch.randn(2, *size)
    y = model(x)
    assert y.shape == (2, model.num_classes)
    y.square().sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_ms_block_is_identity_at_init():
    torch.manual_seed(1)
    b = get_block("ms")(16, 16, 1, SpikingSpec())  # gamma2 defaults to 0 (Sec. V-B)
    x = torch.randn(3, 2, 16, 8, 8) * 2
    assert torch.equal(b.train()(x), x)
    assert torch.equal(b.eval()(x), x)


@pytest.mark.parametrize("block", ["ms", "wolif"])
def test_the_membrane_shortcut_keeps_a_small_contribution_under_bf16_autocast(block):
    """A block adding 1e-3 to a membrane of about 3 (bf16 spacing there: 1/64): summed in
    bf16 the contribution would round away; the sum is carried in fp32, as the authors'
    fp32 buffers carry it."""
    blk = get_block(block)(8, 8, 1, SpikingSpec(gamma2=0.0)).eval()
    torch.nn.init.constant_(blk.bn2.bn.bias, 1e-3)  # gamma2 = 0: the path adds exactly its bias
    # [T, B, C, H, W], in bf16 as the stem's BN hands it on under autocast
    x = (3.0 + 0.1 * torch.rand(2, 2, 8, 6, 6)).to(torch.bfloat16)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = blk(x)
    assert out.dtype == torch.float32
    # a bf16 sum would add 0 or 1/64
    assert torch.allclose(out - x.float(), torch.full(x.shape, 1e-3), rtol=0, atol=1e-5)


def test_residual_sum_is_at_least_fp32_and_keeps_wider_types():
    from msr.blocks import residual_sum

    h = torch.ones(3, dtype=torch.bfloat16)
    assert residual_sum(h * 1e-3, h * 3).dtype == torch.float32
    assert residual_sum(h, torch.ones(3, dtype=torch.float64)).dtype == torch.float64
    f = torch.ones(3)
    assert residual_sum(f, f).equal(f + f)


@pytest.mark.parametrize("block", ["sr_b", "sr_c"])
def test_sr_b_and_sr_c_start_as_standard_tdbn(block):
    """Their second BN feeds a LIF: they start as standard TDBN (gamma2 = V_th), not as the
    identity; an explicit gamma2 = 0 still gives the identity (and a dead path)."""
    torch.manual_seed(1)
    b = get_block(block)(16, 16, 1, SpikingSpec())
    assert torch.all(b.bn2.bn.weight == SpikingSpec().v_th) and torch.all(b.bn1.bn.weight == SpikingSpec().v_th)
    x = torch.randn(3, 2, 16, 8, 8) * 2
    assert not torch.equal(b.train()(x), x)
    zero = get_block(block)(16, 16, 1, SpikingSpec(gamma2=0.0))
    assert torch.equal(zero.train()(x), x)


def _path_grads(block: Block) -> dict[str, float]:
    """|gradient| summed per parameter of a block's residual path (the shortcut excluded)."""
    return {n: float(p.grad.abs().sum()) if p.grad is not None else 0.0
            for n, p in block.named_parameters() if not n.startswith("shortcut")}


@pytest.mark.parametrize("family", sorted(SMALL))
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_no_residual_path_is_stuck(family, block):
    """On random data, at initialisation some parameter of every block's residual path gets a
    non-zero gradient (MS: the last BN's gamma, the only live one while gamma2 = 0), and after
    one SGD step every residual conv does.  A path whose LIF sits at u = 0 (SR-B/SR-C with
    gamma2 = 0) gets exactly zero gradient for ever and fails here."""
    torch.manual_seed(0)
    model = create_model(family, block=block, T=2, **SMALL[family])
    x = torch.randn(4, *IMAGE.get(family, (3, 32, 32)))
    y = torch.arange(4) % model.num_classes
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def backward():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()

    backward()
    for i, b in enumerate(model.blocks):
        g = _path_grads(b)
        assert any(v > 0 for v in g.values()), f"block {i}: no gradient anywhere in its residual path"
        if block == "ms":
            assert g["bn2.module.weight"] > 0, f"block {i}: bn2's gamma gets no gradient"
    opt.step()
    backward()
    for i, b in enumerate(model.blocks):
        g = _path_grads(b)
        for conv in ("conv1.module.weight", "conv2.module.weight"):
            assert g[conv] > 0, f"block {i}: {conv} gets no gradient after one step"


def test_vanilla_with_gamma2_zero_passes_no_gradient_through_identity_blocks():
    """The caveat of the gamma2 = 0 ablation (msr.sweep.ablation): an identity vanilla block
    feeds its interblock LIF exactly 0 or 1, the edges of the (strict) surrogate window, so
    at depth 14 (last block an identity block) only the classifier gets a gradient."""
    torch.manual_seed(0)
    model = create_model("cifar_resnet", depth=14, block="vanilla", T=2, gamma2=0.0)
    model(torch.randn(4, 3, 32, 32)).square().sum().backward()
    assert all(v == 0 for b in model.blocks for v in _path_grads(b).values())
    assert model.stem_conv.conv.weight.grad.abs().sum() == 0 and model.fc.weight.grad.abs().sum() > 0


def test_ms_identity_needs_gamma2_zero():
    torch.manual_seed(1)
    b = MSBlock(16, 16, 1, SpikingSpec(gamma2=1.0))
    x = torch.randn(3, 2, 16, 8, 8) * 2
    assert not torch.equal(b(x), x)


def test_gamma_initialisation_tdbn_and_bn():
    ms = MSBlock(8, 8, 1, SpikingSpec(norm="tdbn", gamma1=1.0, gamma2=0.5))
    assert torch.all(ms.bn1.bn.weight == 0.5) and torch.all(ms.bn2.bn.weight == 0.25)  # alpha * V_th
    ms = MSBlock(8, 8, 1, SpikingSpec(norm="bn", gamma1=0.5, gamma2=0.0))
    assert torch.all(ms.bn1.bn.weight == 0.5) and torch.all(ms.bn2.bn.weight == 0.0)
    vanilla = get_block("vanilla")(8, 8, 1, SpikingSpec(norm="bn"))
    assert torch.all(vanilla.bn2.bn.weight == 1.0)


def test_tdbn_statistics_span_time_and_batch():
    b = MSBlock(4, 4, 1, SpikingSpec())
    x = torch.randn(3, 2, 4, 5, 5) + torch.arange(3.0).view(3, 1, 1, 1, 1)  # mean differs per timestep
    b.bn1.bn.momentum = 1.0
    b.train()(x)
    spikes = b.lif1(x).flatten(0, 1)
    expected = b.conv1.conv(spikes).mean(dim=(0, 2, 3))
    torch.testing.assert_close(b.bn1.bn.running_mean, expected)


@pytest.mark.parametrize("depth", [8, 14, 20, 32, 44, 56, 104, 110, 482])
def test_cifar_depths_build_with_6n_plus_2_layers(depth):
    model = create_model("cifar_resnet", depth=depth, block="plain")
    weighted = 1 + len(residual_convs(model)) + 1  # encoding conv + residual convs + FC
    assert weighted == depth
    assert [len(s) for s in model.stages] == [(depth - 2) // 6] * 3


@pytest.mark.parametrize("depth", [33, 7, 0, 21])
def test_invalid_depth(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        create_model("cifar_resnet", depth=depth)


def test_feature_map_sizes_follow_table_i():
    model = create_model("cifar_resnet", depth=20, in_channels=1, T=1)
    shapes = []
    h = model.encode(torch.randn(2, 1, 32, 32), 1)
    for stage in model.stages:
        h = stage(h)
        shapes.append(tuple(h.shape[2:]))
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_imagenet_stages_follow_table_ix():
    model = create_model("imagenet_resnet34", T=1)
    assert [len(s) for s in model.stages] == [3, 4, 6, 3]
    assert [len(s) for s in create_model("imagenet_resnet104").stages] == [3, 8, 32, 8]
    # max-pool replaced by a stride-2 conv at the start of conv2: 224 -> 112 -> 56
    h = model.encode(torch.randn(1, 3, 224, 224), 1)
    assert h.shape[-1] == 112
    assert model.stages[0](h).shape[-1] == 56


def test_dropout_draws_one_mask_for_the_rate_over_time(monkeypatch):
    """Appendix B-B: dropout before the fully-connected layer, on the rate over T (as the
    authors' release does), not a mask per time step."""
    torch.manual_seed(0)
    model = create_model("imagenet_resnet104", T=4).train()
    model.fc = torch.nn.Identity()
    monkeypatch.setattr(model, "features", lambda x, T=None: torch.ones(4, 2, 512, 1, 1))
    out = model(torch.zeros(2, 3, 8, 8))
    assert set(out.unique().tolist()) == {0.0, 1 / 0.8}  # each feature kept or dropped over all T
    from msr.config import TrainConfig  # runs of the per-step masks are not reused; others keep their keys

    assert TrainConfig(dropout=0.2).hash_dict()["definitions"]["head"] == 2
    assert "head" not in TrainConfig().hash_dict()["definitions"]


def test_resnet104_extras():
    model = create_model("imagenet_resnet104")
    assert model.dropout.p == 0.2
    first = model.stages[1][0].shortcut
    kinds = [type(m).__name__ for m in first]
    assert kinds == ["AvgPoolFolded", "Conv", "Norm"]
    assert first[1].conv.stride == (1, 1)
    assert create_model("imagenet_resnet34").stages[1][0].shortcut[0].conv.stride == (2, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(block="resnet"), "valid: plain, vanilla"),
        (dict(T=0), "T"),
        (dict(norm="layernorm"), "valid: tdbn, bn"),
        (dict(taus=0.3), "unknown model argument"),
    ],
)
def test_bad_model_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("cifar_resnet", depth=8, **kwargs)


def test_stage_lists_of_different_lengths_are_refused():
    from msr.models import SpikingResNet

    with pytest.raises(ValueError, match="one entry per stage, got lengths 3, 2, 3"):
        SpikingResNet(blocks_per_stage=[1, 1, 1], widths=[16, 32], strides=[1, 2, 2])


def test_unknown_model_names_valid_ones():
    with pytest.raises(ValueError, match="cifar_resnet"):
        create_model("resnet50")


def test_paper_names_of_registered_models():
    """The book shows the paper's names (Tables II-V) and keeps the registered ones as keys."""
    from msr.models import paper_name

    assert paper_name("cifar_resnet44") == "MS-ResNet44"
    assert paper_name("imagenet_resnet104") == "MS-ResNet104"
    assert paper_name("dvs_resnet20") == "MS-ResNet20 (DVS)"
    assert paper_name("cifar_resnet20 (short run)") == "MS-ResNet20 (short run)"
    for other in ("cifar_resnet", "imagenet_resnetx", "vanilla-20", "ResNet-34"):
        assert paper_name(other) == other
    # every family with a depth in its registered name has a paper name
    assert all(paper_name(n).startswith("MS-ResNet") for n in list_models() if n[-1].isdigit())


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.randn(3, 32, 32), "\\[B, C, H, W\\]"),
        (torch.randn(2, 1, 32, 32), "in_channels=3"),
        (torch.randn(2, 2, 2, 3, 32, 32), "\\[T, B, C, H, W\\]"),
    ],
)
def test_bad_inputs(x, match):
    with pytest.raises(ValueError, match=match):
        create_model("cifar_resnet", depth=8)(x)


def test_bad_T_in_forward():
    model = create_model("cifar_resnet", depth=8)
    with pytest.raises(ValueError, match="T"):
        model(torch.randn(1, 3, 32, 32), T=0)
    with pytest.raises(ValueError, match="disagrees"):
        model(torch.randn(2, 1, 3, 32, 32), T=3)


def test_images_are_repeated_over_time():
    torch.manual_seed(0)
    model = create_model("cifar_resnet", depth=8, T=3).double()
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    frames = x.unsqueeze(0).expand(3, *x.shape).contiguous()
    torch.testing.assert_close(model(x), model(frames))


def test_event_frames_set_T():
    model = create_model("dvs_resnet20", T=6)
    assert model(torch.rand(4, 2, 2, 32, 32)).shape == (2, 10)


def test_T_owns_no_weights():
    torch.manual_seed(0)
    t1 = create_model("cifar_resnet", depth=14, T=1)
    t6 = create_model("cifar_resnet", depth=14, T=6)
    t6.load_state_dict(t1.state_dict())
    x = torch.randn(2, 3, 32, 32)
    t1.eval(), t6.eval()
    torch.testing.assert_close(t6(x, T=1), t1(x))


@pytest.mark.slow
def test_ms_resnet482_forward_backward_cpu():
    model = create_model("cifar_resnet", depth=482, T=1)
    loss = model(torch.randn(1, 3, 32, 32)).logsumexp(1).sum()
    loss.backward()
    assert model.stem_conv.conv.weight.grad.abs().sum() > 0


def test_resnet34_residual_macs_match_table_v():
    s = summarize(create_model("imagenet_resnet34"))
    assert abs(s.macs_residual / 3.53e9 - 1) < 0.005
    # the excluded encoding layer + shortcut downsampling are "4 % of FLOPs"
    assert abs((s.macs_encoding + s.macs_shortcut) / s.macs_total - 0.04) < 0.005


def test_resnet104_residual_macs_match_table_v():
    s = summarize(create_model("imagenet_resnet104"))
    assert abs(s.macs_residual / 11.79e9 - 1) < 0.02


def test_dvs_resnet20_parameters_match_table_iv():
    s = summarize(create_model("dvs_resnet20"))
    assert round(s.params / 1e6, 2) == 0.27
    assert round(s.macs_residual / 1e6, 2) == 40.11  # Table V's CIFAR10-DVS FLOPs


def test_residual_macs_are_per_conv_and_sum():
    s = summarize(create_model("cifar_resnet", depth=8))
    assert set(s.residual_convs) == {f"stages.{i}.0.conv{j}" for i in range(3) for j in (1, 2)}
    assert sum(s.residual_convs.values()) == s.macs_residual
    # stage 1 conv: 16 * 16 * 9 * 32 * 32 MACs
    assert s.residual_convs["stages.0.0.conv1"] == 16 * 16 * 9 * 32 * 32


def test_info_command_json(capsys):
    assert cli_main(["info", "dvs_resnet20", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"] == summarize(create_model("dvs_resnet20")).params
    assert data["input_size"] == [2, 64, 64]


def test_info_command_table_and_errors(capsys):
    assert cli_main(["info", "cifar_resnet", "--depth", "20", "--block", "vanilla"]) == 0
    assert "residual-path" in capsys.readouterr().out
    assert cli_main(["info", "cifar_resnet", "--depth", "33"]) == 2
    assert "6n+2" in capsys.readouterr().err
    assert cli_main(["info", "cifar_resnet", "--input-size", "3x32"]) == 2
    assert cli_main(["info", "nope"]) == 2


def test_blocks_expose_named_parts():
    for name, cls in BLOCKS.items():
        b = cls(8, 16, 2, SpikingSpec())
        assert isinstance(b, Block)
        assert hasattr(b, "conv1") and hasattr(b, "bn2") and hasattr(b, "lif1"), name
