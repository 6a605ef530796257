"""The fault catalogue: every fault and bad input msr must survive, one case each.

Each :class:`Fault` states what must happen, one of:

* ``ONE_LINE``: a clear one-line error naming the thing (flag, folder or file), and
  nothing trained, written or overwritten;
* ``KEPT``: nothing overwritten: the good file (result, checkpoint, executed chapter)
  stays byte for byte, and nothing half-computed is stored;
* ``SAME``: identical results after recovery: after a kill and a resume, the same
  per-epoch metrics, loss curve, final numbers and weights as an uninterrupted run.

Training runs are smoke-sized (synthetic 16x16 data, depth 8, T = 2, 8 steps); only
the cases that must kill or race processes start subprocesses.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from msr import cli
from msr.chapters import CHAPTERS, ChapterContext, IncompleteInputs
from msr.chapters._runs import trained_model
from msr.cli.train import config_from_args
from msr.data import CorruptDataError, MissingDataError, build_datasets
from msr.results import CheckpointError, ResultError, ResultsStore, load_checkpoint, remove_stale_temps, save_checkpoint
from msr.runs import RunClaimed, claim_path, claim_run, run_folder
from msr.sweep import experiment_configs
from msr.train import WeightsNotFound, build_model, load_trained, model_info

from conftest import cli_killed_after_steps, nan_loss_at_step

ROOT = Path(__file__).resolve().parents[1]
ONE_LINE = "a clear one-line error naming the thing; nothing trained, written or overwritten"
KEPT = "nothing overwritten: the good file stays byte for byte and nothing half-computed is stored"
SAME = "identical results after recovery: metrics, loss curve, final numbers and weights of an uninterrupted run"

#: One smoke run: 2 epochs x 4 steps, dropout and shuffling (every source of randomness),
#: checkpoints at steps 3 (mid epoch 1), 4 (epoch end), 6 (mid epoch 2) and 8.
RUN = ["--profile", "smoke", "--dataset", "synthetic", "--depth", "8", "--T", "2", "--epochs", "2",
       "--batch-size", "8", "--subset", "32", "--test-subset", "16", "--dropout", "0.2", "--checkpoint-every", "3",
       "--device", "cpu"]


def train_args(results: Path, runs: Path) -> list[str]:
    return ["train", *RUN, "--results", str(results), "--runs", str(runs)]


def run_config():
    return config_from_args(cli.parse_args(train_args(Path("r"), Path("u"))))


@dataclass
class Env:
    """What a case gets: a fresh folder, monkeypatch, captured output, the reference run."""

    tmp: Path
    mp: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture
    request: pytest.FixtureRequest

    def cli(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = cli.main([str(a) for a in argv])
        out = self.capsys.readouterr()
        return rc, out.out, out.err

    def one_line_error(self, *argv: str, names: str, says: str) -> str:
        rc, out, err = self.cli(*argv)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1, (rc, out, err)
        assert names in lines[0] and says in lines[0], lines[0]
        return lines[0]

    @property
    def ref(self) -> dict:
        return self.request.getfixturevalue("reference")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run every recovery is compared with (trained once, in this process)."""
    tmp = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:  # built on first use, maybe inside a case that set a variable
        for var in ("MSR_FMNIST_DIR", "MSR_RESULTS"):
            mp.delenv(var, raising=False)
        assert cli.main(train_args(tmp / "results", tmp / "runs")) == 0
    cfg = run_config()
    folder = run_folder(tmp / "runs", "smoke", "train", cfg)
    path = ResultsStore(tmp / "results").path("smoke", "train", cfg.hash_dict())
    return {"cfg": cfg, "result": json.loads(path.read_text()), "result_path": path, "folder": folder,
            "weights": load_checkpoint(folder / "model.pt")}


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []


# ------------------------------------------------------------------ bad input, outputs ----

def bad_flag(env: Env, extra: list[str], names: str, says: str):
    env.one_line_error(*train_args(env.tmp / "r", env.tmp / "u"), *extra, names=names, says=says)
    assert files_under(env.tmp) == []


