"""Experiments as data, profiles, and `msr sweep` (runs once, then skips)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from msr.data import MissingDataError
from msr.paper import TABLE_II_DEPTHS, TABLE_VI
from msr.profiles import PROFILES, get_profile
from msr.results import ResultsStore
from msr.sweep import EXPERIMENTS, FIG5A_PAIRS, experiment_configs, run_sweep, table2_order

ROOT = Path(__file__).resolve().parents[1]


def test_profiles():
    assert list(PROFILES) == ["smoke", "fmnist", "paper"]
    with pytest.raises(ValueError, match="unknown profile 'big'; valid: smoke, fmnist, paper"):
        get_profile("big")
    for p in PROFILES.values():
        assert set(p.cost) == set(EXPERIMENTS), p.name


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_experiment_builds_distinct_configs(profile):
    for name in EXPERIMENTS:
        cfgs = experiment_configs(name, profile)
        assert cfgs and len({c.hash() for c in cfgs}) == len(cfgs), name


def test_table2_and_table6_grids():
    t2 = experiment_configs("table2", "fmnist")
    assert {(c.block, c.depth) for c in t2} == {(b, d) for b in ("plain", "vanilla", "wolif", "ms")
                                               for d in TABLE_II_DEPTHS}
    c = t2[0]
    assert (c.dataset, c.T, c.batch_size, c.lr, c.schedule, c.weight_decay) == ("fashion_mnist", 6, 100, 0.1,
                                                                                 "multistep", 0.0)
    # [40, 60, 80] of 100 epochs stretched to 8
    assert c.milestones == (3, 5, 6) and c.epochs == 8 and c.subset == 20000
    t6 = experiment_configs("table6", "paper")
    assert {(c.dataset, c.depth, c.block) for c in t6} == {
        (ds, d, b) for ds in TABLE_VI for d in TABLE_VI[ds] for b in TABLE_VI[ds][d]}
    assert all(c.schedule == "cosine" and c.epochs == 100 for c in t6)
    assert {c.dataset for c in experiment_configs("table6", "fmnist")} == {"fashion_mnist"}


def test_table2_trains_ms_and_vanilla_first_deepest_first():
    """A budget that ends early leaves the MS/vanilla contrast at 56 (Fig. 2b), then three
    depths of each (the claims), before PlainNet and W/O interblock LIF; the budgeted
    value order follows it."""
    from msr.budget import experiment_names, plan

    t2 = [(c.block, c.depth) for c in experiment_configs("table2", "fmnist", (0,))]
    pairs = [(b, d) for d in (56, 8, 14, 20, 32, 44) for b in ("ms", "vanilla")]
    assert t2 == pairs + [("plain", d) for d in TABLE_II_DEPTHS] + [("wolif", d) for d in TABLE_II_DEPTHS]
    tasks, _ = plan(experiment_names(["all"], "fmnist"), "fmnist", run_dir=None)
    assert [(t.cfg.block, t.cfg.depth) for t in tasks[:4]] == [("ms", 56), ("vanilla", 56), ("ms", 8), ("vanilla", 8)]
    assert table2_order((44, 8)) == [("ms", 44), ("vanilla", 44), ("ms", 8), ("vanilla", 8), ("plain", 8),
                                     ("plain", 44), ("wolif", 8), ("wolif", 44)]


def test_deep_uses_the_table6_recipe():
    """Appendix B-A: pre-processing and weight decay are strengthened at great depth; the
    paper's MS-ResNet110 number is Table VI's SR-A 110."""
    cfgs = experiment_configs("deep", "paper")
    assert [c.depth for c in cfgs] == [110, 482]
    for c in cfgs:
        assert (c.recipe, c.schedule, c.weight_decay, c.epochs) == ("table6", "cosine", 1e-4, 100)
        assert c.augment == ("random_crop_32", "random_rotation_15", "hflip", "normalize")


@pytest.mark.parametrize("profile", list(PROFILES))
def test_ablation_is_table2_with_gamma2_zero(profile):
    abl = experiment_configs("ablation", profile)
    twins = {(c.block, c.depth): c for c in experiment_configs("table2", profile, [0])}
    assert len(abl) == 2 * len({d for _, d in twins}) and {c.block for c in abl} == {"vanilla", "wolif"}
    if profile != "smoke":
        assert {c.depth for c in abl} == set(TABLE_II_DEPTHS)
    for c in abl:
        assert c.gamma2 == 0.0 and c.recipe == "table2"
        twin = twins[(c.block, c.depth)]
        assert twin.gamma2 is None and c.hash() != twin.hash()
        assert c.replace(gamma2=None).hash() == twin.hash()  # the only difference


def test_changed_definition_retrains_instead_of_reusing(tmp_path, monkeypatch):
    """A block's version and the training loop's result version are part of the key: bumping
    either makes the sweep train again although the config is unchanged."""
    import msr.config
    from msr.blocks import MSBlock, SRBBlock
    from msr.train import TrainConfig

    store, runs = ResultsStore(tmp_path / "results"), str(tmp_path / "runs")
    folder = tmp_path / "results" / "smoke" / "short"
    (first,) = run_sweep("short", "smoke", store=store, run_dir=runs)
    (again,) = run_sweep("short", "smoke", store=store, run_dir=runs)
    assert not first["skipped"] and again["skipped"] and again["hash"] == first["hash"]
    assert first["config"]["definitions"] == {"block": MSBlock.version, "train": msr.config.RESULT_VERSION}

    ms_key = TrainConfig(block="ms").hash()
    monkeypatch.setattr(SRBBlock, "version", SRBBlock.version + 1)
    assert TrainConfig(block="ms").hash() == ms_key  # another block's definition: same key
    (same,) = run_sweep("short", "smoke", store=store, run_dir=runs)
    assert same["skipped"]

    monkeypatch.setattr(MSBlock, "version", MSBlock.version + 1)
    (block_bumped,) = run_sweep("short", "smoke", store=store, run_dir=runs)
    assert not block_bumped["skipped"] and block_bumped["hash"] != first["hash"]

    monkeypatch.setattr(msr.config, "RESULT_VERSION", msr.config.RESULT_VERSION + 1)
    (train_bumped,) = run_sweep("short", "smoke", store=store, run_dir=runs)
    assert not train_bumped["skipped"] and train_bumped["hash"] not in (first["hash"], block_bumped["hash"])
    assert len(list(folder.glob("*.json"))) == 3  # the old results stay, unused


def test_init_experiment_covers_fig5():
    cfgs = experiment_configs("init", "fmnist")
    a = [c for c in cfgs if c.depth == 56]
    assert {(c.norm, c.gamma1, c.gamma2) for c in a} == {(n, g1, g2) for n in ("bn", "tdbn") for g1, g2 in FIG5A_PAIRS}
    assert all(c.epochs == 1 for c in a)
    b = [c for c in cfgs if c.depth == 104]
    assert {(c.norm, c.gamma2) for c in b} == {("bn", 1.0), ("bn", 0.0), ("tdbn", 1.0), ("tdbn", 0.0)}


def test_fig5_runs_train_at_the_initial_lr_of_a_long_run():
    """Fig. 5 is read as the first epochs of a long run: no lr step or anneal inside them."""
    from msr.config import lr_at

    for profile in ("fmnist", "paper"):
        for c in experiment_configs("init", profile):
            assert [lr_at(c, e) for e in range(c.epochs)] == [0.1] * c.epochs, (profile, c.depth, c.schedule)


def test_dvs_runs_table_iv_network_on_event_data():
    from msr.data import EMULATED_EVENTS

    (fm,) = experiment_configs("dvs", "fmnist")
    assert (fm.model, fm.dataset, fm.T, fm.batch_size, fm.subset, fm.schedule) == (
        "dvs_resnet20", "fashion_mnist_dvs", 6, 50, None, "cosine")
    (smoke,) = experiment_configs("dvs", "smoke")
    assert smoke.dataset in EMULATED_EVENTS and smoke.model == "dvs_resnet20" and smoke.input_size is None
    (pp,) = experiment_configs("dvs", "paper")
    # the Table IV recipe, unchanged, at Table VII's T = 6 (Appendix B-A: "kept in all experiments")
    assert (pp.dataset, pp.T, pp.epochs) == ("cifar10_dvs", 6, 100)


@pytest.mark.slow
def test_sweep_dvs_smoke_on_emulated_events(tmp_path):
    """The smoke profile's DVS run end to end: images -> emulated events (cached under the
    data root) -> T frames -> MS-ResNet20-DVS; a second sweep reads the stored result."""
    store = ResultsStore(tmp_path / "results")
    kw = dict(store=store, run_dir=str(tmp_path / "runs"), data_root=str(tmp_path / "data"))
    (r,) = run_sweep("dvs", "smoke", **kw)
    assert r["config"]["dataset"] in ("fashion_mnist_dvs", "synthetic_dvs") and r["config"]["T"] == 2
    assert 0.0 <= r["final"]["reported_acc"] <= 100.0
    assert list((tmp_path / "data" / r["config"]["dataset"]).rglob("*.events.npy"))
    assert run_sweep("dvs", "smoke", **kw)[0]["skipped"]


def test_two_phase_links_phases_by_hash():
    first, second = experiment_configs("two_phase", "paper")
    assert first.T == 1 and first.model == "imagenet_resnet104" and first.epochs == 200
    assert second.T == 6 and second.init_from == f"hash:{first.hash()}" and second.lr == 0.05


@pytest.mark.parametrize("name,where", [("table2", "cifar-10-batches-py"), ("dvs", "cifar10_dvs"),
                                        ("imagenet", "imagenet")])
def test_paper_profile_without_data_fails_clearly(tmp_path, name, where):
    with pytest.raises(MissingDataError, match=where):
        run_sweep(name, "paper", device="cpu", store=ResultsStore(tmp_path / "r"), run_dir=str(tmp_path / "runs"),
                  data_root=str(tmp_path / "data"))
    assert not list((tmp_path).rglob("*.json"))


def _sweep(tmp_path, *args):
    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT), "MSR_RESULTS": str(tmp_path / "results")}
    p = subprocess.run([sys.executable, "-m", "msr.cli", "sweep", *args, "--runs", str(tmp_path / "runs")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.splitlines()


@pytest.mark.slow
def test_sweep_table2_smoke_then_skips(tmp_path):
    # one seed of the 24 configs (several seeds: tests/test_seeds.py)
    first = [line for line in _sweep(tmp_path, "table2", "--profile", "smoke", "--seeds", "0") if line.startswith("[")]
    assert len(first) == 24 and all(": trained, acc" in line for line in first)
    files = list((tmp_path / "results" / "smoke" / "table2").glob("*.json"))
    assert len(files) == 24
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    second = [line for line in _sweep(tmp_path, "table2", "--profile", "smoke", "--seeds", "0") if line.startswith("[")]
    assert len(second) == 24 and all("skipped (stored)" in line for line in second)
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes


def test_sweep_two_phase_smoke(tmp_path):
    store = ResultsStore(tmp_path / "results")
    r1, r2 = run_sweep("two_phase", "smoke", store=store, run_dir=str(tmp_path / "runs"))
    assert r1["config"]["T"] == 1 and r2["config"]["T"] == 6 and "init_acc" in r2["final"]
    assert all(r["skipped"] for r in run_sweep("two_phase", "smoke", store=store, run_dir=str(tmp_path / "runs")))


def test_sweep_list_and_unknown(tmp_path):
    lines = _sweep(tmp_path, "table6", "--profile", "fmnist", "--list")
    assert len(lines) == 36 and all("fashion_mnist" in line for line in lines)  # 12 configs x 3 seeds
    lines = _sweep(tmp_path, "table6", "--profile", "fmnist", "--list", "--seeds", "4")
    assert len(lines) == 12 and all("seed 4" in line for line in lines)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "msr.cli", "sweep", "table9"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "unknown experiment 'table9'; valid: table2, table6, init" in p.stderr


def test_where_selects_a_slice_of_an_experiment_with_its_own_hashes():
    from msr.sweep import parse_where, select

    configs = experiment_configs("table2", "fmnist", (0,))
    picked = select(configs, parse_where(["block=ms", "depth=8,14", "depth=20"]), "table2")
    assert picked == [c for c in configs if c.block == "ms" and c.depth in (8, 14, 20)]  # its order, its hashes
    assert [c.depth for c in picked] == [8, 14, 20]
    # a value is read as its field's type: gamma2=0 matches 0.0, none an unset field
    assert len(select(experiment_configs("ablation", "fmnist", (0,)), parse_where(["gamma2=0"]))) == 12
    assert select(configs, parse_where(["gamma2=none"])) == configs


@pytest.mark.parametrize("where, message", [
    (["dpth=8"], "unknown config field 'dpth'; valid: model, depth, block"),
    (["depth=9"], "no run of table2 has depth=9; valid: 8, 14, 20, 32, 44, 56"),
    (["block=MS"], "no run of table2 has block=MS; valid: ms, plain, vanilla, wolif"),
    (["depth"], "--where takes FIELD=VALUE[,VALUE...], got 'depth'"),
])
def test_where_rejects_what_no_run_has(where, message):
    from msr.sweep import parse_where, select

    with pytest.raises(ValueError, match=re.escape(message)):
        select(experiment_configs("table2", "fmnist", (0,)), parse_where(where), "table2")


def test_sweep_runtime_rejects_negative_workers():
    from msr.sweep import runtime

    assert runtime("cpu", None, 1) == {"device": "cpu", "workers": 1}
    with pytest.raises(ValueError, match="workers must be 0"):
        runtime(workers=-1)


def test_sweep_where_trains_only_the_slice(tmp_path):
    listed = _sweep(tmp_path, "table2", "--profile", "fmnist", "--list", "--seeds", "0", "--where", "block=ms",
                    "depth=8,14,20")
    assert len(listed) == 3 and all(" ms " in line for line in listed)
    one = _sweep(tmp_path, "table2", "--profile", "fmnist", "--list", "--seeds", "0", "--where", "block=ms",
                 "depth=8,14,20", "--workers", "1")  # a runtime field: the same runs, the same hashes
    assert [line.split()[0] for line in one] == [line.split()[0] for line in listed]
    assert all(line.endswith("workers=1") for line in one) and all(line.endswith("workers=4") for line in listed)
    lines = [line for line in _sweep(tmp_path, "table2", "--profile", "smoke", "--seeds", "0", "--where",
                                     "block=vanilla", "depth=8") if line.startswith("[")]
    assert len(lines) == 1 and "resnet8 vanilla" in lines[0] and ": trained, acc" in lines[0]
    assert len(list((tmp_path / "results" / "smoke" / "table2").glob("*.json"))) == 1
