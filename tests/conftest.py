"""Shared fixtures: no network, tiny configs, a temporary results store."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

FMNIST_DIR = Path(os.environ.get("MSR_FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
HAVE_FMNIST = (FMNIST_DIR / "train-images-idx3-ubyte.gz").exists()
needs_fmnist = pytest.mark.skipif(not HAVE_FMNIST, reason=f"Fashion-MNIST idx files not in {FMNIST_DIR}")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Tests never download; missing data must give the clear error at once."""
    monkeypatch.setenv("MSR_OFFLINE", "1")
    for var in ("MSR_FAULT_AFTER_STEPS", "MSR_FAULT_NAN_AT_STEP", "MSR_RESULTS"):
        monkeypatch.delenv(var, raising=False)


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