def output_is_a_file(env: Env, command: str, which: str):
    """``--results``/``--runs`` is a plain file (or lies under one): refused before any training."""
    blocker = env.tmp / "plain_file"
    blocker.write_text("not a folder")
    results, runs = env.tmp / "r", env.tmp / "u"
    target = blocker if which == "results" else blocker / "runs"
    results, runs = (target, runs) if which == "results" else (results, target)
    if command == "train":
        argv = train_args(results, runs)
    elif command == "sweep":
        argv = ["sweep", "two_phase", "--profile", "smoke", "--results", results, "--runs", runs]
    else:  # msr compute: results root from $MSR_RESULTS, checkpoints in ./runs
        env.mp.setenv("MSR_RESULTS", str(results))
        env.mp.chdir(env.tmp)
        argv = ["compute", "degradation", "--profile", "smoke", "--device", "cpu"]
    env.one_line_error(*argv, names=str(target), says="not a directory")
    assert files_under(env.tmp) == ["plain_file"] and blocker.read_text() == "not a folder"


def output_not_writable(env: Env, which: str):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = env.tmp / "locked"
    locked.mkdir(mode=0o555)
    results, runs = (locked, env.tmp / "u") if which == "results" else (env.tmp / "r", locked / "runs")
    try:
        env.one_line_error(*train_args(results, runs), names=str(locked), says="not writable")
    finally:
        locked.chmod(0o755)
    assert files_under(env.tmp) == []


# ------------------------------------------------------------------ malformed results ----

MALFORMED = {
    "list": b"[]",
    "no-keys": b'{"hash": "x"}',
    "binary": bytes(range(256)),
    "truncated": b'{"config": {"a": 1}, "hash": ',
}


def _malformed(env: Env, kind: str, experiment: str = "e", config: dict | None = None) -> tuple[ResultsStore, Path]:
    store = ResultsStore(env.tmp / "results")
    config = config if config is not None else {"k": 1}
    path = store.path("smoke", experiment, config)
    path.parent.mkdir(parents=True)
    if kind == "other-config":  # a good result of another config under this config's name
        other = store.put("smoke", experiment, {"k": 2}, {"v": 1})
        path.write_bytes(other.read_bytes())
    else:
        path.write_bytes(MALFORMED[kind])
    return store, path


def malformed_result(env: Env, kind: str):
    store, path = _malformed(env, kind)
    before = path.read_bytes()
    for read in (lambda: store.get("smoke", "e", {"k": 1}), lambda: store.list("smoke", "e")):
        with pytest.raises(ResultError) as err:
            read()
        msg = str(err.value)
        assert str(path) in msg and "delete it" in msg and "--recompute" in msg and "\n" not in msg
    assert path.read_bytes() == before


def malformed_result_in_sweep(env: Env):
    first = experiment_configs("two_phase", "smoke")[0]
    store, path = _malformed(env, "list", "two_phase", first.hash_dict())
    env.one_line_error("sweep", "two_phase", "--profile", "smoke", "--results", store.root, "--runs", env.tmp / "u",
                       names=str(path), says="--force")
    assert path.read_bytes() == b"[]" and not (env.tmp / "u").exists()


def malformed_result_in_book(env: Env):
    """The render step (render-only chapter) reading the store."""
    first = experiment_configs("table2", "smoke")[0]
    store, path = _malformed(env, "no-keys", "table2", first.hash_dict())
    with pytest.raises(ResultError, match=str(path)):
        CHAPTERS["degradation"].compute(ChapterContext("smoke", render_only=True, store=store))


def damaged_arrays(env: Env):
    store = ResultsStore(env.tmp / "results")
    store.put("smoke", "e", {"k": 1}, {"v": 1}, arrays={"a": np.arange(3)})
    npz = store.path("smoke", "e", {"k": 1}).with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:40])
    with pytest.raises(ResultError, match=str(npz)):
        store.get_arrays("smoke", "e", {"k": 1})


# ------------------------------------------------------------------ kill during a result write ----

