"""Budgeted commands: deadline in the training loop, per-run analyses, pack / unpack / resume."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from msr import budget, chapters, pending, per_run
from msr import pack as packing
from msr.bench.storage import store_result as store_bench
from msr.budget import BudgetExhausted, Deadline, checkpoint_bytes, experiment_names, parse_duration, run_pending
from msr.profiles import PROFILES
from msr.provenance import hardware_slug
from msr.results import ResultsStore, load_checkpoint
from msr.sweep import describe, experiment_configs
from msr.train import train

from conftest import nan_loss_at_step

ROOT = Path(__file__).resolve().parents[1]
TINY_SIZES = dict(samples=4, grid=3, probes=1, iso_depths=(8,), iso_batch=2)
DEPTHS = (8, 44)  # 44: the SSIM and landscape analyses run too
PART = 256 * 1024  # a small part size, so that a tiny model's checkpoint is split


class StepDeadline:
    """A deadline that passes after ``steps`` checks of the training loop (which asks
    ``passed()``); ``left()`` (asked before a run or an analysis) never counts."""

    def __init__(self, steps: int):
        self.steps, self.calls = steps, 0

    def passed(self) -> bool:
        self.calls += 1
        return self.calls > self.steps

    def left(self) -> float:
        return 0.0 if self.calls >= self.steps else math.inf

    def with_reserve(self) -> "StepDeadline":
        return self  # the training loop's checks count the same steps


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine this module then takes seconds, not minutes."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small():
    """The smoke profile with Table II at depths 8 and 44 and tiny analyses."""
    with pytest.MonkeyPatch.context() as mp:
        smoke = PROFILES["smoke"]
        mp.setitem(PROFILES, "smoke", replace(smoke, experiments={**smoke.experiments, "table2": {"depths": DEPTHS}}))
        mp.setattr(per_run, "analysis_sizes", lambda profile: dict(TINY_SIZES))
        mp.setenv("MSR_OFFLINE", "1")
        yield PROFILES["smoke"]


@pytest.fixture(scope="module")
def reference(small, tmp_path_factory):
    """An uninterrupted budgeted sweep of Table II: ``(results root, outcome)``."""
    root = tmp_path_factory.mktemp("reference")
    out = run_pending(["table2"], small, store=ResultsStore(root / "results"), run_dir=root / "runs",
                      log=lambda *a: None)
    return root / "results", out


def _metrics(root: Path) -> dict:
    """Every stored result without what depends on the clock or the machine."""
    out = {}
    for p in sorted(root.rglob("*.json")):
        d = {k: v for k, v in json.loads(p.read_text()).items() if k not in ("provenance", "wall_time_s", "runtime")}
        if isinstance(d.get("epochs"), dict):
            d["epochs"] = {k: v for k, v in d["epochs"].items() if k not in ("epoch_time", "images_per_s")}
        out[str(p.relative_to(root))] = d
    for p in sorted(root.rglob("*.npz")):
        with np.load(p) as z:
            out[str(p.relative_to(root))] = {k: z[k].tolist() for k in z.files}
    return out


# ------------------------------------------------------------------ pieces ----

def test_parse_duration_and_size():
    assert [parse_duration(t) for t in ("9m", "90s", "1h30m", "540", " 2m 5s", 12)] == [540, 90, 5400, 540, 125, 12]
    for bad in ("9 minutes", "", "-5s", "m"):
        with pytest.raises(ValueError, match="not understood"):
            parse_duration(bad)
    assert packing.parse_size("15MiB") == 15 * 2**20 and packing.parse_size("512KiB") == 2**19
    with pytest.raises(ValueError, match="e.g. 15MiB"):
        packing.parse_size("15 megs")


def test_deadline_checkpoints_the_run_and_resume_is_exact(tiny, tmp_path):
    cfg = tiny(epochs=2, batch_size=16, subset=64, dropout=0.2)  # 4 steps per epoch
    ref = train(cfg, profile="s", experiment="e", store=ResultsStore(tmp_path / "ref"), run_dir=tmp_path / "rr")
    store = ResultsStore(tmp_path / "res")
    with pytest.raises(BudgetExhausted, match=r"stopped at epoch 2/2, step 6; checkpoint saved"):
        train(cfg, profile="s", experiment="e", store=store, run_dir=tmp_path / "runs", deadline=StepDeadline(6))
    ckpt = next((tmp_path / "runs").rglob("last.pt"))
    assert load_checkpoint(ckpt)["step"] == 6 and store.get("s", "e", cfg.hash_dict()) is None
    done = train(cfg, profile="s", experiment="e", store=store, run_dir=tmp_path / "runs")
    assert done["steps"] == ref["steps"] and done["final"] == ref["final"]
    assert done["epochs"]["test_loss"] == ref["epochs"]["test_loss"]
    # a real clock: a deadline already passed stops after the first step
    with pytest.raises(BudgetExhausted, match="step 1;"):
        train(cfg.replace(seed=3), profile="s", experiment="e", store=store, run_dir=tmp_path / "runs",
              deadline=Deadline.after(-1.0))


def test_value_order_skips_unknown_names(small, tmp_path):
    p = replace(small, order=("ablation_not_yet", "no_such_experiment"))
    lines = []
    out = run_pending(["all"], p, store=ResultsStore(tmp_path), run_dir=tmp_path / "runs", log=lines.append)
    assert out.trained == [] and out.stopped is None and len(out.skipped) == 2
    assert "'ablation_not_yet' is in the value order but not an experiment msr.sweep knows; skipped" in lines[0]
    with pytest.raises(ValueError, match="unknown experiment.s. tabel2; valid: all, table2, init"):
        experiment_names(["tabel2"], "smoke")
    assert experiment_names(["all"], "fmnist")[:5] == ["table2", "init", "table6", "deep", "two_phase"]


def test_status_counts_each_run_by_its_state(small, tmp_path, capsys):
    """``msr status``: stored (with the analyses it lacks), interrupted, unfinished,
    diverged and to-train runs, per entry of the value order, read from the store and
    the run folders."""
    from msr.cli import main

    store, runs = ResultsStore(tmp_path / "results"), tmp_path / "runs"
    tasks, _ = budget.plan(["table2", "two_phase"], small, runs)
    t = [x for x in tasks if x.entry == "table2"]
    store.put("smoke", "table2", t[0].cfg.hash_dict(), {"wall_time_s": 12.0})
    for task, mark in zip(t[1:4], ("last.pt", budget.UNFINISHED, budget.DIVERGED), strict=True):
        Path(task.folder).mkdir(parents=True)
        (Path(task.folder) / mark).write_text("{}")
    rows, unknown = pending.status(["table2", "two_phase"], small, store=store, run_dir=runs)
    table2, two_phase = rows
    assert unknown == [] and (table2.runs, two_phase.runs) == (8, 2)
    assert dict(table2.states) == {"stored": 1, "interrupted": 1, "unfinished": 1, "diverged": 1, "to train": 4}
    assert set(table2.analyses) == set(per_run.pending("table2", t[0].cfg, "smoke", store)) and table2.analyses
    assert not table2.done and dict(two_phase.states) == {"to train": 2}
    assert main(["status", "table2", "two_phase", "--profile", "smoke", "--results", str(tmp_path / "results"),
                 "--runs", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "smoke: 1 of 10 runs stored, in value order"
    assert lines[1].split()[:3] == ["table2", "pending", "1/8"]
    for part in ("1 interrupted", "1 unfinished", "1 diverged", "4 to train", "analyses missing: ",
                 "median wall time 12 s per stored run"):
        assert part in lines[1], (part, lines[1])
    assert lines[-1] == "next: table2, two_phase"
    # the book's table reads the store alone: the marks in runs/ do not change it
    (book_row,) = [r for r in pending.plan_table(store, small) if r["experiment"] == "table2"]
    assert (book_row["runs planned"], book_row["stored"], book_row["analyses missing"]) == \
        (8, 1, sum(table2.analyses.values()))
    quick = pending.ExperimentStatus("init", runs=2, states=Counter({"stored": 2}), wall_s=[0.3, 0.5])
    assert "median wall time 0.4 s per stored run" in pending.format_status([quick], [], "smoke")[1]
    p = replace(small, order=("table2", "no_such_experiment"))
    rows, unknown = pending.status(["all"], p, store=store, run_dir=runs)
    assert [r.entry for r in rows] == ["table2"] and unknown == ["no_such_experiment"]
    assert "no_such_experiment  skipped" in "\n".join(pending.format_status(rows, unknown, "smoke"))


def test_status_estimates_the_training_left_from_the_stored_runs(small, tmp_path):
    """Once an experiment has a stored run with its size, ``msr status`` adds up the time its
    other runs need at that speed (:func:`msr.budget.estimate_seconds`: the run's own mark
    where it has one); a diverged run needs none."""
    store, runs = ResultsStore(tmp_path / "results"), tmp_path / "runs"
    tasks = [t for t in budget.plan(["table2"], small, runs)[0]]
    first, rest = tasks[0], tasks[1:]
    store.put("smoke", "table2", first.cfg.hash_dict(),
              {"wall_time_s": 60.0, "params": budget._sizes(first.cfg)[0], "runtime": {"concurrent_runs": 1}})
    Path(rest[0].folder).mkdir(parents=True)
    (Path(rest[0].folder) / budget.UNFINISHED).write_text(json.dumps({"elapsed_s": 30.0, "fraction": 0.5}))
    Path(rest[1].folder).mkdir(parents=True)
    (Path(rest[1].folder) / budget.DIVERGED).write_text("nan\n")
    (row,), _ = pending.status(["table2"], small, store=store, run_dir=runs)
    by_size = sum(60.0 * budget._sizes(t.cfg)[0] / budget._sizes(first.cfg)[0] for t in rest[2:])
    assert row.left_s == pytest.approx(60.0 + by_size) and row.unknown == 0
    line = pending.format_status([row], [], "smoke")[1]
    assert f"about {row.left_s / 60:.1f} min of training left at the speed of its stored runs" in line
    (fresh,), _ = pending.status(["table2"], small, store=ResultsStore(tmp_path / "none"), run_dir=runs)
    # nothing stored: only the run with its own mark is estimated (the diverged one needs nothing)
    assert fresh.left_s == pytest.approx(60.0) and fresh.unknown == len(tasks) - 2


# --------------------------------------------------------- per-run analyses ----

def test_analyses_are_stored_right_after_training(reference):
    results, out = reference
    assert len(out.trained) == 8 and out.stopped is None
    count = {f: len(list((results / "smoke" / f).glob("*.json"))) for f in
             ("state_change", "ssim", "isometry", "firing", "energy_measured", "landscape")}
    assert count == {"state_change": 2, "ssim": 2, "isometry": 4, "firing": 8, "energy_measured": 2, "landscape": 2}
    item = json.loads(next((results / "smoke" / "ssim").glob("*.json")).read_text())
    assert item["config"]["kind"] == "ssim_run" and item["config"]["experiment"] == "table2"
    assert (results / "smoke" / "table2" / f"{item['config']['run']}.json").exists()


def test_chapters_assemble_per_run_items_without_checkpoints(reference, tmp_path, monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(reference[0], results)  # the chapters add their cheap items
    monkeypatch.chdir(tmp_path)  # no runs/ here: nothing can be loaded or retrained
    ctx = chapters.ChapterContext("smoke", store=ResultsStore(results), render_only=True, quiet=True)
    un = chapters.unavailing.compute(ctx)
    assert set(un["ssim"]["series"]) == {"vanilla-44", "ms-44"} and len(un["ssim"]["provenances"]) == 2
    assert len(un["ssim"]["series"]["ms-44"]["ssim"]) == 21  # one value per block: 21 blocks
    # the claims judge every trained vanilla depth; the figure draws the deepest beside the untrained
    assert set(un["state_change"]["rows"]) == {f"vanilla-{d} trained" for d in DEPTHS}
    assert un["state_change"]["drawn"] == ["vanilla-44 trained"] and len(un["state_change"]["drawn_provenances"]) == 1
    iso = chapters.isometry.compute(ctx)["isometry"]
    assert {(r["block"], r["depth"], r["state"]) for r in iso["rows"]} == {
        (b, d, "trained") for b in ("vanilla", "ms") for d in DEPTHS}
    fi = chapters.firing.compute(ctx)
    # the claim and table take every trained depth; Fig. 3 draws the deepest, and only its rasters travel
    assert set(fi["firing"]["models"]) == {f"cifar_resnet{d}" for d in DEPTHS} and fi["firing"]["drawn"] == [
        "cifar_resnet44"] and fi["rates"]["cifar_resnet44"]["provenance"]
    assert [k for k in fi["rasters"]] == ["cifar_resnet44__0", "cifar_resnet44__1", "cifar_resnet44__2"]
    assert fi["rasters"]["cifar_resnet44__0"].shape[1] == 4 * 2  # 4 samples x T = 2
    en = chapters.energy.compute(ctx)["measured"]
    assert set(en) == {f"cifar_resnet{d}" for d in DEPTHS} and en["cifar_resnet44"]["T"] == 2
    ls = chapters.landscape.compute(ctx)["landscape"]
    assert set(ls["landscapes"]) == {"vanilla-44", "ms-44"}
    assert np.asarray(ls["landscapes"]["ms-44"]["loss"]).shape == (3, 3)
    assert not (tmp_path / "runs").exists()


# -------------------------------------------------------- pack, unpack, resume ----

def test_interrupted_sweep_resumed_from_the_pack_matches_an_uninterrupted_one(reference, small, tmp_path):
    ref_results, _ = reference
    first = tmp_path / "first"
    lines = []
    # 5 checks per run of 2 epochs x 2 steps: the 4th run (vanilla-44) stops in its second epoch
    out = run_pending(["table2"], small, deadline=StepDeadline(18), store=ResultsStore(first / "results"),
                      run_dir=first / "runs", log=lines.append)
    assert out.stopped and "stopped at epoch 2/2, step 3" in out.stopped and len(out.trained) == 3
    (row,), _ = pending.status(["table2"], small, store=ResultsStore(first / "results"), run_dir=first / "runs")
    assert (row.runs, row.states["stored"], row.states["interrupted"], row.states["to train"]) == (8, 3, 1, 4)
    assert not row.analyses and not row.done and len(row.wall_s) == 3
    m = packing.pack(tmp_path / "out", "smoke", store_root=first / "results", run_dir=first / "runs",
                     note=out.as_dict(), log=lines.append)
    ck = [f for f in m["files"] if f["path"].startswith("runs/")]
    assert len(ck) == 1 and ck[0]["path"].endswith("/last.pt") and "epoch 2, step 3" in ck[0]["why"]
    assert len(list((tmp_path / "out").iterdir())) <= 8 and m["run"]["stopped"] == out.stopped
    # a fresh machine: nothing but the pack
    fresh = tmp_path / "fresh"
    counts = packing.unpack(tmp_path / "out", store_root=fresh / "results", run_dir=fresh / "runs", log=lines.append)
    assert counts["new"] == len(m["files"])
    rest = run_pending(["table2"], small, store=ResultsStore(fresh / "results"), run_dir=fresh / "runs",
                       log=lines.append)
    assert len(rest.trained) == 5 and rest.stopped is None
    (row,), _ = pending.status(["table2"], small, store=ResultsStore(fresh / "results"), run_dir=fresh / "runs")
    assert row.done and row.states["stored"] == 8
    assert _metrics(fresh / "results") == _metrics(ref_results)
    # the second pack sends the first's results again: home needs only the last pack
    packing.pack(tmp_path / "out2", "smoke", store_root=fresh / "results", run_dir=fresh / "runs",
                 note=rest.as_dict(), log=lines.append)
    home = tmp_path / "home"
    packing.unpack(tmp_path / "out2", store_root=home / "results", run_dir=home / "runs", log=lines.append)
    assert _metrics(home / "results") == _metrics(ref_results)


def _interrupted(runs: Path) -> set[str]:
    return {ck.parent.name for ck in runs.rglob("last.pt")}


def test_two_jobs_interrupted_and_resumed_from_the_pack_match_an_uninterrupted_sweep(reference, small, tmp_path):
    """``--jobs 2``: each worker's run stops at its third step (every worker gets its own
    copy of the deadline); the first two runs of the value order hold checkpoints, no
    third run starts; resumed with two jobs on a fresh machine, the results equal those
    of the one-process sweep."""
    ref_results, _ = reference
    first = tmp_path / "first"
    out = run_pending(["table2"], small, deadline=StepDeadline(3), store=ResultsStore(first / "results"),
                      run_dir=first / "runs", jobs=2, log=lambda *a: None)
    assert out.trained == [] and out.stopped.count("stopped at epoch 2/2, step 3") == 2
    plain = [c.hash() for c in experiment_configs("table2", small, (0,))][:2]  # plain-8 and plain-44
    assert _interrupted(first / "runs") == set(plain)
    packing.pack(tmp_path / "out", "smoke", store_root=first / "results", run_dir=first / "runs",
                 note=out.as_dict(), log=lambda *a: None)
    fresh = tmp_path / "fresh"
    packing.unpack(tmp_path / "out", store_root=fresh / "results", run_dir=fresh / "runs", log=lambda *a: None)
    rest = run_pending(["table2"], small, store=ResultsStore(fresh / "results"), run_dir=fresh / "runs", jobs=2,
                       log=lambda *a: None)
    assert len(rest.trained) == 8 and rest.stopped is None and rest.failed == []
    assert _metrics(fresh / "results") == _metrics(ref_results)
    one = json.loads(next((fresh / "results" / "smoke" / "table2").glob("*.json")).read_text())
    assert one["runtime"]["concurrent_runs"] == 2 and one["provenance"]["speed"]["concurrent_runs"] == 2


@pytest.fixture
def plain_first(small, monkeypatch):
    """Table II's runs in the builder order of blocks, PlainNet first (8, 44), then
    vanilla, wolif and MS: a small run before a large one of the same experiment, the
    order the checkpoint-limit tests below are written for, whatever the value order of
    :func:`msr.sweep.table2_order`."""
    from msr import sweep

    rank = {b: i for i, b in enumerate(sweep.TABLE2_BLOCKS)}
    monkeypatch.setitem(sweep.EXPERIMENTS, "table2",
                        lambda p: sorted(sweep.table2(p), key=lambda c: (rank[c.block], c.depth)))
    return small


@pytest.mark.parametrize("limit_mib, started", [(5.0, ("plain",)), (5.6, ("plain", "vanilla"))])
def test_jobs_keep_the_checkpoints_a_stop_leaves_within_the_limit(plain_first, tmp_path, limit_mib, started):
    """Value order: plain-8 (0.6 MB of checkpoint), plain-44 (5.3 MB), vanilla-8 (0.6 MB), ...
    Under 5.0 MiB plain-44 can never travel: it would have to train alone, on an estimate
    from plain-8's time, so it waits for plain-8 and nothing after it starts.  Under
    5.6 MiB it could travel, alone, but not beside plain-8: it waits for room, and
    vanilla-8 starts."""
    limit = int(limit_mib * 2**20)
    small = plain_first
    out = run_pending(["table2"], small, deadline=StepDeadline(3), store=ResultsStore(tmp_path / "results"),
                      run_dir=tmp_path / "runs", jobs=2, max_checkpoint=limit, log=lambda *a: None)
    cfgs = {describe(c): c for c in experiment_configs("table2", small, (0,))}
    hashes = {cfgs[f"resnet8 {b} synthetic T=2"].hash() for b in started}
    assert _interrupted(tmp_path / "runs") == hashes and out.skipped == []
    assert sum(checkpoint_bytes(c) for c in cfgs.values() if c.hash() in hashes) <= limit


class LeftDeadline(StepDeadline):
    """Passes after ``steps`` checks; ``left()`` is always ``seconds``."""

    def __init__(self, steps: int, seconds: float):
        super().__init__(steps)
        self.seconds = seconds

    def left(self) -> float:
        return self.seconds


def test_a_run_whose_checkpoint_cannot_travel_starts_only_if_its_estimate_fits(plain_first, tmp_path):
    small = plain_first
    cfgs = {describe(c): c for c in experiment_configs("table2", small, (0,))}
    limit = 2 * 2**20  # depth 8 travels, depth 44 does not
    # a stored run of the experiment with 10 M parameters that took 10,000 s: a run of 0.66 M needs about 660 s
    store = ResultsStore(tmp_path / "results")
    store.put("smoke", "table2", {"earlier": 1}, {"wall_time_s": 1e4, "params": 10**7})
    lines = []
    out = run_pending(["table2"], small, deadline=LeftDeadline(10**6, 500.0), store=store, run_dir=tmp_path / "runs",
                      max_checkpoint=limit, log=lines.append)
    assert len(out.trained) == 4 and out.stopped is None
    assert out.skipped == [f"table2/{c.hash()}: checkpoint too large to travel; it needs about "
                           f"{1e4 * budget._sizes(c)[0] / 10**7:.0f} s of training, 500 s are left"
                           for c in cfgs.values() if c.depth == 44]
    # enough time: it trains alone; stopped by the budget, its time and progress are kept for the next command
    store, runs = ResultsStore(tmp_path / "r2"), tmp_path / "runs2"
    out = run_pending(["table2"], small, deadline=LeftDeadline(5 + 3, 10**6), store=store, run_dir=runs,
                      max_checkpoint=limit, log=lines.append)
    plain44 = cfgs["resnet44 plain synthetic T=2"]
    folder = runs / "smoke" / "table2" / plain44.hash()
    mark = json.loads((folder / budget.UNFINISHED).read_text())
    assert out.trained == [f"table2/{cfgs['resnet8 plain synthetic T=2'].hash()}"] and "step 3;" in out.stopped
    assert any("training it alone" in line for line in lines) and mark["fraction"] == 0.75
    assert budget.estimate_seconds(plain44, folder, []) == pytest.approx(mark["elapsed_s"] / 0.75)
    why = {n: w for n, _, w in packing.needed_checkpoints("smoke", store, runs)}
    assert f"runs/smoke/table2/{plain44.hash()}/{budget.UNFINISHED}" in why


def test_an_estimate_from_a_run_that_shared_the_machine_counts_its_share():
    cfg = experiment_configs("table2", PROFILES["smoke"], (0,))[0]
    params = budget._sizes(cfg)[0]
    alone = {"wall_time_s": 300.0, "params": 3 * params, "runtime": {"concurrent_runs": 1}}
    assert budget.estimate_seconds(cfg, "nowhere", [alone]) == pytest.approx(100.0)
    shared = {**alone, "runtime": {"concurrent_runs": 2}, "params": params}
    assert budget.estimate_seconds(cfg, "nowhere", [alone, shared]) == pytest.approx(100.0)  # the largest run
    assert budget.estimate_seconds(cfg, "nowhere", [shared]) == pytest.approx(150.0)


def test_a_run_that_cannot_travel_gives_up_after_an_epoch_and_the_others_go_on(small, tmp_path):
    """Depth 44 cannot travel under 2 MiB.  Its estimate fits (a stored run of 10 M
    parameters took a millisecond), so it trains alone; after its first epoch the second
    needs longer than the 0.01 s left: it gives up with its checkpoint and progress, the
    budget is not spent and every depth-8 run trains.  Without a budget, on a machine its
    checkpoint did not travel to, it then trains alone, and its result says so."""
    cfgs = {describe(c): c for c in experiment_configs("table2", small, (0,))}
    store, runs, limit = ResultsStore(tmp_path / "results"), tmp_path / "runs", 2 * 2**20
    store.put("smoke", "table2", {"earlier": 1}, {"wall_time_s": 1e-3, "params": 10**7})
    lines = []
    out = run_pending(["table2"], small, deadline=LeftDeadline(10**6, 0.01), store=store, run_dir=runs, jobs=2,
                      max_checkpoint=limit, log=lines.append)
    deep = [c for c in cfgs.values() if c.depth == 44]
    assert out.stopped is None and out.failed == []
    assert sorted(out.trained) == sorted(f"table2/{c.hash()}" for c in cfgs.values() if c.depth == 8)
    assert [s.split(": ")[0] for s in out.skipped] == [f"table2/{c.hash()}" for c in deep]
    assert all("gave up after epoch 1/2" in s for s in out.skipped)
    for c in deep:
        folder = runs / "smoke" / "table2" / c.hash()
        assert json.loads((folder / budget.UNFINISHED).read_text())["fraction"] == 0.5
        assert load_checkpoint(folder / "last.pt")["epoch"] == 1
    rest = run_pending(["table2"], small, store=store, run_dir=tmp_path / "fresh", jobs=2, max_checkpoint=limit,
                       log=lines.append)
    assert sorted(rest.trained) == sorted(f"table2/{c.hash()}" for c in deep) and rest.failed == []
    shared = {c.depth: store.get("smoke", "table2", c.hash_dict())["runtime"]["concurrent_runs"]
              for c in cfgs.values()}
    assert shared == {8: 2, 44: 1}


def test_a_run_trained_alone_without_analyses_trains_into_the_reserve(small, tmp_path):
    """MS-ResNet482 (``deep``: no analyses) cannot travel under 1 MiB; its estimate (31 s
    from a stored run of 10 M parameters that took 40 s) does not fit the 10 s of training
    time left, but fits once the reserve (1,000 s less the packing time), which no other run
    needs while it trains alone, is counted.  A Table II run, which has analyses, keeps the
    training deadline; a run trained beside others keeps it too and need not finish."""
    deadline = Deadline(10.0, clock=lambda: 0.0, reserve=1000.0)
    deep = experiment_configs("deep", small, (0,))
    t2 = experiment_configs("table2", small, (0,))[0]

    def started(name, cfg, what):
        return budget._started_as(budget.Task(name, name, cfg, tmp_path, name), what, deadline)

    assert started("deep", deep[1], "alone")[1]["deadline"].left() == 1010 - budget.PACK_SECONDS
    task, how = started("table2", t2, "alone")
    assert how["deadline"].left() == 10 and how["must_finish"] and task.cfg.concurrent_runs == 1
    how = started("deep", deep[1], "train")[1]
    assert how == dict(train_it=True, must_finish=False, deadline=deadline, train_deadline=how["train_deadline"])
    assert how["train_deadline"].left() == 1010 - budget.PACK_SECONDS  # a run beside others trains on too
    store = ResultsStore(tmp_path / "results")
    store.put("smoke", "deep", {"earlier": 1}, {"wall_time_s": 40.0, "params": 10**7})
    lines = []
    out = run_pending(["deep"], small, deadline=deadline, store=store, run_dir=tmp_path / "runs", max_checkpoint=2**20,
                      log=lines.append)
    assert sorted(out.trained) == sorted(f"deep/{c.hash()}" for c in deep) and out.skipped == []
    assert any(f"about {40 * budget._sizes(deep[1])[0] / 10**7:.0f} s of 995 s" in line for line in lines)


class Ticks:
    """A clock that advances one second at every reading."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def test_runs_train_on_into_the_reserve_and_one_that_finishes_there_leaves_its_analyses(small, tmp_path):
    """The deadline passes after 3 readings, but the reserve (100 s, less the packing
    time) keeps the first run training: it finishes its 4 steps and is stored, no analysis
    starts after the deadline, and no run starts either.  Its weights travel with the
    pack, and the next command, on another machine, analyses it first, in its turn in the
    value order."""
    deadline = Deadline(3.0, clock=Ticks(), reserve=100.0)
    store, runs = ResultsStore(tmp_path / "results"), tmp_path / "runs"
    out = run_pending(["table2"], small, deadline=deadline, store=store, run_dir=runs, log=lambda *a: None)
    first = experiment_configs("table2", small, (0,))[0]
    assert out.trained == [f"table2/{first.hash()}"] and out.analysed == []
    assert out.stopped == f"time budget reached during the analyses of {budget.plan(['table2'], small)[0][0].tag}"
    assert [f.name for f in (runs / "smoke" / "table2").iterdir()] == [first.hash()]  # nothing else started
    assert per_run.pending("table2", first, "smoke", store) == [a.kind for a in per_run.applicable("table2", first)]
    why = {n: w for n, _, w in packing.needed_checkpoints("smoke", store, runs)}
    assert list(why) == [f"runs/smoke/table2/{first.hash()}/model.pt"]
    packing.pack(tmp_path / "out", "smoke", store_root=store.root, run_dir=runs, log=lambda *a: None)
    fresh = tmp_path / "fresh"
    packing.unpack(tmp_path / "out", store_root=fresh / "results", run_dir=fresh / "runs", log=lambda *a: None)
    nxt = run_pending(["table2"], small, deadline=StepDeadline(1), store=ResultsStore(fresh / "results"),
                      run_dir=fresh / "runs", log=lambda *a: None)
    assert nxt.analysed and nxt.analysed[0].startswith(f"table2/{first.hash()}: ")
    assert per_run.pending("table2", first, "smoke", ResultsStore(fresh / "results")) == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_start_a_run_once_the_run_its_weights_come_from_is_stored(small, tmp_path, monkeypatch, jobs):
    """... and report progress after each run and every PROGRESS_EVERY seconds in which none
    ended, with one job too (from a thread beside the training), never after returning."""
    monkeypatch.setattr(budget, "PROGRESS_EVERY", 0.05)
    seen = []
    out = run_pending(["two_phase"], small, store=ResultsStore(tmp_path / "results"), run_dir=tmp_path / "runs",
                      jobs=jobs, on_progress=lambda o: seen.append(list(o.trained)), log=lambda *a: None)
    calls = len(seen)
    time.sleep(0.2)
    assert len(seen) == calls  # the progress thread ended with the run
    phase1, phase2 = experiment_configs("two_phase", small, (0,))
    assert phase2.init_from == f"hash:{phase1.hash()}"
    assert out.trained == [f"two_phase/{phase1.hash()}", f"two_phase/{phase2.hash()}"] and out.skipped == []
    assert seen[0] == [] and seen[-1] == out.trained  # while phase 1 trained, ..., once phase 2 ended
    assert seen.count(out.trained[:1]) >= 2  # after phase 1, and while phase 2 trained


