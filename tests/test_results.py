"""Results store: hashing, atomic writes, provenance, get_or_compute, checkpoints."""
from __future__ import annotations

import multiprocessing as mp
import re

import numpy as np
import pytest
import torch

from msr.provenance import KEYS
from msr.results import CheckpointError, ResultsStore, config_hash, load_checkpoint, save_checkpoint


def test_config_hash_is_canonical():
    a = config_hash({"b": 1, "a": [1, 2], "c": {"y": 1.5, "x": None}})
    b = config_hash({"c": {"x": None, "y": 1.5}, "a": (1, 2), "b": 1})
    assert a == b and re.fullmatch(r"[0-9a-f]{16}", a)
    assert config_hash({"b": 2, "a": [1, 2], "c": {"y": 1.5, "x": None}}) != a


def test_put_get_roundtrip_with_arrays(store):
    cfg = {"model": "x", "depth": 8}
    path = store.put("smoke", "exp", cfg, {"acc": 1.5, "curve": [1, 2]}, arrays={"w": np.arange(6).reshape(2, 3)})
    assert path == store.root / "smoke" / "exp" / f"{config_hash(cfg)}.json"
    got = store.get("smoke", "exp", cfg)
    assert got["acc"] == 1.5 and got["config"] == cfg and got["hash"] == config_hash(cfg)
    assert tuple(got["provenance"]) == KEYS and got["provenance"]["wall_time_s"] is None  # put: nothing timed
    np.testing.assert_array_equal(store.get_arrays("smoke", "exp", cfg)["w"], np.arange(6).reshape(2, 3))
    assert store.get("smoke", "exp", {"model": "y"}) is None
    assert [r["acc"] for r in store.list("smoke", "exp")] == [1.5]
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, path.with_suffix(".npz").name])


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(store, monkeypatch):
    cfg = {"k": 1}
    path = store.put("p", "e", cfg, {"v": 1})
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("msr.results.os.replace", boom)
    with pytest.raises(OSError):
        store.put("p", "e", cfg, {"v": 2})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def _writer(root, i):
    s = ResultsStore(root)
    for j in range(15):
        s.put("p", "e", {"k": 0}, {"writer": i, "j": j, "blob": list(range(2000))})


def test_concurrent_writers_never_leave_a_broken_file(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tmp_path, i)) for i in range(3)]
    for p in procs:
        p.start()
    s = ResultsStore(tmp_path)
    seen = 0
    while any(p.is_alive() for p in procs):
        r = s.get("p", "e", {"k": 0})  # raises on a half-written file
        seen += r is not None
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = s.get("p", "e", {"k": 0})
    assert final["j"] == 14 and len(final["blob"]) == 2000
    assert [p.name for p in (tmp_path / "p" / "e").iterdir()] == [f"{config_hash({'k': 0})}.json"]


def test_get_or_compute_computes_once(store):
    calls = []

    def compute():
        calls.append(1)
        return {"acc": 3.0}, {"curve": np.ones(3)}

    a = store.get_or_compute("p", "e", {"c": 1}, compute)
    b = store.get_or_compute("p", "e", {"c": 1}, compute)
    assert a == b and len(calls) == 1 and a["acc"] == 3.0
    assert a["wall_time_s"] >= 0 and a["provenance"]["wall_time_s"] == a["wall_time_s"]
    assert store.get_arrays("p", "e", {"c": 1})["curve"].tolist() == [1, 1, 1]
    store.get_or_compute("p", "e", {"c": 1}, lambda: {"acc": 4.0}, recompute=True)
    assert store.get("p", "e", {"c": 1})["acc"] == 4.0


def test_bad_names_rejected(store):
    with pytest.raises(ValueError, match="profile"):
        store.path("../x", "e", {})


