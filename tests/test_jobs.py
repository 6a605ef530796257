"""Concurrent runs (``--jobs N``): every run stored once, the numbers of a one-job sweep,
a failing run reported without losing the others, dependent runs in order."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from msr.jobs import check_jobs, run_jobs
from msr.results import ResultsStore
from msr.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(depth=8, dataset="synthetic", input_size=(1, 8, 8), T=2, epochs=2, batch_size=8, subset=16,
            test_subset=8, amp=False, device="cpu", log_every=1, progress=False)


def _metrics(r: dict) -> tuple:
    return [r["final"]["reported_acc"], *r["epochs"]["train_loss"], *r["epochs"]["test_loss"], *r["steps"]["loss"]]


def test_two_jobs_store_each_run_once_with_one_job_numbers(tmp_path):
    a = TrainConfig(**TINY, block="ms")
    b = TrainConfig(**TINY, block="plain")
    bad = TrainConfig(**{**TINY, "subset": 4}, block="ms")  # fewer samples than one batch: fails
    child = TrainConfig(**TINY, block="ms", seed=1, init_from=f"hash:{a.hash()}")  # starts from a's weights
    seen = []
    jobs = run_jobs([a, bad, b, child], profile="p", experiment="e", store_root=tmp_path / "results",
                    run_dir=tmp_path / "runs", jobs=2, analyse=False, on_done=lambda i, j: seen.append(i))
    assert sorted(seen) == [0, 1, 2, 3]
    assert [j.result is None for j in jobs] == [False, True, False, False]
    assert jobs[1].kind == "ValueError" and "fewer than one batch" in jobs[1].error
    assert seen.index(0) < seen.index(3)  # the child ran after the run whose weights it starts from
    stored = sorted(p.stem for p in (tmp_path / "results" / "p" / "e").glob("*.json"))
    assert stored == sorted(c.hash() for c in (a, b, child))  # each good run once, nothing of the bad one
    assert not list((tmp_path / "runs").rglob("*.lock"))  # claims released
    assert all(not j.result["skipped"] for j in jobs if j.result)

    # the same runs one at a time, in this process: the same numbers
    store = ResultsStore(tmp_path / "seq")
    for cfg, job in zip((a, b, child), (jobs[0], jobs[2], jobs[3]), strict=True):
        r = train(cfg, profile="p", experiment="e", store=store, run_dir=tmp_path / "runs_seq")
        assert _metrics(r) == pytest.approx(_metrics(job.result), rel=1e-5, abs=1e-6)


def test_dependent_run_of_a_failed_run_is_reported_not_started(tmp_path):
    bad = TrainConfig(**{**TINY, "subset": 4}, block="ms")
    child = TrainConfig(**TINY, block="ms", init_from=f"hash:{bad.hash()}")
    jobs = run_jobs([bad, child], profile="p", experiment="e", store_root=tmp_path / "r", run_dir=tmp_path / "runs",
                    jobs=2, analyse=False)
    assert jobs[0].kind == "ValueError" and jobs[1].kind == "DependencyFailed"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_jobs_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="--jobs must be an integer >= 1"):
        check_jobs(bad)


@pytest.mark.parametrize("args, error", [
    (["--budget", "1m", "--jobs", "0"], "--jobs must be an integer >= 1, got 0"),
    (["--no-cuda-graph", "--lif-backend", "cpu"], "--cuda-graph, --lif-backend: only with --budget"),
    (["--budget", "1m", "--lif-backend", "fast"], "unknown LIF backend 'fast'; valid: "),
])
def test_compute_refuses_bad_options_in_one_line(tmp_path, args, error):
    r = subprocess.run([sys.executable, "-m", "msr.cli", "compute", "all", "--profile", "smoke", *args], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(f"msr compute: error: {error}") and len(r.stderr.strip().splitlines()) == 1