def test_a_failing_run_is_reported_and_the_others_go_on(small, tmp_path, monkeypatch):
    import msr.train

    real = msr.train.train
    first = experiment_configs("two_phase", small, (0,))[0].hash()

    def broken(cfg, **kw):
        if cfg.hash() == first:
            raise RuntimeError("a bug in this run")
        return real(cfg, **kw)

    monkeypatch.setattr(msr.train, "train", broken)
    lines = []
    out = run_pending(["two_phase", "short"], small, store=ResultsStore(tmp_path / "results"),
                      run_dir=tmp_path / "runs", log=lines.append)
    assert out.failed == [f"two_phase/{first}: RuntimeError: a bug in this run"]
    assert [t.split("/")[0] for t in out.trained] == ["short"]  # phase 2 lacks its start weights; short ran
    assert any("Traceback" in line and "a bug in this run" in line for line in lines)
    assert lines[-2].startswith("1 run(s) failed") and lines[-1].startswith("nothing pending is left")


def test_runs_failing_one_after_the_other_stop_the_command(small, tmp_path, monkeypatch):
    """A fault every run meets: after :data:`msr.budget.FAILURES_IN_A_ROW` failures in a row
    no run starts any more; a run that trains between two failures resets the count."""
    import msr.train

    real = msr.train.train
    order = [t.cfg.hash() for t in budget.plan(["table2"], small, run_dir=None)[0]]
    monkeypatch.setattr(budget, "FAILURES_IN_A_ROW", 2)

    def command(broken_ones, root):
        def train(cfg, **kw):
            if cfg.hash() in broken_ones:
                raise RuntimeError("CUDA error: an illegal memory access was encountered")
            return real(cfg, **kw)

        monkeypatch.setattr(msr.train, "train", train)
        return run_pending(["table2"], small, store=ResultsStore(root / "results"), run_dir=root / "runs",
                           log=lambda *a: None)

    out = command(set(order), tmp_path / "all")
    assert len(out.failed) == 2 and out.trained == []
    assert out.stopped == "2 runs failed one after the other (the last: RuntimeError); no run starts after them"
    out = command({order[0], order[2]}, tmp_path / "some")  # a success between the two failures
    assert len(out.failed) == 2 and out.stopped is None and len(out.trained) == len(order) - 2