def test_checkpoint_roundtrip_and_corrupt_file(tmp_path):
    path = tmp_path / "ckpt" / "last.pt"
    save_checkpoint(path, {"w": torch.arange(3.0), "epoch": 2, "hist": {"a": [1.0]}})
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and state["w"].tolist() == [0.0, 1.0, 2.0]
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        load_checkpoint(path)
    assert path.read_bytes() == b"this is not a checkpoint"  # left as it was


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_checkpoint_never_unpickles_objects(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"x": _Evil()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert "unpickled!" not in capsys.readouterr().out


def test_result_files_are_validated_on_read(store):
    """``get`` and ``list`` name a file that is not a result (the fault catalogue has every kind)."""
    from msr.results import ResultError

    store.put("p", "e", {"k": 1}, {"v": 1})
    bad = store.path("p", "e", {"k": 2})
    bad.write_text('{"v": 1}')
    with pytest.raises(ResultError, match=re.escape(str(bad)) + ".*lacks the key.*config, hash, provenance"):
        store.list("p", "e")
    with pytest.raises(ResultError, match="delete it"):
        store.get("p", "e", {"k": 2})


def test_arrays_belong_to_their_result(store):
    store.put("p", "e", {"k": 1}, {"v": 1}, arrays={"a": np.arange(3)})
    assert store.get("p", "e", {"k": 1})["arrays_sha256"]
    store.put("p", "e", {"k": 1}, {"v": 2})  # recomputed without arrays: the old ones go
    assert store.get_arrays("p", "e", {"k": 1}) is None
    assert not store.path("p", "e", {"k": 1}).with_suffix(".npz").exists()


def test_every_committed_training_result_is_one_the_sweeps_still_ask_for():
    """A changed definition (model, recipe, loop) changes the keys the sweeps look up, and a
    result stored under an old key would sit in ``results/fmnist`` unused while its chapter
    says "not computed": every committed training result of the published profile must be
    the key of a config its experiment builds today, for some seed."""
    from pathlib import Path

    from msr.sweep import EXPERIMENTS, experiment_configs

    root = Path(__file__).resolve().parents[1] / "results" / "fmnist"
    found = 0
    for name in EXPERIMENTS:
        stored = {p.stem for p in (root / name).glob("*.json")}
        if not stored:
            continue
        wanted = {c.hash() for c in experiment_configs(name, "fmnist", seeds=tuple(range(3)))}
        assert stored <= wanted, f"{name}: results no experiment config asks for: {sorted(stored - wanted)}"
        found += len(stored)
    assert found >= 1  # the short run, at least


class _Reads(ResultsStore):
    """A store that notes every result file a chapter looks up (``get``) or lists."""

    def __init__(self, root):
        super().__init__(root)
        self.read: set = set()

    def get(self, profile, experiment, config):
        self.read.add(self.path(profile, experiment, config))
        return super().get(profile, experiment, config)

    def list(self, profile, experiment):
        self.read.update((self.root / profile / experiment).glob("*.json"))
        return super().list(profile, experiment)


def test_every_committed_result_is_one_a_chapter_still_reads(tmp_path, monkeypatch):
    """The keys of analysis items (untrained networks, firing rates, energy, ...) hold the
    configs they were computed from; a change of those (a base config, a version) leaves
    the old file unread while the book says "not computed".  Every committed fmnist
    result must be looked up by some chapter in render-only mode."""
    import shutil
    from pathlib import Path

    from msr.chapters import ChapterContext, collect

    monkeypatch.setenv("MSR_OFFLINE", "1")
    committed = Path(__file__).resolve().parents[1] / "results" / "fmnist"
    shutil.copytree(committed, tmp_path / "fmnist")  # a chapter's cheap item may be computed: not in the tree
    store = _Reads(tmp_path)
    collect(ChapterContext("fmnist", store=store, quiet=True))
    files = {p for p in (tmp_path / "fmnist").glob("*/*.json")}
    unread = sorted(str(p.relative_to(tmp_path)) for p in files - store.read)
    assert len(files) >= 5 and unread == []
