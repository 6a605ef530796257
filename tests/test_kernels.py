"""Fused LIF backends against the reference LIF's forward and autograd."""
from __future__ import annotations

import ast
import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from msr import create_model
from msr.bench.authors_baseline import authors_lif, to_authors_execution
from msr.blocks import spike_fed_convs
from msr.kernels.spike_conv import SpikeConv2d
from msr.neuron import LIF, lif, lif_reference, resolve_backend
from msr.speed import prepare_model, set_compact_spikes, set_lif_backend

ROOT = Path(__file__).resolve().parent.parent
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

PARAMS = [
    dict(tau=0.25, v_th=0.5, v_reset=0.0, a=1.0),  # Table VII
    dict(tau=0.9, v_th=0.3, v_reset=-0.2, a=0.5),  # V_reset != 0, narrow window
]


def currents(T, shape, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, *shape, generator=g) * 0.8 + 0.3
    flat = x.view(-1)
    flat[:7] = torch.tensor([0.5, 0.5, 0.0, 1.0, 0.3, -0.2, 0.55])  # exactly at thresholds / window edges
    return x.to(dtype).to(device)


def check_backend(backend, T, shape, dtype, p, device="cpu", seed=0):
    """Spikes bit-identical to lif(backend="reference") and input grads within rounding."""
    x = currents(T, shape, dtype, device, seed)
    xr = x.clone().requires_grad_()
    xk = x.clone().requires_grad_()
    sr = lif(xr, backend="reference", **p)
    sk = lif(xk, backend=backend, **p)
    assert sk.dtype == x.dtype and sk.shape == x.shape
    assert torch.equal(sk, sr), f"{backend}: {(sk != sr).sum().item()} spikes differ"
    g = torch.randn(sr.shape, generator=torch.Generator().manual_seed(seed + 1)).to(dtype).to(device)
    sr.backward(g)
    sk.backward(g)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(xk.grad, xr.grad, **tol)
    assert 0.05 < sr.float().mean().item() < 0.95  # the test exercises both spikes and silence
    return x, sr