def _interrupted_run(tiny, tmp_path):
    """A stored result and one interrupted run of a user's own (``msr train``'s folder) under tmp_path."""
    store = ResultsStore(tmp_path / "results")
    cfg = tiny(depth=8, block="ms", subset=32, batch_size=16)
    with pytest.raises(BudgetExhausted):
        train(cfg, profile="smoke", experiment="train", store=store, run_dir=tmp_path / "runs",
              deadline=StepDeadline(3))
    store.put("smoke", "eq8", {"k": 1}, {"value": 1.0})
    return store


def test_pack_splits_checkpoints_within_the_file_limits(tiny, tmp_path):
    store = _interrupted_run(tiny, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "gpu_run.log").write_text("a log that travels too\n")
    m = packing.pack(out, "smoke", store_root=store.root, run_dir=tmp_path / "runs", part_bytes=PART,
                     log=lambda *a: None)
    parts = [p["file"] for a in m["archives"] for p in a["parts"]]
    ck = next(a for a in m["archives"] if a["name"] == "checkpoints.tar")
    assert len(ck["parts"]) >= 3 and parts[1:4] == ["checkpoints.tar.part00", "checkpoints.tar.part01",
                                                    "checkpoints.tar.part02"]
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and "gpu_run.log" in files and "manifest.json" in files
    assert all((out / f).stat().st_size <= PART for f in parts)
    # with fewer files allowed the checkpoint does not fit: left out, loudly, results still packed
    lines = []
    m = packing.pack(out, "smoke", store_root=store.root, run_dir=tmp_path / "runs", part_bytes=PART,
                     max_files=4, log=lines.append)
    assert [a["name"] for a in m["archives"]] == ["results.tar.gz"] and len(m["left_out"]) == 1
    assert any("WARNING" in line and "NOT packed" in line for line in lines)
    assert sorted(p.name for p in out.iterdir()) == ["gpu_run.log", "manifest.json", "results.tar.gz"]
    # the default part size stays under 16 MiB
    assert packing.PART_BYTES < 16 * 2**20 and packing.MAX_FILES == 8


