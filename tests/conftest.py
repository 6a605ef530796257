"""Shared fixtures: no network, tiny configs, a temporary results store; faults injected
by patching the training step (a NaN loss, a kill after N steps)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FMNIST_DIR = Path(os.environ.get("MSR_FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
HAVE_FMNIST = (FMNIST_DIR / "train-images-idx3-ubyte.gz").exists()
needs_fmnist = pytest.mark.skipif(not HAVE_FMNIST, reason=f"Fashion-MNIST idx files not in {FMNIST_DIR}")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Tests never download; missing data must give the clear error at once."""
    monkeypatch.setenv("MSR_OFFLINE", "1")
    monkeypatch.delenv("MSR_RESULTS", raising=False)


@pytest.fixture
def tiny():
    """A TrainConfig factory for CPU runs of a second or two."""
    from msr.train import TrainConfig

    def make(**kw):
        base = dict(dataset="synthetic", model="cifar_resnet", depth=8, T=2, epochs=2, batch_size=16, subset=64,
                    test_subset=32, lr=0.1, log_every=1, device="cpu", amp=False, workers=0, progress=False,
                    data_root="data")
        return TrainConfig(**{**base, **kw})

    return make


@pytest.fixture
def store(tmp_path):
    from msr.results import ResultsStore

    return ResultsStore(tmp_path / "results")


def nan_loss_at_step(monkeypatch, step: int) -> None:
    """The ``step``-th training step of this process (counted from 1) computes a NaN loss
    before its backward, as a diverging run does (the CUDA-graph step gets NaN inputs)."""
    import msr.train

    real, calls = msr.train.train_step, [0]

    def poisoned(forward, x, y, optimizer, criterion, **kw):
        calls[0] += 1
        if calls[0] == step:
            if kw.get("graph_step") is not None:
                x = x * float("nan")
            else:
                criterion = (lambda c: lambda logits, y: c(logits, y) * float("nan"))(criterion)
        return real(forward, x, y, optimizer, criterion, **kw)

    monkeypatch.setattr(msr.train, "train_step", poisoned)


#: ``python -c KILL_AFTER_STEPS N ARGS...``: ``msr ARGS`` killed by SIGKILL once N training
#: steps (and the checkpoint after the N-th, if one is due) are done.
KILL_AFTER_STEPS = """
import os, signal, sys
import msr.train
from msr import cli
after, real, calls = int(sys.argv[1]), msr.train.train_step, [0]
def step(*args, **kw):
    calls[0] += 1
    if calls[0] > after:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kw)
msr.train.train_step = step
sys.exit(cli.main(sys.argv[2:]))
"""


def cli_killed_after_steps(args: list[str], steps: int, cwd: Path) -> subprocess.CompletedProcess:
    """``msr ARGS`` in a subprocess, killed (SIGKILL) after ``steps`` training steps."""
    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", KILL_AFTER_STEPS, str(steps), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)