@pytest.mark.parametrize("T", [1, 2, 6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("p", PARAMS)
def test_cpu_backend_matches_reference(T, dtype, p):
    check_backend("cpu", T, (3, 4, 5, 6), dtype, p)


def test_reference_low_precision_is_fp32_membrane():
    x = currents(6, (50, 40), torch.bfloat16)
    assert torch.equal(lif(x, backend="reference"), lif_reference(x.float()).to(torch.bfloat16))


def test_backward_formula_on_hand_example():
    """g_t = grad_o_t * w_t / a + tau (1 - o_t) g_{t+1}, worked by hand."""
    x = torch.tensor([[0.8], [0.1], [0.45]], requires_grad=True)  # u = 0.8 (spike), 0.1, 0.475
    s = lif(x, backend="cpu")
    assert s.flatten().tolist() == [1.0, 0.0, 0.0]
    s.backward(torch.ones_like(s))
    # t=2: w=1 -> g2 = 1; t=1: w=0 (|0.1-0.5| = 0.4 < 0.5 -> w=1) -> g1 = 1 + 0.25*1 = 1.25;
    # t=0: w=1, o_0=1 cuts the carry -> g0 = 1
    assert x.grad.flatten().tolist() == pytest.approx([1.0, 1.25, 1.0])


def test_channels_last_and_expanded_inputs():
    T, B, C, H, W = 4, 2, 8, 5, 5
    x4 = (torch.randn(T * B, C, H, W) * 0.8 + 0.3).contiguous(memory_format=torch.channels_last)
    x = x4.unflatten(0, (T, B))
    assert not x.is_contiguous()
    s = lif(x, backend="cpu")
    assert s.stride() == x.stride()  # no layout change for channels-last activations
    assert torch.equal(s, lif_reference(x.contiguous()))
    e = (torch.randn(B, C, H, W) + 0.3).unsqueeze(0).expand(T, B, C, H, W)
    assert torch.equal(lif(e, backend="cpu"), lif_reference(e.contiguous()))


def test_auto_on_cpu_and_validation():
    x = currents(3, (10,))
    assert resolve_backend("auto", x) == "cpu"
    assert torch.equal(lif(x, backend="auto"), lif_reference(x))
    with pytest.raises(ValueError, match="valid: reference, cpu, triton, auto"):
        lif(x, backend="cuda")
    with pytest.raises(ValueError, match="CUDA tensors"):
        lif(x, backend="triton")
    with pytest.raises(ValueError, match="tau"):
        lif(x, tau=1.5, backend="cpu")


def test_cpu_backend_saves_less_than_reference():
    from msr.bench import saved_bytes

    x = currents(6, (64, 256)).requires_grad_()
    _, ref = saved_bytes(lambda: lif(x, backend="reference"))
    _, fast = saved_bytes(lambda: lif(x, backend="cpu"))
    # reference: float membrane + graph per step; cpu: one int8 code per neuron-step
    # (the float spikes are not kept)
    assert fast == x.numel()
    assert fast < ref / 1.5


def test_authors_lif_loop_matches_reference():
    x = currents(6, (30, 20)).requires_grad_()
    y = x.detach().clone().requires_grad_()
    sa, sr = authors_lif(x), lif_reference(y)
    assert torch.equal(sa, sr)
    g = torch.randn_like(sa)
    sa.backward(g)
    sr.backward(g)
    torch.testing.assert_close(x.grad, y.grad)


def test_authors_execution_same_model():
    torch.manual_seed(0)
    m = create_model("cifar_resnet", depth=8, T=3, gamma2=1.0)
    a = to_authors_execution(m)
    x = torch.randn(2, 3, 32, 32)
    lm, la = m(x), a(x)
    torch.testing.assert_close(la, lm, rtol=1e-5, atol=1e-5)
    lm.square().sum().backward()
    la.square().sum().backward()
    for p, q in zip(m.parameters(), a.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_prepare_model_same_result(channels_last):
    torch.manual_seed(0)
    ref = create_model("cifar_resnet", depth=8, T=4, gamma2=1.0)
    fast = prepare_model(create_model("cifar_resnet", depth=8, T=4, gamma2=1.0), channels_last=channels_last,
                         lif_backend="auto")
    fast.load_state_dict(ref.state_dict())
    assert {m.backend for m in fast.modules() if isinstance(m, LIF)} == {"auto"}
    x = torch.randn(2, 3, 32, 32)
    feats_r = ref.features(x)
    xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    feats_f = fast.features(xin)
    assert torch.equal(feats_f, feats_r)  # same spikes through the whole network
    fast(xin).sum().backward()
    ref(x).sum().backward()
    for p, q in zip(ref.parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="unknown LIF backend"):
        set_lif_backend(fast, "fast")


def test_spikingjelly_same_spikes():
    pytest.importorskip("spikingjelly", reason="SpikingJelly not installed (optional: pip install spikingjelly)")
    from msr.bench import spikingjelly_lif

    sj = spikingjelly_lif()
    assert sj is not None, "spikingjelly is installed but its LIFNode could not be built"
    x = torch.randn(6, 64, 1000, generator=torch.Generator().manual_seed(3)) * 0.8 + 0.3
    ours = lif_reference(x)
    theirs = sj(x).to(ours.dtype)
    # SpikingJelly fires at H >= V_th and charges V - V/tau_sj: it can differ from us only
    # where u lies within an ulp of V_th, which random inputs essentially never hit.
    mismatch = (ours != theirs).float().mean().item()
    assert mismatch <= 1e-5, f"{mismatch:.2e} of spikes differ from SpikingJelly"
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    lif_reference(xa).sum().backward()
    sj(xb).sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------- package boundary


def imported_modules(path: Path, package: str = "msr.kernels") -> set[str]:
    """Absolute names of every module ``path`` imports, at the top or inside a function
    (``from msr import neuron`` counts as ``msr`` and ``msr.neuron``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def test_kernels_import_only_themselves_from_msr():
    """The backends sit below the neuron: no module of msr.kernels imports msr.neuron, the
    msr package (whose __init__ imports the neuron) or any other msr module, so the
    neuron can import them without a cycle."""
    files = sorted((ROOT / "msr" / "kernels").glob("*.py"))
    assert {f.stem for f in files} >= {"__init__", "cpu_lif", "triton_lif", "spike_conv", "layout"}
    outside = {f.name: sorted(m for m in imported_modules(f) if (m == "msr" or m.startswith("msr."))
                              and not (m == "msr.kernels" or m.startswith("msr.kernels.")))
               for f in files}
    assert outside == {f.name: [] for f in files}
    assert "msr.neuron" in imported_modules(ROOT / "msr" / "speed.py")  # the checker sees such imports
    assert imported_modules(ROOT / "msr" / "kernels" / "cpu_lif.py") >= {"msr.kernels.layout"}


KERNELS_WITHOUT_NEURON = textwrap.dedent(
    """
    import importlib, sys, types
    msr = types.ModuleType("msr")
    msr.__path__ = [{pkg!r}]  # the package without running msr/__init__.py
    sys.modules["msr"] = msr
    sys.modules["msr.neuron"] = None  # importing the neuron now raises ImportError
    for name in ("msr.kernels", "msr.kernels.layout", "msr.kernels.cpu_lif", "msr.kernels.spike_conv",
                 "msr.kernels.triton_lif"):
        importlib.import_module(name)
    import torch
    from msr.kernels.cpu_lif import lif_cpu
    x = torch.tensor([[0.8], [0.1], [0.45]])  # u = 0.8 (spike), reset to 0.1, 0.475
    assert lif_cpu(x, 0.25, 0.5, 0.0, 1.0).flatten().tolist() == [1.0, 0.0, 0.0]
    loaded = sorted(m for m in sys.modules if m.startswith("msr."))
    assert all(m == "msr.neuron" or m.startswith("msr.kernels") for m in loaded), loaded
    print("KERNELS-OK")
    """
)


def test_kernels_run_with_the_neuron_blocked():
    """In a fresh interpreter where importing msr.neuron fails, every backend module still
    imports and the CPU backend runs: the kernels do not depend on the neuron."""
    code = KERNELS_WITHOUT_NEURON.format(pkg=str(ROOT / "msr"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "KERNELS-OK" in proc.stdout


# ----------------------------------------------------------------- Triton, interpreted


INTERPRETED_CHECK = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from test_kernels import check_backend, PARAMS
    for p in PARAMS:
        for T in (1, 2, 5):
            for dtype in (torch.float32, torch.bfloat16):
                check_backend("triton", T, (3, 700), dtype, p, seed=T)
    # channels-last input takes the no-copy path
    x = (torch.randn(6 * 3, 4, 5, 5) + 0.3).contiguous(memory_format=torch.channels_last).unflatten(0, (6, 3))
    from msr.neuron import lif, lif_reference
    s = lif(x, backend="triton")
    assert s.stride() == x.stride() and torch.equal(s, lif_reference(x.contiguous()))
    print("INTERPRETED-OK")
    """
)


def test_triton_kernel_interpreted():
    """The Triton kernels' logic, run on the CPU by Triton's interpreter (in a subprocess,
    because TRITON_INTERPRET must be set before triton is imported)."""
    pytest.importorskip("triton", reason="triton not installed")
    env = dict(os.environ, TRITON_INTERPRET="1")
    code = INTERPRETED_CHECK.format(root=str(ROOT), tests=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "InterpreterError" in proc.stderr and "AssertionError" not in proc.stderr:
        pytest.skip(f"Triton's interpreter cannot run the kernel here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "INTERPRETED-OK" in proc.stdout


# ----------------------------------------------------------------- GPU


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("T", [1, 2, 6, 8])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("p", PARAMS)
def test_triton_cuda_matches_reference(T, dtype, p):
    check_backend("triton", T, (4, 33, 17, 19), dtype, p, device="cuda", seed=T)


@pytest.mark.gpu
@cuda
def test_triton_cuda_large_and_auto():
    x = currents(6, (2**22 + 5,), device="cuda")
    assert resolve_backend("auto", x) == "triton"
    torch.testing.assert_close(lif(x, backend="auto"), lif_reference(x), rtol=0, atol=0)
    # the cpu backend runs CUDA tensors too and agrees
    assert torch.equal(lif(x, backend="cpu"), lif_reference(x))


@pytest.mark.gpu
@cuda
def test_model_bf16_autocast_same_spikes_across_backends():
    torch.manual_seed(0)
    ref = create_model("cifar_resnet", depth=8, T=4, gamma2=1.0).cuda()
    fast = prepare_model(create_model("cifar_resnet", depth=8, T=4, gamma2=1.0).cuda(), channels_last=True)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(8, 3, 32, 32, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        fr = ref.features(x.contiguous(memory_format=torch.channels_last))
        ff = fast.features(x.contiguous(memory_format=torch.channels_last))
    assert torch.equal(ff, fr)


# ----------------------------------------------------------------- compact spike storage


def _spikes(shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.3).to(dtype)


@pytest.mark.parametrize("mode", ["int8", "bits"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (1, 2)])
def test_spike_conv_same_as_conv(mode, dtype, channels_last, kernel, stride):
    """Forward bit-identical to nn.Conv2d, gradients equal (odd sizes: bits padding)."""
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(5, 7, kernel, stride, padding=kernel // 2, bias=False).to(dtype)
    fast = SpikeConv2d.convert(copy.deepcopy(ref), mode, check=True)
    x = _spikes((6, 5, 9, 11), dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        ref, fast = ref.to(memory_format=torch.channels_last), fast.to(memory_format=torch.channels_last)
    xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    yr, yf = ref(xr), fast(xf)
    assert torch.equal(yf, yr) and yf.stride() == yr.stride()
    g = torch.randn(yr.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    yr.backward(g)
    yf.backward(g)
    torch.testing.assert_close(xf.grad, xr.grad, rtol=0, atol=0)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("numpy_path", [True, False])
def test_pack_spikes_round_trip(numpy_path, monkeypatch):
    """Both packers (numpy on CPU; shifts and sums on CUDA / under compile) restore the
    spikes exactly, with their strides, for sizes that are not multiples of 8."""
    from msr.kernels import spike_conv

    monkeypatch.setattr(spike_conv, "_use_numpy", lambda t: numpy_path)
    for x in (_spikes((3, 5, 7)), _spikes((4, 3, 5, 7)).contiguous(memory_format=torch.channels_last),
              _spikes((2, 3, 4, 5), dtype=torch.bfloat16), _spikes((6, 2, 3, 9)).transpose(1, 3)):
        packed, meta = spike_conv.pack_spikes(x, "bits")
        assert packed.dtype == torch.uint8 and packed.numel() == -(-x.numel() // 8)
        y = spike_conv.unpack_spikes(packed, meta)
        assert torch.equal(y, x) and y.dtype == x.dtype
        if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
            assert y.stride() == x.stride()


@pytest.mark.parametrize("mode", ["int8", "bits"])
def test_spike_conv_under_autocast(mode):
    """bf16 autocast semantics: operands cast as autocast casts them (run on CPU autocast)."""
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(4, 6, 3, padding=1, bias=False)
    fast = SpikeConv2d.convert(copy.deepcopy(ref), mode)
    x = _spikes((3, 4, 8, 8))
    xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yr, yf = ref(xr), fast(xf)
    assert yr.dtype == yf.dtype == torch.bfloat16 and torch.equal(yf, yr)
    yr.float().square().sum().backward()
    yf.float().square().sum().backward()
    assert xf.grad.dtype == torch.float32 and fast.weight.grad.dtype == torch.float32
    torch.testing.assert_close(xf.grad, xr.grad, rtol=0, atol=0)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-6, atol=1e-6)


def test_spike_conv_rejects_non_binary_input():
    conv = SpikeConv2d.convert(torch.nn.Conv2d(2, 3, 3, padding=1, bias=False), "bits")
    x = _spikes((2, 2, 5, 5)).requires_grad_()
    for bad in (0.5, -1.0, 2.0):
        z = x.detach().clone()
        z[0, 0, 0, 0] = bad
        with pytest.raises(ValueError, match="non-binary input"):
            conv(z.requires_grad_())
    conv(x).sum().backward()  # binary: accepted, and later calls skip the check ...
    assert conv._verified
    conv.check = True  # ... unless asked to check every call
    with pytest.raises(ValueError, match="non-binary input"):
        conv(z)
    with torch.no_grad():  # no backward, nothing saved: the plain convolution
        conv(z)
    with pytest.raises(ValueError, match="valid: off, int8, bits"):
        SpikeConv2d.convert(torch.nn.Conv2d(2, 3, 3, bias=False), "uint4")
    with pytest.raises(ValueError, match="bias-free"):
        SpikeConv2d.convert(torch.nn.Conv2d(2, 3, 3), "bits")


@pytest.mark.parametrize("block,shortcut", [(b, "conv") for b in ("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")]
                         + [("vanilla", "avgpool_conv"), ("ms", "avgpool_conv")])
def test_spike_fed_convs_receive_spikes(block, shortcut):
    """The block structure's guarantee, checked on every call: every convolution that
    compact storage is applied to receives binary input, forward and backward work."""
    torch.manual_seed(0)
    model = create_model("cifar_resnet", depth=14, block=block, T=2, gamma2=1.0, shortcut=shortcut,
                         lif_backend="auto")
    convs = spike_fed_convs(model)
    per_block = {"plain": 2, "vanilla": 2, "wolif": 1, "ms": 2, "sr_b": 2, "sr_c": 1}[block]
    down = 2 if block == "vanilla" and shortcut == "conv" else 0  # vanilla shortcut convs read spikes
    assert len(convs) == 6 * per_block + down
    set_compact_spikes(model, "bits", check=True)
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert all(c._verified for c in convs)


def test_compact_spikes_save_fewer_bytes_same_training_step():
    from msr.bench import saved_bytes

    torch.manual_seed(0)
    base = create_model("cifar_resnet", depth=8, T=3, gamma2=1.0)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    results = {}
    for mode in ("off", "int8", "bits"):
        m = prepare_model(copy.deepcopy(base), lif_backend="auto", compact_spikes=mode if mode != "off" else False)
        loss, nbytes = saved_bytes(lambda m=m: torch.nn.functional.cross_entropy(m(x), y))
        loss.backward()
        results[mode] = (nbytes, loss, [p.grad for p in m.parameters()])
    assert results["bits"][0] < results["int8"][0] < results["off"][0]
    for mode in ("int8", "bits"):
        assert torch.equal(results[mode][1], results["off"][1])
        for g, g0 in zip(results[mode][2], results["off"][2], strict=True):
            torch.testing.assert_close(g, g0, rtol=1e-5, atol=1e-6)
    set_compact_spikes(m, "off")
    assert {c.compact for c in spike_fed_convs(m)} == {"off"}


def test_models_compile_without_graph_breaks():
    """torch.compile sees each model as one graph (no graph breaks from the LIF or the
    compact convolutions), so compiling pays off."""
    if not hasattr(torch, "_dynamo"):
        pytest.skip("torch.compile unavailable")
    m = prepare_model(create_model("cifar_resnet", depth=8, T=2), lif_backend="auto", compact_spikes=True)
    explained = torch._dynamo.explain(m)(torch.randn(2, 3, 16, 16))
    assert explained.graph_break_count == 0, [b.reason for b in explained.break_reasons]