def test_unpack_rejects_a_damaged_part_and_writes_nothing(tiny, tmp_path):
    store = _interrupted_run(tiny, tmp_path)
    out = tmp_path / "out"
    packing.pack(out, "smoke", store_root=store.root, run_dir=tmp_path / "runs", part_bytes=PART,
                 log=lambda *a: None)
    part = out / "checkpoints.tar.part01"
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"checkpoints\.tar\.part01 is damaged.*nothing was unpacked"):
        packing.unpack(out, store_root=tmp_path / "r2", run_dir=tmp_path / "k2", log=lambda *a: None)
    assert not (tmp_path / "r2").exists() and not (tmp_path / "k2").exists()
    part.unlink()
    with pytest.raises(ValueError, match=r"checkpoints\.tar\.part01 is missing"):
        packing.unpack(out, store_root=tmp_path / "r2", run_dir=tmp_path / "k2", log=lambda *a: None)


def _names(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


def test_a_pack_replaces_the_previous_one_so_that_the_folder_always_holds_a_whole_pack(tiny, tmp_path, monkeypatch):
    """Packing again into the same folder (after every run of a budgeted command): an
    unchanged archive stays as it is, a changed one is written under its other name, and
    the old files go only after the new manifest is in place; a pack killed before that
    leaves the previous pack whole, and the next pack clears what the killed one wrote."""
    import msr.results

    store = _interrupted_run(tiny, tmp_path)
    out, runs = tmp_path / "out", tmp_path / "runs"
    packing.pack(out, "smoke", store_root=store.root, run_dir=runs, log=lambda *a: None)
    assert _names(out) == ["checkpoints.tar", "manifest.json", "results.tar.gz"]
    ck = out / "checkpoints.tar"
    ck_id = (ck.stat().st_ino, ck.stat().st_mtime_ns)
    store.put("smoke", "eq8", {"k": 2}, {"value": 2.0})
    m = packing.pack(out, "smoke", store_root=store.root, run_dir=runs, log=lambda *a: None)
    assert _names(out) == ["checkpoints.tar", "manifest.json", "results.1.tar.gz"]
    assert (ck.stat().st_ino, ck.stat().st_mtime_ns) == ck_id  # the same checkpoint: not written again
    assert packing.verify(out) == m and len(m["files"]) == 3

    # the next pack is killed while it replaces the manifest: the one before stands, whole
    store.put("smoke", "eq8", {"k": 3}, {"value": 3.0})

    def killed(path, obj):
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as mp:
        mp.setattr(msr.results, "atomic_write_json", killed)
        with pytest.raises(KeyboardInterrupt):
            packing.pack(out, "smoke", store_root=store.root, run_dir=runs, log=lambda *a: None)
    assert _names(out) == ["checkpoints.tar", "manifest.json", "results.1.tar.gz", "results.tar.gz"]
    counts = packing.unpack(out, store_root=tmp_path / "r2", run_dir=tmp_path / "k2", log=lambda *a: None)
    assert counts["new"] == 3 and len(list((tmp_path / "r2" / "smoke" / "eq8").glob("*.json"))) == 2

    m = packing.pack(out, "smoke", store_root=store.root, run_dir=runs, log=lambda *a: None)
    assert _names(out) == ["checkpoints.tar", "manifest.json", "results.tar.gz"] and len(m["files"]) == 4
    packing.unpack(out, store_root=tmp_path / "r3", run_dir=tmp_path / "k3", log=lambda *a: None)
    assert len(list((tmp_path / "r3" / "smoke" / "eq8").glob("*.json"))) == 3


def test_the_packs_a_command_writes_as_it_goes_say_so_only_when_their_content_changed(tiny, tmp_path, capsys):
    """Each minute a budgeted command packs what it has so far; a pack whose archives are
    those of the last one (no run ended, no checkpoint changed) adds no log line, and a
    new result or a replaced checkpoint does."""
    from msr.cli.compute import interim_packer

    store = _interrupted_run(tiny, tmp_path)
    out, runs = tmp_path / "out", tmp_path / "runs"
    progress = interim_packer(out, "smoke", store.root, runs, lambda outcome: {"interim": True, "seen": outcome})

    def printed() -> list[str]:
        return [line for line in capsys.readouterr().out.splitlines() if line.startswith("pack (so far): ")]

    progress(1)
    assert len(printed()) == 1 and packing.verify(out)["run"] == {"interim": True, "seen": 1}
    progress(2)
    assert printed() == [] and packing.verify(out)["run"]["seen"] == 2  # packed again, silently
    store.put("smoke", "eq8", {"k": 2}, {"value": 2.0})
    progress(3)
    assert printed() == ["pack (so far): 2 results and 1 checkpoints in 3 files "
                         f"({sum(f.stat().st_size for f in out.iterdir()) / 2**20:.1f} MiB) in {out}"]
    ck = next(runs.rglob("last.pt"))
    ck.write_bytes(ck.read_bytes() + b"a later epoch")
    progress(4)
    assert len(printed()) == 1


def test_a_checkpoint_replaced_while_it_is_packed_is_listed_as_the_archive_holds_it(tiny, tmp_path, monkeypatch):
    """A run training beside the pack writes a new last.pt (atomically) while the pack reads
    the old one: the manifest's size and sha256 are those of the bytes archived, so the pack
    unpacks, with the checkpoint as it was when the pack opened it."""
    store = _interrupted_run(tiny, tmp_path)
    ck = next((tmp_path / "runs").rglob("last.pt"))
    before = ck.read_bytes()
    real = packing._Hashing.__init__

    def replaced_meanwhile(self, f):
        if f.name == str(ck):
            tmp = ck.with_name(".new.pt")
            tmp.write_bytes(before + b"a later epoch")
            os.replace(tmp, ck)
        real(self, f)

    monkeypatch.setattr(packing._Hashing, "__init__", replaced_meanwhile)
    packing.pack(tmp_path / "out", "smoke", store_root=store.root, run_dir=tmp_path / "runs", log=lambda *a: None)
    packing.unpack(tmp_path / "out", store_root=tmp_path / "r2", run_dir=tmp_path / "k2", log=lambda *a: None)
    assert (tmp_path / "k2" / ck.relative_to(tmp_path / "runs")).read_bytes() == before


def test_a_checkpoint_of_a_run_no_experiment_asks_for_any_more_does_not_travel(small, tmp_path):
    """A carried state outlives code changes (it is kept in git): an interrupted run of the
    paper's experiments whose configuration has since changed (its hash is no longer asked
    for) is listed as stale and not packed; the runs still asked for, and a user's own run
    (``msr train``'s folder), travel."""
    store, runs = ResultsStore(tmp_path / "results"), tmp_path / "runs"
    out = run_pending(["table2"], small, deadline=StepDeadline(3), store=store, run_dir=runs, log=lambda *a: None)
    assert out.stopped
    (asked,) = list(runs.rglob("last.pt"))
    for folder in ("table2/0123456789abcdef", "train/0123456789abcdef"):  # a changed config; a user's run
        (runs / "smoke" / folder).mkdir(parents=True)
        shutil.copyfile(asked, runs / "smoke" / folder / "last.pt")
    lines = []
    m = packing.pack(tmp_path / "out", "smoke", store_root=store.root, run_dir=runs, log=lines.append)
    assert m["stale"] == ["runs/smoke/table2/0123456789abcdef/last.pt"] and m["left_out"] == []
    assert sorted(f["path"] for f in m["files"] if f["path"].startswith("runs/")) == sorted(
        [f"runs/smoke/table2/{asked.parent.name}/last.pt", "runs/smoke/train/0123456789abcdef/last.pt"])
    assert any("0123456789abcdef/last.pt is not packed: no experiment of the smoke profile asks" in line
               for line in lines)


def test_discard_since_baseline_removes_what_this_copy_computed_and_keeps_the_rest(tmp_path):
    store, runs = ResultsStore(tmp_path / "results"), tmp_path / "runs"
    store.put("smoke", "table2", {"old": 1}, {"acc": 1.0})
    packing.record_baseline("smoke", store.root, runs)
    store.put("smoke", "table2", {"new": 1}, {"acc": 2.0})  # computed by a training that is then discarded
    ck = runs / "smoke" / "table2" / "abc" / "last.pt"
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"x")
    lines = []
    assert packing.discard_since_baseline("smoke", store.root, runs, log=lines.append) == 1
    assert store.get("smoke", "table2", {"old": 1}) is not None and store.get("smoke", "table2", {"new": 1}) is None
    assert not (runs / "smoke").exists() and packing.baseline_path("smoke", runs).exists()
    assert lines == [f"discarded 1 result(s) of smoke and the checkpoints in {runs / 'smoke'}"]