def killed_result_write(env: Env, point: str):
    """kill -9 at ``point`` of a recompute's ``ResultsStore.put`` (a forked writer): the
    stored result stays the old one, never a half-written file; arrays torn from their
    result are an error naming them, never silently paired; the next write of the result
    removes the dead writer's temp file."""
    store = ResultsStore(env.tmp / "results")
    store.put("smoke", "e", {"k": 1}, {"v": 1}, arrays={"a": np.zeros(3)})
    path = store.path("smoke", "e", {"k": 1})
    before = path.read_bytes()
    pid = os.fork()
    if pid == 0:  # the writer, killed at the chosen point
        try:
            real_replace, die = os.replace, lambda: os.kill(os.getpid(), signal.SIGKILL)
            if point == "arrays-written":  # the arrays' temp file complete, not renamed
                os.replace = lambda a, b: die()
            else:  # "json-written": new arrays in place, the JSON's temp file complete, not renamed
                os.replace = lambda a, b: real_replace(a, b) if str(b).endswith(".npz") else die()
            store.put("smoke", "e", {"k": 1}, {"v": 2, "blob": list(range(20000))}, arrays={"a": np.ones(3)})
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert path.read_bytes() == before and store.get("smoke", "e", {"k": 1})["v"] == 1
    if point == "arrays-written":
        assert store.get_arrays("smoke", "e", {"k": 1})["a"].tolist() == [0, 0, 0]
    else:
        with pytest.raises(ResultError, match=f"{path.with_suffix('.npz')} do not belong to the result"):
            store.get_arrays("smoke", "e", {"k": 1})
    temps = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1 and f".{pid}." in temps[0]
    store.put("smoke", "e", {"k": 1}, {"v": 3})
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def stale_temps(env: Env):
    """Temp files of dead writers are removed; a live writer's are kept."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "30"])
    try:
        (env.tmp / f".last.pt.{dead.pid}.ab12cd.tmp").write_bytes(b"")
        (env.tmp / f".last.pt.{live.pid}.ef34gh.tmp").write_bytes(b"x")
        (env.tmp / "last.pt").write_bytes(b"good")
        removed = remove_stale_temps(env.tmp)
        assert [p.name for p in removed] == [f".last.pt.{dead.pid}.ab12cd.tmp"]
        assert sorted(p.name for p in env.tmp.iterdir()) == sorted([f".last.pt.{live.pid}.ef34gh.tmp", "last.pt"])
    finally:
        live.kill()
        live.wait()


# ------------------------------------------------------------------ kill during training ----

def same_as_reference(env: Env, results: Path, runs: Path) -> dict:
    ref = env.ref
    got = json.loads(ResultsStore(results).path("smoke", "train", ref["cfg"].hash_dict()).read_text())
    for k in ("train_loss", "test_acc", "test_loss", "train_acc", "firing_rate", "lr"):
        assert got["epochs"][k] == ref["result"]["epochs"][k], k
    assert got["steps"] == ref["result"]["steps"] and got["final"] == ref["result"]["final"]
    weights = load_checkpoint(run_folder(runs, "smoke", "train", ref["cfg"]) / "model.pt")
    assert weights.keys() == ref["weights"].keys()
    assert all(torch.equal(weights[k], ref["weights"][k]) for k in weights)
    folder = run_folder(runs, "smoke", "train", ref["cfg"])
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "model.pt"]  # no temp files left
    assert not claim_path(folder).exists()
    return got


def killed_training(env: Env, after_steps: int | None, checkpoint_writes: int | None, resumes_at: tuple | None):
    """Killed (SIGKILL) after ``after_steps`` training steps (the step patched in the
    subprocess) or during checkpoint write number ``checkpoint_writes`` (temp file
    complete, not yet renamed); the resumed run equals the uninterrupted one."""
    results, runs = env.tmp / "results", env.tmp / "runs"
    args = train_args(results, runs)
    if after_steps is not None:
        p = cli_killed_after_steps(args, after_steps, env.tmp)
        assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    else:
        script = ("import os, signal, sys\nfrom msr import cli\nreal, n = os.replace, [0]\n"
                  "def replace(a, b):\n    n[0] += str(b).endswith('last.pt')\n"
                  f"    if n[0] == {checkpoint_writes}: os.kill(os.getpid(), signal.SIGKILL)\n"
                  "    return real(a, b)\nos.replace = replace\nsys.exit(cli.main(sys.argv[1:]))\n")
        env_vars = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        p = subprocess.run([sys.executable, "-c", script, *args], cwd=env.tmp, env=env_vars, capture_output=True,
                           text=True, timeout=240)
        assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    assert files_under(results) == [], "a killed run stores no result"
    folder = run_folder(runs, "smoke", "train", env.ref["cfg"])
    ckpt = folder / "last.pt"
    if resumes_at is None:
        assert not ckpt.exists()
    else:
        state = load_checkpoint(ckpt)
        assert (state["epoch"], state["batch"], state["step"]) == resumes_at
        # the time of the killed segment is carried on: make it unmistakable
        save_checkpoint(ckpt, {**state, "elapsed_s": 1000.0})
    if checkpoint_writes is not None:
        assert [p.name for p in folder.glob(".last.pt.*.tmp")], "the kill left the checkpoint's temp file"
    start = time.perf_counter()
    rc, out, err = env.cli(*args)
    segment = time.perf_counter() - start
    assert rc == 0, out + err
    assert ("resuming" in out) == (resumes_at is not None)
    got = same_as_reference(env, results, runs)
    if resumes_at is not None:  # wall time sums the segments
        assert 1000.0 < got["wall_time_s"] < 1000.0 + segment and got["provenance"]["wall_time_s"] == got["wall_time_s"]


def nan_loss(env: Env):
    """A NaN loss stops the run: the last good checkpoint is kept, no result is written."""
    results, runs = env.tmp / "results", env.tmp / "runs"
    nan_loss_at_step(env.mp, 7)
    rc, out, err = env.cli(*train_args(results, runs))
    assert rc == 3 and "loss became NaN/inf" in out and "no result was written" in out
    assert files_under(results) == []
    state = load_checkpoint(run_folder(runs, "smoke", "train", env.ref["cfg"]) / "last.pt")
    assert state["step"] == 6 and all(torch.isfinite(v).all() for v in state["model"].values())


# ------------------------------------------------------------------ checkpoints ----

def _run_with(env: Env, name: str, content: bytes) -> tuple[Path, Path]:
    """A fresh run folder whose file ``name`` holds ``content``."""
    results, runs = env.tmp / "results", env.tmp / "runs"
    folder = run_folder(runs, "smoke", "train", env.ref["cfg"])
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    return results, folder / name


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _other_model_weights() -> bytes:
    cfg = run_config().replace(depth=14)
    return _saved(build_model(cfg, model_info(cfg)).state_dict())


def _other_config_checkpoint(env: Env) -> bytes:
    """The reference's last.pt as another config's run would have written it."""
    return _saved({**load_checkpoint(env.ref["folder"] / "last.pt"), "hash": "0123456789abcdef"})


def bad_last_checkpoint(env: Env, kind: str):
    """A damaged ``last.pt``, or another config's under this run's name: an error naming
    it before any training; the file is left as it is and no result is written."""
    good = (env.ref["folder"] / "last.pt").read_bytes()
    content = {"garbage": b"\x80garbage", "truncated": good[: len(good) // 2],
               "other-config": _other_config_checkpoint(env)}[kind]
    results, path = _run_with(env, "last.pt", content)
    says = "belongs to another config" if kind == "other-config" else "is corrupt or not a msr checkpoint"
    env.one_line_error(*train_args(results, path.parent.parents[2]), names=str(path), says=says)
    assert path.read_bytes() == content and files_under(results) == []


def bad_weights(env: Env, kind: str):
    """``model.pt`` missing, damaged, or of another model: loading names the file; an
    analysis asked to use it stores nothing, and computes once the good weights are back."""
    good = (env.ref["folder"] / "model.pt").read_bytes()
    content = {"truncated": good[: len(good) // 2], "other-model": _other_model_weights()}.get(kind, good)
    _, path = _run_with(env, "model.pt", content)
    runs = path.parents[3]
    if kind == "missing":
        path.unlink()
    cfg = env.ref["cfg"]
    where = f"smoke/train/{cfg.hash()}/model.pt"
    error, says = {"missing": (WeightsNotFound, f"no trained weights for run {cfg.hash()}"),
                   "truncated": (CheckpointError, f"checkpoint \\S*{where} is corrupt"),
                   "other-model": (CheckpointError, f"weights \\S*{where} do not fit run")}[kind]
    with pytest.raises(error, match=says):
        load_trained(cfg, run_dir=runs, profile="smoke", experiment="train")
    # the analysis path: nothing from fewer models than asked for is stored
    env.mp.chdir(path.parents[4])  # the chapters read ./runs
    store = ResultsStore(env.tmp / "results")
    ctx = ChapterContext("smoke", store=store)
    def count():
        return {"rate": float(trained_model(ctx, cfg, "train").stem_conv.conv.weight.detach().abs().sum())}

    with pytest.raises(IncompleteInputs, match=f"landscape not computed, nothing stored: .*{says}"):
        ctx.item("landscape", {"runs": [cfg.hash()]}, count)
    assert files_under(env.tmp / "results") == []
    path.write_bytes(good)  # the good weights are back: computed and stored now
    assert ctx.item("landscape", {"runs": [cfg.hash()]}, count)["rate"] > 0


# ------------------------------------------------------------------ data ----

def _idx(shape: tuple[int, ...], seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 10, shape, dtype=np.uint8)
    header = bytes([0, 0, 8, len(shape)]) + b"".join(int(s).to_bytes(4, "big") for s in shape)
    return gzip.compress(header + arr.tobytes())


def bad_fashion_mnist(env: Env, kind: str):
    """Fashion-MNIST copy named by ``$MSR_FMNIST_DIR`` missing, incomplete or damaged: an
    error naming the folder or file, never a silent fallback to another copy."""
    d = env.tmp / "fm"
    d.mkdir()
    files = {"train-images-idx3-ubyte.gz": _idx((20, 28, 28)), "train-labels-idx1-ubyte.gz": _idx((20,)),
             "t10k-images-idx3-ubyte.gz": _idx((10, 28, 28)), "t10k-labels-idx1-ubyte.gz": _idx((10,))}
    for name, content in files.items():
        (d / name).write_bytes(content)
    bad = d / "train-images-idx3-ubyte.gz"
    if kind == "folder-missing":
        d = env.tmp / "nowhere"
        error, names, says = MissingDataError, f"MSR_FMNIST_DIR={d}", "does not exist"
    elif kind == "file-missing":
        bad.unlink()
        error, names, says = MissingDataError, f"MSR_FMNIST_DIR={d}", "does not hold train-images-idx3-ubyte.gz"
    else:
        bad.write_bytes(files[bad.name][:300] if kind == "gz-truncated" else b"PK\x03\x04 not gzip at all")
        error, names, says = CorruptDataError, str(bad), "is damaged"
    env.mp.setenv("MSR_FMNIST_DIR", str(d))
    cfg = run_config().replace(dataset="fashion_mnist", input_size=None, subset=None, test_subset=None)
    with pytest.raises(error) as err:
        build_datasets(cfg)
    assert names in str(err.value) and says in str(err.value) and "\n" not in str(err.value)
    env.one_line_error(*train_args(env.tmp / "r", env.tmp / "u"), "--dataset", "fashion_mnist", names=names,
                       says=says)
    assert files_under(env.tmp / "r") == files_under(env.tmp / "u") == []


def fashion_mnist_source_named(env: Env):
    """The copy read is named (in the data info a result stores)."""
    d = env.tmp / "fm"
    d.mkdir()
    for split, n in (("train", 20), ("t10k", 10)):
        (d / f"{split}-images-idx3-ubyte.gz").write_bytes(_idx((n, 28, 28)))
        (d / f"{split}-labels-idx1-ubyte.gz").write_bytes(_idx((n,)))
    env.mp.setenv("MSR_FMNIST_DIR", str(d))
    _, _, info = build_datasets(run_config().replace(dataset="fashion_mnist", input_size=None, subset=None,
                                                     test_subset=None))
    assert info.source == str(d) and info.n_train == 20


# ------------------------------------------------------------------ concurrency ----

def _popen(args: list, cwd: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "msr.cli", *map(str, args)], cwd=cwd, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def second_trainer_waits_then_skips(env: Env):
    """A second process on a claimed run waits for the claim, then finds the result the
    first stored and skips: the run is trained once."""
    results, runs = env.tmp / "results", env.tmp / "runs"
    cfg = env.ref["cfg"]
    folder = run_folder(runs, "smoke", "train", cfg)
    log = env.tmp / "second.log"
    with claim_run(folder, log=None):  # this process is "the first trainer"
        second = _popen(train_args(results, runs), env.tmp, log)
        deadline = time.time() + 180
        while "waiting for it" not in log.read_text():
            assert second.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.05)
        assert f"pid {os.getpid()}" in log.read_text()
        target = ResultsStore(results).path("smoke", "train", cfg.hash_dict())
        target.parent.mkdir(parents=True)
        shutil.copy(env.ref["result_path"], target)  # the first trainer's result
    assert second.wait(timeout=180) == 0, log.read_text()
    out = log.read_text()
    assert "skipped: result already stored" in out and "epoch 1/" not in out
    assert files_under(runs) == []  # it trained nothing


def concurrent_sweeps(env: Env):
    """Two sweeps into the same store and runs: every run is trained exactly once."""
    args = ["sweep", "two_phase", "--profile", "smoke", "--results", env.tmp / "results", "--runs", env.tmp / "runs"]
    logs = [env.tmp / f"sweep{i}.log" for i in range(2)]
    procs = [_popen(args, env.tmp, log) for log in logs]
    for p, log in zip(procs, logs, strict=True):
        assert p.wait(timeout=300) == 0, log.read_text()
    lines = [line for log in logs for line in log.read_text().splitlines() if line.startswith("[")]
    n = len(experiment_configs("two_phase", "smoke"))
    assert sum(": trained," in line for line in lines) == n, lines
    assert sum("skipped (stored)" in line for line in lines) == n, lines
    assert len(files_under(env.tmp / "results")) == n
    assert not list((env.tmp / "runs").rglob("*.lock"))


def claim_held(env: Env):
    """A live claim: ``wait=False`` raises at once, naming the holder and the lock file."""
    folder = env.tmp / "runs" / "smoke" / "train" / "0123456789abcdef"
    with claim_run(folder) as waited:
        assert waited is False and claim_path(folder).read_text().split()[0] == str(os.getpid())
        with pytest.raises(RunClaimed, match=f"claimed by pid {os.getpid()} .*{claim_path(folder)}"):
            with claim_run(folder, wait=False):
                pass
    assert not claim_path(folder).exists()


def claim_stale(env: Env):
    """A lock file left by a killed process (its pid gone) is taken over at once."""
    folder = env.tmp / "runs" / "smoke" / "train" / "0123456789abcdef"
    dead = subprocess.Popen(["true"])
    dead.wait()
    claim_path(folder).parent.mkdir(parents=True)
    claim_path(folder).write_text(f"{dead.pid}\n")
    with claim_run(folder, wait=False) as waited:
        assert waited is False and claim_path(folder).read_text() == f"{os.getpid()}\n"


# ------------------------------------------------------------------ rendering ----

def failed_render_keeps_good_chapter(env: Env):
    """A chapter whose notebook fails keeps its good executed copy; the copy with the
    error is written beside it as NAME.failed.ipynb."""
    pytest.importorskip("papermill")
    from msr import reproduce

    env.mp.setattr(reproduce, "EXECUTED", env.tmp / "_executed")
    good = env.tmp / "_executed" / "architectures.ipynb"
    good.parent.mkdir()
    good.write_text('{"cells": [], "metadata": {"good": true}, "nbformat": 4, "nbformat_minor": 5}')
    before = good.read_bytes()
    with pytest.raises(Exception) as err:
        reproduce.execute("architectures", {"profile": "cifar", "render_only": True})
    assert "unknown profile 'cifar'" in str(err.value)
    assert good.read_bytes() == before
    failed = reproduce.failed_copy("architectures")
    assert failed.exists() and "unknown profile 'cifar'" in failed.read_text()
    assert sorted(p.name for p in good.parent.iterdir()) == ["architectures.failed.ipynb", "architectures.ipynb"]


# ------------------------------------------------------------------ the catalogue ----

@dataclass(frozen=True)
class Fault:
    name: str
    expect: str  # what must happen
    check: Callable
    args: tuple = ()


CATALOGUE = (
    Fault("epochs-0", ONE_LINE, bad_flag, (["--epochs", "0"], "epochs", "must be an integer >= 1, got 0")),
    Fault("batch-size-0", ONE_LINE, bad_flag, (["--batch-size", "0"], "batch_size", "must be an integer >= 1")),
    *(Fault(f"{which}-is-a-file-{command}", ONE_LINE, output_is_a_file, (command, which))
      for command, which in (("train", "results"), ("train", "runs"), ("sweep", "runs"), ("compute", "results"))),
    *(Fault(f"{which}-not-writable", ONE_LINE, output_not_writable, (which,)) for which in ("results", "runs")),
    *(Fault(f"malformed-result-{kind}", ONE_LINE + "; " + KEPT, malformed_result, (kind,))
      for kind in (*MALFORMED, "other-config")),
    Fault("malformed-result-in-sweep", ONE_LINE, malformed_result_in_sweep),
    Fault("malformed-result-in-book", ONE_LINE, malformed_result_in_book),
    Fault("damaged-result-arrays", ONE_LINE, damaged_arrays),
    *(Fault(f"kill-9-result-write-{point}", KEPT, killed_result_write, (point,))
      for point in ("arrays-written", "json-written")),
    Fault("stale-temp-files", KEPT, stale_temps),
    Fault("kill-before-first-checkpoint", SAME, killed_training, (2, None, None)),
    Fault("kill-after-epoch-end", SAME, killed_training, (5, None, (1, 0, 4))),
    Fault("kill-mid-epoch", SAME, killed_training, (7, None, (1, 2, 6))),
    Fault("kill-9-during-checkpoint-write", SAME, killed_training, (None, 3, (1, 0, 4))),
    Fault("nan-loss", KEPT, nan_loss),
    *(Fault(f"last-checkpoint-{kind}", ONE_LINE + "; " + KEPT, bad_last_checkpoint, (kind,))
      for kind in ("garbage", "truncated", "other-config")),
    *(Fault(f"weights-{kind}", ONE_LINE + "; " + KEPT, bad_weights, (kind,))
      for kind in ("missing", "truncated", "other-model")),
    *(Fault(f"fashion-mnist-{kind}", ONE_LINE, bad_fashion_mnist, (kind,))
      for kind in ("folder-missing", "file-missing", "gz-truncated", "not-gzip")),
    Fault("fashion-mnist-copy-named", "the copy used is named", fashion_mnist_source_named),
    Fault("second-trainer-same-run", "the run is trained once", second_trainer_waits_then_skips),
    Fault("concurrent-sweeps", "every run is trained once", concurrent_sweeps),
    Fault("claim-held", ONE_LINE, claim_held),
    Fault("claim-stale", "a dead owner's claim is taken over", claim_stale),
    Fault("failed-render", KEPT, failed_render_keeps_good_chapter),
)


def test_catalogue_names_are_unique():
    assert len({f.name for f in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("fault", CATALOGUE, ids=lambda f: f.name)
def test_fault(fault: Fault, tmp_path, monkeypatch, capsys, request):
    """Inject ``fault``; what must happen is ``fault.expect``."""
    fault.check(Env(tmp_path, monkeypatch, capsys, request), *fault.args)
