"""torchrun with 2 CPU processes (gloo) matches one process with the same global batch.

What is compared and why it matches: both runs see the same global batches (the
EpochSampler gives rank r positions r, r+2, ... of each global batch), start from the
same weights (seeded before the model is built; DDP broadcasts rank 0's), and use
synchronized BN -- on CPU our GlooSyncBatchNorm, since nn.SyncBatchNorm is CUDA-only --
so every BN normalises with the statistics of the whole global batch exactly as the
single process does.  DDP averages the gradients of the two local mean losses, which
is the gradient of the global mean loss.  What differs is only floating-point
summation order, so losses and weights agree to ~1e-5, not bit for bit; synthetic
data without augmentation or dropout keeps per-rank RNG streams out of the picture.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from msr.results import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["train", "--profile", "smoke", "--dataset", "synthetic", "--depth", "8", "--T", "2", "--epochs", "2",
        "--batch-size", "16", "--subset", "64", "--test-subset", "32", "--lr", "0.05", "--log-every", "1",
        "--device", "cpu"]


def _run(cmd, tmp_path, tag):
    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.run([*cmd, *ARGS, "--results", str(tmp_path / tag), "--runs", str(tmp_path / f"{tag}_runs")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(next((tmp_path / tag).rglob("*.json")).read_text())
    weights = load_checkpoint(next((tmp_path / f"{tag}_runs").rglob("model.pt")))
    return result, weights


@pytest.mark.slow
def test_two_cpu_processes_match_one(tmp_path):
    one, w1 = _run([sys.executable, "-m", "msr.cli"], tmp_path, "single")
    two, w2 = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "msr.cli"], tmp_path, "ddp")
    assert one["world_size"] == 1 and two["world_size"] == 2
    assert one["hash"] == two["hash"]  # same experiment, same key
    assert two["steps"]["step"] == one["steps"]["step"] == list(range(1, 9))
    torch.testing.assert_close(torch.tensor(two["steps"]["loss"]), torch.tensor(one["steps"]["loss"]),
                               rtol=1e-4, atol=1e-5)
    for k in ("train_loss", "test_loss"):
        torch.testing.assert_close(torch.tensor(two["epochs"][k]), torch.tensor(one["epochs"][k]), rtol=1e-4, atol=1e-5)
    assert two["epochs"]["test_acc"] == one["epochs"]["test_acc"]
    for k in w1:  # weights and BN running statistics
        torch.testing.assert_close(w2[k].float(), w1[k].float(), rtol=1e-3, atol=1e-4, msg=k)


def _sync_bn_worker(rank, init_file, out_dir):
    import torch.distributed as dist
    from torch import nn

    from msr.distributed import convert_sync_bn

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4) * 3 + 1
    net = convert_sync_bn(nn.Sequential(nn.BatchNorm2d(3)), torch.device("cpu"))
    xs = x[rank::2].clone().requires_grad_(True)
    y = net(xs)
    (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()  # a loss that is not BN-invariant
    torch.save({"y": y.detach(), "gx": xs.grad, "gw": net[0].weight.grad, "rm": net[0].running_mean,
                "rv": net[0].running_var}, f"{out_dir}/{rank}.pt")
    dist.destroy_process_group()


def test_gloo_sync_batchnorm_equals_bn_on_the_whole_batch(tmp_path):
    """Forward, input gradients, weight gradients and running statistics of 2 x 4
    samples under GlooSyncBatchNorm equal nn.BatchNorm2d on all 8 samples."""
    from torch import nn

    torch.multiprocessing.spawn(_sync_bn_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    r = [torch.load(tmp_path / f"{i}.pt") for i in range(2)]
    torch.manual_seed(0)
    x = (torch.randn(8, 3, 4, 4) * 3 + 1).requires_grad_(True)
    bn = nn.BatchNorm2d(3)
    y = bn(x)
    w = torch.arange(r[0]["y"].numel()).reshape(r[0]["y"].shape)
    (y[0::2] * w).sum().add((y[1::2] * w).sum()).backward()
    for i in range(2):
        torch.testing.assert_close(r[i]["y"], y[i::2].detach(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(r[i]["gx"], x.grad[i::2], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(r[i]["rm"], bn.running_mean)
        torch.testing.assert_close(r[i]["rv"], bn.running_var)
    # DDP averages parameter gradients over ranks; the sum equals the full-batch gradient
    torch.testing.assert_close(r[0]["gw"] + r[1]["gw"], bn.weight.grad, rtol=1e-4, atol=1e-4)