def test_keep_makes_the_state_a_verified_copy_of_the_pack(tiny, tmp_path):
    """``msr unpack DIR --keep STATE``: STATE becomes the pack (with the log beside it), whatever
    it held before; a damaged pack writes nothing and leaves STATE as it was."""
    from msr.cli import main

    store = _interrupted_run(tiny, tmp_path)
    out, state = tmp_path / "out", tmp_path / "repo" / ".gpustate"
    out.mkdir()
    (out / "gpu_run.log").write_text("self-check verdict [code=x gpu=y torch=z]: none\n")
    packing.pack(out, "smoke", store_root=store.root, run_dir=tmp_path / "runs", part_bytes=PART,
                 log=lambda *a: None)
    state.mkdir(parents=True)
    (state / "checkpoints.tar.part07").write_text("a part of an older pack")
    (state / "manifest.json").write_text("{}")
    for f in out.iterdir():
        f.chmod(0o444)  # files handed back by a GPU command may be read-only
    home = tmp_path / "home"
    assert main(["unpack", str(out), "--results", str(home / "results"), "--runs", str(home / "runs"),
                 "--keep", str(state)]) == 0
    assert _names(state) == _names(out) and (state / "gpu_run.log").read_text().startswith("self-check verdict")
    assert sorted(p.name for p in state.parent.iterdir()) == [".gpustate"]  # no .incoming / .old left
    assert packing.verify(state)["files"] == packing.verify(out)["files"]
    # a fresh checkout holding only the kept state resumes as from the pack itself
    counts = packing.unpack(state, store_root=tmp_path / "r2", run_dir=tmp_path / "k2", log=lambda *a: None)
    assert counts["new"] == len(packing.verify(out)["files"]) and next((tmp_path / "k2").rglob("last.pt"))
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    (damaged / "checkpoints.tar.part01").chmod(0o644)
    (damaged / "checkpoints.tar.part01").write_bytes(b"not the part")
    assert main(["unpack", str(damaged), "--runs", str(tmp_path / "k3"), "--keep", str(state)]) == 2
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before


