"""CUDA-graph training steps (msr.speed.GraphedStep) in the training loop: the same
losses and weights as the eager loop within bf16 tolerance (CUDA only), and the switch is
ignored on a CPU."""
from __future__ import annotations

import pytest
import torch

from msr.results import ResultsStore, load_checkpoint
from msr.runs import run_folder
from msr.train import TrainConfig, train, use_cuda_graph

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture
def deterministic_cudnn(monkeypatch):
    """cuDNN may pick weight-gradient algorithms that accumulate with atomics, so that two
    eager runs differ in their last bits, and a spiking network turns such bits into flipped
    spikes.  With deterministic algorithms the eager and the graphed step run the same kernels
    on the same numbers, so a difference between them is the graph's doing."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)


def _cfg(**kw):
    base = dict(depth=8, dataset="synthetic", input_size=(1, 16, 16), T=2, epochs=2, batch_size=16, subset=64,
                test_subset=32, log_every=1, progress=False, schedule="multistep", milestones=(1,))
    return TrainConfig(**{**base, **kw})


def test_cuda_graph_switch_is_ignored_on_cpu_and_not_hashed():
    cfg = _cfg()
    assert not use_cuda_graph(cfg.replace(cuda_graph=True), torch.device("cpu"), 1)
    assert use_cuda_graph(cfg, torch.device("cuda"), 1)  # default: on for CUDA
    assert not use_cuda_graph(cfg.replace(cuda_graph=False), torch.device("cuda"), 1)
    assert not use_cuda_graph(cfg, torch.device("cuda"), 2)  # DDP: eager
    assert not use_cuda_graph(cfg.replace(compile=True), torch.device("cuda"), 1)
    assert cfg.replace(cuda_graph=True).hash() == cfg.hash()


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("amp, lif_backend, resident", [(False, "reference", False), (True, "reference", False),
                                                        (True, "auto", False), (True, "auto", True)])
def test_graphed_training_matches_eager(tmp_path, amp, lif_backend, resident, deterministic_cudnn):
    """Two epochs across an lr milestone (a re-capture): curve and weights as eager; also with
    the Triton LIF (``auto`` on CUDA) launched inside the graph, and with resident data, the
    combination the fmnist profile trains with."""
    cfg = _cfg(device="cuda", amp=amp, resident_data=resident, lif_backend=lif_backend)
    runs = {}
    for graph in (False, True):
        c = cfg.replace(cuda_graph=graph)
        r = train(c, profile="s", experiment=str(graph), store=ResultsStore(tmp_path / str(graph)),
                  run_dir=tmp_path / "runs")
        assert r["provenance"]["speed"]["cuda_graph"] is graph
        runs[graph] = (r, load_checkpoint(run_folder(tmp_path / "runs", "s", str(graph), c) / "model.pt"))
    (eager, w_eager), (graphed, w_graph) = runs[False], runs[True]
    tol = dict(rtol=5e-2, atol=5e-2) if amp else dict(rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(torch.tensor(graphed["steps"]["loss"]), torch.tensor(eager["steps"]["loss"]), **tol)
    for k, v in w_eager.items():
        if v.is_floating_point():
            torch.testing.assert_close(w_graph[k].float(), v.float(), **tol, msg=k)


@pytest.mark.gpu
@cuda
def test_graphed_training_with_loader_workers_matches_eager(tmp_path, deterministic_cudnn):
    """Data from worker processes through pinned memory (the path of data sets that are not
    held on the GPU): each epoch's re-capture runs while the loader's pin-memory thread
    prefetches, and the run still equals the eager one."""
    cfg = _cfg(device="cuda", amp=True, resident_data=False, workers=2, epochs=3, milestones=(1, 2), subset=128)
    out = {}
    for graph in (False, True):
        c = cfg.replace(cuda_graph=graph)
        out[graph] = train(c, profile="s", experiment=f"w{graph}", store=ResultsStore(tmp_path / str(graph)),
                           run_dir=tmp_path / "runs")
        assert out[graph]["provenance"]["speed"]["cuda_graph"] is graph
    torch.testing.assert_close(torch.tensor(out[True]["steps"]["loss"]), torch.tensor(out[False]["steps"]["loss"]),
                               rtol=5e-2, atol=5e-2)


@pytest.mark.gpu
@cuda
def test_graphed_training_stops_on_nan_like_eager(tmp_path, monkeypatch):
    from msr.train import TrainingDiverged

    from conftest import nan_loss_at_step

    nan_loss_at_step(monkeypatch, 3)
    with pytest.raises(TrainingDiverged, match="no result was written"):
        train(_cfg(device="cuda", cuda_graph=True), profile="s", experiment="n", store=ResultsStore(tmp_path / "r"),
              run_dir=tmp_path / "runs")