def test_the_carried_state_is_not_ignored_by_git():
    """``.gpustate`` is committed: a new checkout, weeks later, holds nothing but what git holds."""
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("no git checkout")
    p = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", ".gpustate/manifest.json"])
    assert p.returncode == 1, ".gpustate/ is ignored by git: the state a GPU command leaves would not reach the next"


def test_unpack_keeps_newer_state(tiny, tmp_path):
    """A result already here is never overwritten; a checkpoint further along is kept."""
    store = _interrupted_run(tiny, tmp_path)
    packing.pack(tmp_path / "out", "smoke", store_root=store.root, run_dir=tmp_path / "runs", log=lambda *a: None)
    item = next((store.root / "smoke" / "eq8").glob("*.json"))
    item.write_text(item.read_text().replace('"value": 1.0', '"value": 2.0'))
    counts = packing.unpack(tmp_path / "out", store_root=store.root, run_dir=tmp_path / "runs", log=lambda *a: None)
    assert counts == {"new": 0, "same": 1, "kept": 1, "replaced": 0}
    assert '"value": 2.0' in item.read_text()


def test_tree_bytes_counts_what_a_command_carries(tmp_path):
    """With git history: the tracked files and those git does not ignore (nested .gitignore
    files too), less the folders left out; in a copy without history (the GPU machine's): all
    the copy holds, less Python's caches and the folders left out."""
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    repo, copy = tmp_path / "repo", tmp_path / "copy"

    def write(root, rel, data):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else b"x" * data)

    travels = {".gitignore": b"runs/\n*.log\n", "code.py": 1000, "results/new.json": 300,
               "figures/.gitignore": b"smoke/\n", "figures/fmnist/b.png": 700}
    carried = {".devdata/d.gz": 8000, ".gpustate/manifest.json": 600}
    for rel, data in {**travels, **carried, "runs/last.pt": 9000, "out.log": 4000,
                      "figures/smoke/a.png": 5000}.items():
        write(repo, rel, data)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "code.py", ".gitignore"], check=True)
    size = sum((repo / rel).stat().st_size for rel in travels)
    assert packing.tree_bytes(repo) == size + 8600
    assert packing.tree_bytes(repo, leave_out=[".devdata", repo / ".gpustate"]) == size
    (repo / "code.py").unlink()  # a tracked file deleted here does not travel
    assert packing.tree_bytes(repo, leave_out=[".devdata", ".gpustate"]) == size - 1000

    for rel in [*travels, *carried]:  # what a command on the GPU machine receives
        write(copy, rel, (repo / rel).read_bytes() if (repo / rel).exists() else 1000)
    write(copy, "msr/__pycache__/x.pyc", 3000)
    write(copy, ".pytest_cache/v", 200)
    write(copy, "runs/last.pt", 9000)
    assert packing.tree_bytes(copy, leave_out=[".devdata", ".gpustate", "runs"]) == size


def test_needed_checkpoints_keep_weights_a_later_run_or_analysis_needs(small, tiny, tmp_path):
    store = ResultsStore(tmp_path / "results")
    # two-phase: phase 1 finishes (2 epochs x 2 steps = 5 checks), phase 2 does not start
    out = run_pending(["two_phase"], small, deadline=StepDeadline(5), store=store, run_dir=tmp_path / "runs",
                      log=lambda *a: None)
    assert len(out.trained) == 1 and "before two_phase" in out.stopped
    # a Table II model trained without its analyses (e.g. a command that ran out of time)
    cfg = next(c for c in experiment_configs("table2", small) if c.block == "vanilla" and c.depth == 8)
    train(cfg.replace(progress=False), profile="smoke", experiment="table2", store=store, run_dir=tmp_path / "runs")
    why = {n.split("/")[2]: w for n, _, w in packing.needed_checkpoints("smoke", store, tmp_path / "runs")}
    assert why["two_phase"] == "weights a pending run starts from (init_from)"
    assert why["table2"] == "per-run analyses still to run: state_change, isometry, firing"
    # analysing it (as the next command does first when its weights travelled) makes them unneeded
    status = per_run.analyse(cfg, "table2", "smoke", store=store, run_dir=tmp_path / "runs", log=lambda *a: None)
    assert status == {"state_change": "computed", "isometry": "computed", "firing": "computed"}
    assert [n.split("/")[2] for n, _, _ in packing.needed_checkpoints("smoke", store, tmp_path / "runs")] == \
        ["two_phase"]


def test_a_diverged_run_is_marked_and_skipped_later(small, tmp_path, monkeypatch):
    nan_loss_at_step(monkeypatch, 1)
    store, runs = ResultsStore(tmp_path / "results"), tmp_path / "runs"
    out = run_pending(["two_phase"], small, store=store, run_dir=runs, log=lambda *a: None)
    assert out.trained == []
    assert [s.split(": ")[1] for s in out.skipped] == ["diverged", "its start weights are missing"]
    lines = []
    again = run_pending(["two_phase"], small, store=store, run_dir=runs, log=lines.append)
    assert again.skipped[0].endswith("diverged earlier") and "diverged in an earlier command" in lines[0]
    (name, _, why), = packing.needed_checkpoints("smoke", store, runs)
    assert name.endswith("/diverged.txt") and "skip" in why


# ---------------------------------------------------------------------- CLI ----

BLOCKER = """
import sys
# what a GPU machine's python has not (notebook and book tooling): the compute path must not import it
BLOCKED = {"IPython", "ipykernel", "papermill", "jupytext", "nbformat", "nbclient", "jupyter_book", "spikingjelly"}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed on the GPU machine")
sys.meta_path.insert(0, Blocker())
from msr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_budgeted_compute_and_unpack_commands(tmp_path):
    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT), "MSR_RESULTS": str(tmp_path / "results"),
           "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}

    def cli(*args):
        return subprocess.run([sys.executable, "-c", BLOCKER, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    p = cli("compute", "two_phase", "--profile", "smoke", "--device", "cpu", "--budget", "600s", "--pack-to", "out",
            "--jobs", "2", "--no-cuda-graph", "--lif-backend", "cpu")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 run(s) at once" in p.stdout and "all done" in p.stdout and "2 runs trained" in p.stdout
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert len(m["files"]) == 2 and all(f["path"].startswith("results/smoke/two_phase/") for f in m["files"])
    assert m["run"]["names"] == ["two_phase"] and m["run"]["budget_s"] == 600 and m["run"]["jobs"] == 2
    assert m["run"]["switches"] == {"cuda_graph": False, "lif_backend": "cpu"}
    stored = json.loads(next((tmp_path / "results" / "smoke" / "two_phase").glob("*.json")).read_text())
    assert stored["runtime"]["lif_backend"] == "cpu" and stored["runtime"]["concurrent_runs"] == 2
    p = cli("status", "two_phase", "table2", "--profile", "smoke")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[1].split()[:3] == ["two_phase", "done", "2/2"] and "next: table2" in p.stdout
    env["MSR_RESULTS"] = str(tmp_path / "elsewhere")
    p = cli("unpack", "out", "--runs", "runs2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 files new" in p.stdout and len(list((tmp_path / "elsewhere" / "smoke" / "two_phase").glob("*.json"))) == 2


def test_a_budgeted_command_killed_midway_hands_back_every_run_it_finished(tmp_path):
    """``--pack-to`` packs after each run: a command killed (SIGKILL, a limit shorter than its
    budget) before its last pack leaves a whole pack of the runs it finished so far."""
    import signal
    import time

    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT), "MSR_RESULTS": str(tmp_path / "results"),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "msr.cli", "compute", "table2", "--profile", "smoke", "--device",
                             "cpu", "--budget", "600s", "--pack-to", "out"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    manifest, m, t0 = tmp_path / "out" / "manifest.json", {}, time.monotonic()
    try:
        while len(m.get("run", {}).get("trained", [])) < 2:
            assert proc.poll() is None, "the command ended before it was killed: " + proc.stdout.read().decode()
            assert time.monotonic() - t0 < 240, "no pack with two trained runs appeared"
            time.sleep(0.05)
            m = json.loads(manifest.read_text()) if manifest.exists() else {}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        printed = proc.communicate()[0].decode()
    assert "pack (so far): " in printed and "all done" not in printed
    m = packing.verify(tmp_path / "out")  # whole, whenever the kill came
    assert m["run"]["interim"] is True
    lines = []
    packing.unpack(tmp_path / "out", store_root=tmp_path / "home", run_dir=tmp_path / "runs2", log=lines.append)
    for run in m["run"]["trained"]:
        experiment, run_hash = run.split("/")
        assert (tmp_path / "home" / "smoke" / experiment / f"{run_hash}.json").exists()
    assert "which was stopped before its last pack" in lines[-1]


def test_gpu_run_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_run.sh")]).returncode == 0


@pytest.mark.slow
def test_gpu_run_script_runs_two_commands_on_the_cpu(tmp_path):
    """The GPU command, on the CPU with the smoke profile: environment, self-check (its gpu
    tests skip here), compute with two jobs (the default: no bench is stored), pack; the second
    command carries the first's files, reuses its self-check verdict, takes its jobs from a bench
    stored for this hardware, unpacks and finds nothing pending."""
    env = {**os.environ, "PROFILE": "smoke", "NAMES": "two_phase", "DEVICE": "cpu", "LIMIT": "300",
           "RUNS": str(tmp_path / "runs"), "DATA": str(tmp_path / "nodata"), "MSR_RESULTS": str(tmp_path / "results"),
           "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}

    def command(out, state):
        p = subprocess.run(["bash", "scripts/gpu_run.sh", str(out)], cwd=ROOT, capture_output=True, text=True,
                           env={**env, "STATE": str(state)}, timeout=600)
        log = (out / "gpu_run.log").read_text()
        assert p.returncode == 0, log
        return log

    tree_mib = math.ceil(packing.tree_bytes(ROOT) / 2**20)
    log = command(tmp_path / "out1", tmp_path / "nostate")
    assert "self-check verdict [code=" in log and "gpu=none torch=" in log
    # the checkpoints the next command can carry leave room for the working tree (no data here)
    assert f"the working tree ({tree_mib} MiB)" in log and f"at most {64 - tree_mib - 2} MiB of checkpoints" in log
    assert "jobs: 2 (default: no stored full bench on" in log
    assert "2 run(s) at once" in log and "all done" in log and "2 runs trained" in log
    # a pack after each run (the second's results archive under its other name), then the last one
    assert log.count("pack (so far): ") >= 2 and "== pack (fallback" not in log
    assert _names(tmp_path / "out1") == ["gpu_run.log", "manifest.json", "results.1.tar.gz"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the script's torch runs with OMP_NUM_THREADS=1: its hardware key says 1 thread
    slug = hardware_slug("cpu")
    torch.set_num_threads(threads)
    store_bench({"environment": {"hardware_slug": slug}, "quick": False, "provenance": {"date_utc": "2026-01-01"},
                 "jobs": [{"jobs": 1, "images_per_s": 30.0, "status": "ok"},
                          {"jobs": 3, "images_per_s": 45.0, "status": "ok"}]}, tmp_path / "results")
    log = command(tmp_path / "out2", tmp_path / "out1")
    assert "jobs: 3 (the fastest N of the stored bench on this hardware: 45 images/s)" in log
    assert "reusing the verdict of the previous command: none" in log
    assert "0 files new, 2 already here" in log and "nothing pending is left in two_phase" in log
    left = log[log.index("== left to do"):]
    assert "smoke: 2 of 2 runs stored" in left and "next: nothing pending is left" in left


KILLS_COMPUTE = """#!/usr/bin/env bash
# python, except that `-m msr.cli compute` is killed (SIGKILL) once it has packed a finished run
if [ "$1 $2 $3" != "-m msr.cli compute" ]; then exec "$REAL_PYTHON" "$@"; fi
"$REAL_PYTHON" "$@" & pid=$!
while kill -0 $pid 2>/dev/null; do
  if "$REAL_PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1]))["run"]; sys.exit(not r["trained"])' \\
       "$KILL_OUT/manifest.json" 2>/dev/null; then kill -9 $pid; wait $pid; exit 137; fi
  sleep 0.1
done
wait $pid
"""


@pytest.mark.slow
def _gpu_run_env(tmp_path, python: str, **extra) -> dict:
    """The environment of gpu_run.sh for the smoke profile's two_phase on a CPU, one job, with
    ``python`` (a wrapper script of this file) as its PYTHON, notes in tmp_path/notes, and
    ``extra`` on top."""
    wrapper, notes = tmp_path / "python", tmp_path / "notes"
    wrapper.write_text(python)
    wrapper.chmod(0o755)
    notes.mkdir(exist_ok=True)
    return {**os.environ, "PROFILE": "smoke", "NAMES": "two_phase", "DEVICE": "cpu", "LIMIT": "300", "JOBS": "1",
            "RUNS": str(tmp_path / "runs"), "DATA": str(tmp_path / "nodata"), "STATE": str(tmp_path / "nostate"),
            "MSR_RESULTS": str(tmp_path / "results"), "PYTHON": str(wrapper), "REAL_PYTHON": sys.executable,
            "NOTES": str(notes), **extra}


def test_gpu_run_script_packs_again_when_compute_is_killed_before_its_last_pack(tmp_path):
    """compute killed after its first run (as its hard timeout would): the script finds the pack
    written after that run and packs again from disk, so the weights the next phase starts
    from travel too."""
    out = tmp_path / "out"
    env = _gpu_run_env(tmp_path, KILLS_COMPUTE, SELFCHECK="0", OMP_NUM_THREADS="1", KILL_OUT=str(out))
    p = subprocess.run(["bash", "scripts/gpu_run.sh", str(out)], cwd=ROOT, capture_output=True, text=True, env=env,
                       timeout=600)
    log = (out / "gpu_run.log").read_text()
    assert p.returncode == 137 and "msr compute exit status 137" in log, log
    assert "== pack (fallback: compute did not write its last pack)" in log
    m = packing.verify(out)
    assert not m["run"].get("interim")
    (weights,) = [f for f in m["files"] if f["path"].endswith("model.pt")]
    assert weights["why"] == "weights a pending run starts from (init_from)"
    assert "smoke: 1 of 2 runs stored" in log[log.index("== left to do"):]


FAKE_SELFCHECK = """#!/usr/bin/env bash
# python, except that `-m pytest FILE` takes a second and fails for tests/test_resident.py, noting when it
# started and ended, and `-m msr.cli compute` notes its arguments (a line per call) and does nothing
case "$1 $2 $3" in
  "-m msr.cli compute") echo "$@" >>"$NOTES/compute"; exit 0;;
esac
if [ -n "${NO_PYTEST:-}" ] && [ "$1 $2" = "-c import pytest" ]; then  # no pytest but the one in folder NO_PYTEST
  case ":${PYTHONPATH:-}:" in *":$NO_PYTEST:"*) exit 0;; *) exit 1;; esac
fi
if [ "$1 $2" = "-m pytest" ]; then
  name=$(basename "${@: -1}" .py)
  date +%s.%N >"$NOTES/$name.start"; sleep 1; date +%s.%N >"$NOTES/$name.end"
  if [ "$name" = test_resident ]; then echo "1 failed in 1.00s"; exit 1; fi
  if [ "$name" = "${UNSURE:-}" ]; then echo "ImportError while importing"; echo "1 error in 1.00s"; exit 2; fi
  echo "2 passed in 1.00s"; exit 0
fi
exec "$REAL_PYTHON" "$@"
"""


def _self_check_key() -> str:
    """The code, GPU, torch and Triton a self-check verdict holds for (gpu_run.sh's KEY)."""
    from msr.provenance import code_digest

    try:
        import triton

        tv = triton.__version__
    except ImportError:
        tv = "none"
    return f"code={code_digest()} gpu=none torch={torch.__version__} triton={tv}"


def test_gpu_run_script_checks_the_fast_paths_at_once_and_reuses_the_verdict_for_the_same_code(tmp_path):
    """The three self-check files run side by side; one that fails switches its path off
    for the command; a later command reuses a verdict logged for the same code, GPU and
    torch whatever commit logged it, and tests again for other code."""
    env, notes = _gpu_run_env(tmp_path, FAKE_SELFCHECK), tmp_path / "notes"

    def command(out, state):
        subprocess.run(["bash", "scripts/gpu_run.sh", str(out)], cwd=ROOT, capture_output=True, text=True,
                       env={**env, "STATE": str(state)}, timeout=300)
        return (out / "gpu_run.log").read_text()

    log = command(tmp_path / "out1", tmp_path / "nostate")
    files = ("test_speed", "test_resident", "test_kernels")
    starts = [float((notes / f"{f}.start").read_text()) for f in files]
    ends = [float((notes / f"{f}.end").read_text()) for f in files]
    assert max(starts) < min(ends)  # side by side, not one after the other
    assert "WARNING: tests/test_resident.py failed: this command runs with --no-resident-data" in log
    key = _self_check_key()
    assert f"self-check verdict [{key}]: --no-resident-data" in log
    # compute started at once, beside the checks, its packs waiting for the verdict; then again without the path
    first, again = (notes / "compute").read_text().splitlines()
    assert "--pack-after" in first.split() and "--no-resident-data" not in first.split()
    assert "--no-resident-data" in again.split() and "--pack-after" not in again.split()

    for f in notes.iterdir():
        f.unlink()
    state = tmp_path / "state"
    state.mkdir()
    (state / "gpu_run.log").write_text(f"commit={'0' * 40} {key}\nself-check verdict [{key}]: --no-cuda-graph\n"
                                       "self-check verdict [code=000000000000 gpu=none torch=0]: none\n")
    log = command(tmp_path / "out2", state)
    assert "reusing the verdict of the previous command: --no-cuda-graph" in log
    (only,) = (notes / "compute").read_text().splitlines()
    assert not list(notes.glob("*.start")) and "--no-cuda-graph" in only.split() and "--pack-after" not in only
    (state / "gpu_run.log").write_text("self-check verdict [code=000000000000 gpu=none torch=0]: none\n")
    log = command(tmp_path / "out3", state)
    assert "reusing" not in log and len(list(notes.glob("*.start"))) == 3


def test_a_self_check_that_cannot_tell_switches_its_path_off_for_this_command_only(tmp_path):
    """A file that fails in collection (exit status 2) or does not finish says nothing about its
    path: this command trains without it, but the log holds no verdict the next command would
    reuse, so that one checks it again.  A failure (exit status 1, a summary with "failed")
    is a verdict."""
    notes, out = tmp_path / "notes", tmp_path / "out"
    env = _gpu_run_env(tmp_path, FAKE_SELFCHECK, UNSURE="test_kernels")
    subprocess.run(["bash", "scripts/gpu_run.sh", str(out)], cwd=ROOT, capture_output=True, text=True, env=env,
                   timeout=300)
    log = (out / "gpu_run.log").read_text()
    assert "tests/test_kernels.py could not tell (exit status 2)" in log
    assert f"self-check inconclusive [{_self_check_key()}]: --no-resident-data --lif-backend reference" in log
    assert "self-check verdict [" not in log
    first, again = (notes / "compute").read_text().splitlines()
    assert "--lif-backend reference" in again and "--no-resident-data" in again.split()


def test_a_machine_without_pytest_uses_the_carried_one_or_trains_without_the_fast_paths(tmp_path):
    """``make devdata`` carries pytest in .devdata/pylib: where the machine has none, the
    self-check runs with that copy; without it, the command trains with every fast path off
    and logs no verdict, so that the next command checks them."""
    notes, data = tmp_path / "notes", tmp_path / "data"
    (data / "pylib").mkdir(parents=True)
    env = _gpu_run_env(tmp_path, FAKE_SELFCHECK, NO_PYTEST=str(data / "pylib"))

    def command(out, data):
        subprocess.run(["bash", "scripts/gpu_run.sh", str(out)], cwd=ROOT, capture_output=True, text=True,
                       env={**env, "DATA": str(data)}, timeout=300)
        return (out / "gpu_run.log").read_text()

    log = command(tmp_path / "out1", data)
    assert f"pytest: the carried copy in {data}/pylib" in log and len(list(notes.glob("*.start"))) == 3
    assert "self-check verdict [" in log
    for f in notes.iterdir():
        f.unlink()
    log = command(tmp_path / "out2", tmp_path / "nodata")
    assert "WARNING: pytest is missing (carry it: make devdata)" in log and not list(notes.glob("*.start"))
    assert "self-check verdict [" not in log
    (only,) = (notes / "compute").read_text().splitlines()
    assert {"--no-cuda-graph", "--no-resident-data", "reference"} <= set(only.split())


SLOW_SELFCHECK = """#!/usr/bin/env bash
# python, except that `-m pytest FILE` waits until the training beside it has stored its two runs and
# then fails for the file named FAIL (passes otherwise), and `-m msr.cli compute` notes its arguments,
# then runs
if [ "$1 $2" = "-m pytest" ]; then
  for _ in $(seq 120); do
    [ "$(ls "$MSR_RESULTS"/smoke/two_phase/*.json 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.5
  done
  if [ "$(basename "${@: -1}" .py)" = "$FAIL" ]; then echo "1 failed in 9.00s"; exit 1; fi
  echo "2 passed in 1.00s"; exit 0
fi
[ "$1 $2 $3" = "-m msr.cli compute" ] && echo "$@" >>"$NOTES/compute"
exec "$REAL_PYTHON" "$@"
"""


def _beside_the_self_check(tmp_path, fail: str):
    """gpu_run.sh with the smoke profile's two_phase and :data:`SLOW_SELFCHECK` failing ``fail``."""
    notes, out = tmp_path / "notes", tmp_path / "out"
    env = _gpu_run_env(tmp_path, SLOW_SELFCHECK, OMP_NUM_THREADS="1", FAIL=fail)
    p = subprocess.run(["bash", "scripts/gpu_run.sh", str(out)], cwd=ROOT, capture_output=True, text=True, env=env,
                       timeout=600)
    log = (out / "gpu_run.log").read_text()
    assert p.returncode == 0, log
    return log, (notes / "compute").read_text().splitlines(), packing.verify(out)


def test_gpu_run_script_trains_beside_the_self_check_and_packs_once_it_passed(tmp_path):
    """Both runs are trained and stored before the verdict, so compute writes no pack; once
    every file has passed, the fallback pack hands them back."""
    log, (only,), m = _beside_the_self_check(tmp_path, fail="")
    assert "--pack-after" in only.split() and "compute again" not in log
    before, after = log.split("self-check verdict [", 1)
    assert before.count(": trained, acc") == 2 and "pack (so far)" not in before and "no pack until" in before
    assert "== pack (fallback: compute did not write its last pack)" in after
    assert m["run"] == {} or not m["run"].get("interim")
    assert len([f for f in m["files"] if f["path"].startswith("results/smoke/two_phase/")]) == 2


def test_gpu_run_script_discards_the_training_of_a_path_the_self_check_fails_and_trains_again(tmp_path):
    """The training beside the self-check stores both runs of two_phase with every fast path;
    its packs wait for the verdict.  The resident-data file fails: that training's results
    are discarded and both runs train again with --no-resident-data, whose pack is the
    one handed back."""
    log, (first, again), m = _beside_the_self_check(tmp_path, fail="test_resident")
    assert "--pack-after" in first.split() and "--no-resident-data" in again.split()
    assert "no pack until" in log and "== compute again, with --no-resident-data" in log
    before, after = log.split("== compute again", 1)
    assert before.count(": trained, acc") == 2 and "pack (so far)" not in before and "\npack: " not in before
    assert "discarded 2 result(s) of smoke" in after and after.count(": trained, acc") == 2
    assert m["run"]["switches"] == {"resident_data": False} and len(m["run"]["trained"]) == 2
    assert sorted(f["path"].split("/")[2] for f in m["files"] if f["path"].startswith("results/")) == \
        ["two_phase", "two_phase"]


def test_gpu_run_script_refuses_an_unknown_commit(tmp_path):
    """A copy without git history and without MSR_GIT_COMMIT: nothing runs."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    shutil.copytree(ROOT / "msr", copy / "msr", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("MSR_GIT_COMMIT", "PYTHONPATH")}
    p = subprocess.run(["bash", "scripts/gpu_run.sh", "out"], cwd=copy, capture_output=True, text=True,
                       env={**env, "DEVICE": "cpu", "PYTHON": sys.executable, "GIT_CEILING_DIRECTORIES": str(tmp_path)},
                       timeout=120)
    assert p.returncode == 5
    assert "the code's commit is unknown" in (copy / "out" / "gpu_run.log").read_text()
    assert not (copy / "results").exists() and not (copy / "runs").exists()


def test_each_value_order_row_carries_the_cost_of_its_own_seeds(tmp_path):
    """Table II and VI are estimated per seed (:class:`msr.profiles.SeedCost`): in the value
    order ``table2`` plans seed 0 and ``table2_seeds`` the others, and each row's expected cost
    is the per-seed estimate times the seeds it plans, computed, not typed; ``table2`` alone
    plans (and costs) every seed."""
    from msr.profiles import SeedCost

    fmnist = PROFILES["fmnist"]
    store = ResultsStore(tmp_path / "results")
    rows = {r["experiment"]: r for r in pending.plan_table(store, "fmnist")}
    cost = "expected cost (the profile's estimate)"
    for name, extra in (("table2", "table2_seeds"), ("table6", "table6_seeds")):
        one = fmnist.seed_cost[name]
        seeds = fmnist.seeds(name)
        assert isinstance(one, SeedCost) and len(seeds) == 3
        assert rows[name][cost] == one.words((0,)) == f"about {one.about:g} min on one H100 (seed 0: {one.runs})"
        assert rows[extra][cost] == one.words(seeds[1:]) and rows[extra][cost].startswith(
            f"about {one.about * (len(seeds) - 1):g} min on one H100 (seeds 1 and 2, each {one.runs}; ")
        assert rows[extra]["runs planned"] == (len(seeds) - 1) * rows[name]["runs planned"]
        assert "3 seeds" not in rows[name][cost]
        (alone,), _ = pending.status([name], "fmnist", store=store, run_dir=None)
        assert alone.cost == fmnist.cost[name] == one.words(seeds) and alone.runs == 3 * rows[name]["runs planned"]
    assert all(r[cost] for r in rows.values()), "every row of the fmnist value order has an estimate"
    # a copy of a profile with other seeds does not change the profile it copies
    fewer = replace(fmnist, experiments={**fmnist.experiments, "table2": {}})
    assert fewer.cost["table2"] == fewer.seed_cost["table2"].words((0,)) != fmnist.cost["table2"]
    assert fmnist.cost["table2"] == fmnist.seed_cost["table2"].words((0, 1, 2))
