"""Training engine: learning, results payload, determinism, exact resume, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from msr.config import TrainConfig, base_lr, lr_at, reported_epochs
from msr.models import create_model
from msr.recipes import get_recipe, list_recipes, scale_milestones
from msr.results import CheckpointError, load_checkpoint
from msr.runs import run_folder
from msr.train import TrainingDiverged, evaluate, load_trained, train

from conftest import HAVE_FMNIST, cli_killed_after_steps, nan_loss_at_step, needs_fmnist

ROOT = Path(__file__).resolve().parents[1]
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time", "images_per_s",
              "firing_rate")


def _check_payload(r, cfg, epochs):
    assert r["status"] == "complete" and r["hash"] == cfg.hash() and r["config"]["depth"] == cfg.depth
    for k in EPOCH_KEYS:
        assert len(r["epochs"][k]) == epochs, k
    assert r["epochs"]["epoch"] == list(range(1, epochs + 1))
    f = r["final"]
    assert f["reported_epochs"] == reported_epochs(cfg) and f["reported_epochs"]
    accs = dict(zip(r["epochs"]["epoch"], r["epochs"]["test_acc"], strict=True))
    assert f["reported_acc"] == pytest.approx(sum(accs[e] for e in f["reported_epochs"]) / len(f["reported_epochs"]))
    assert f["best_acc"] == max(r["epochs"]["test_acc"]) and f["final_acc"] == r["epochs"]["test_acc"][-1]
    assert 0 < f["firing_rate"] < 1
    assert len(r["steps"]["step"]) == len(r["steps"]["loss"]) > 0
    for k in ("git_commit", "torch", "device", "wall_time_s"):
        assert k in r["provenance"]
    assert r["seed"] == cfg.seed


def test_synthetic_run_learns_and_stores_a_complete_result(tiny, store, tmp_path):
    cfg = tiny(epochs=3, batch_size=32, subset=256, test_subset=64, log_every=2)
    r = train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    losses = r["epochs"]["train_loss"]
    assert losses[0] > losses[1] > losses[2] and losses[-1] < losses[0] - 0.03
    _check_payload(r, cfg, 3)
    assert len(r["steps"]["step"]) == 3 * 8 // 2
    on_disk = json.loads(store.path("smoke", "t", cfg.hash_dict()).read_text())
    assert on_disk["final"] == r["final"]
    # a second call is skipped; force retrains
    again = train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    assert again["skipped"] and again["final"] == r["final"]
    model = load_trained(r, run_dir=tmp_path / "runs")
    saved = load_checkpoint(run_folder(tmp_path / "runs", "smoke", "t", cfg) / "model.pt")
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


@needs_fmnist
def test_fashion_mnist_run_learns(tiny, store, tmp_path):
    cfg = tiny(dataset="fashion_mnist", epochs=3, batch_size=32, subset=256, test_subset=64, log_every=2,
               augment=("normalize",))
    r = train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    losses = r["epochs"]["train_loss"]
    assert losses[0] > losses[1] > losses[2] and losses[-1] < losses[0] - 0.05
    _check_payload(r, cfg, 3)
    assert r["data"]["input_size"] == [1, 32, 32]


def _random_cfg(tiny, **kw):
    """Uses every source of randomness: augmentation (real data) or dropout, shuffling."""
    if HAVE_FMNIST:
        return tiny(dataset="fashion_mnist", augment=("random_crop_32", "hflip", "normalize"), dropout=0.2, **kw)
    return tiny(dropout=0.2, **kw)


def test_one_epoch_reproduces_known_numbers(tiny, store, tmp_path):
    """Known answers: one epoch of the tiny synthetic run (seed 0, CPU) has this key and
    these numbers.  A change to the loop, the data, the model or the initialisation that
    changes what is trained or how it is measured changes them; the tolerance only allows
    for another CPU's float rounding."""
    cfg = tiny(epochs=1)
    assert cfg.hash() == "f8a5a1750e201839"  # the results store's key: field names, RESULT_VERSION, block version
    r = train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    assert r["steps"]["step"] == [1, 2, 3, 4]
    assert r["steps"]["loss"] == pytest.approx([2.256957530975342, 2.2878150939941406, 2.338193416595459,
                                                2.3312060832977295], rel=1e-5)
    assert r["epochs"]["train_loss"] == pytest.approx([2.3035430312156677], rel=1e-5)
    assert r["epochs"]["train_acc"] == [10.9375] and r["epochs"]["test_acc"] == [12.5]  # 7 of 64, 4 of 32
    assert r["final"]["final_test_loss"] == pytest.approx(2.3188740015029907, rel=1e-5)
    assert r["final"]["firing_rate"] == pytest.approx(0.0642712910970052, rel=1e-5)


def test_same_seed_same_metrics(tiny, tmp_path):
    from msr.results import ResultsStore

    cfg = _random_cfg(tiny)
    a = train(cfg, profile="s", experiment="a", store=ResultsStore(tmp_path / "a"), run_dir=tmp_path / "ra")
    b = train(cfg, profile="s", experiment="a", store=ResultsStore(tmp_path / "b"), run_dir=tmp_path / "rb")
    assert a["epochs"]["train_loss"] == b["epochs"]["train_loss"] and a["steps"] == b["steps"]
    assert a["final"] == b["final"]
    c = train(cfg.replace(seed=1), profile="s", experiment="a", store=ResultsStore(tmp_path / "c"),
              run_dir=tmp_path / "rc")
    assert c["steps"]["loss"] != a["steps"]["loss"]


def _cli(args, tmp_path, check=True):
    env = {**os.environ, "MSR_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "msr.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=240)
    if check and p.returncode != 0:
        raise AssertionError(f"rc {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def _train_args(results, runs, extra=()):
    data = ["--dataset", "fashion_mnist", "--augment", "random_crop_32,hflip,normalize"] if HAVE_FMNIST else \
        ["--dataset", "synthetic"]
    return ["train", "--profile", "smoke", "--depth", "8", "--T", "2", "--epochs", "2", "--batch-size", "16",
            "--subset", "64", "--test-subset", "32", "--dropout", "0.2", "--checkpoint-every", "3",
            "--results", str(results), "--runs", str(runs), *data, *extra]


def test_killed_run_resumes_exactly(tmp_path):
    # uninterrupted reference
    _cli(_train_args(tmp_path / "ref", tmp_path / "ref_runs"), tmp_path)
    ref = json.loads(next((tmp_path / "ref").rglob("*.json")).read_text())
    # killed after 7 steps: checkpoints at step 3 (mid epoch 1), 4 (epoch end), 6 (mid epoch 2)
    p = cli_killed_after_steps(_train_args(tmp_path / "res", tmp_path / "runs"), 7, tmp_path)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").rglob("*")), "no result may exist"
    ckpt = next((tmp_path / "runs").rglob("last.pt"))
    state = load_checkpoint(ckpt)
    assert (state["epoch"], state["batch"], state["step"]) == (1, 2, 6)
    assert [p.name for p in ckpt.parent.iterdir()] == ["last.pt"]  # no temp files
    p = _cli(_train_args(tmp_path / "res", tmp_path / "runs"), tmp_path)
    assert "resuming" in p.stdout
    got = json.loads(next((tmp_path / "res").rglob("*.json")).read_text())
    assert got["epochs"]["train_loss"] == ref["epochs"]["train_loss"]
    assert got["epochs"]["test_acc"] == ref["epochs"]["test_acc"]
    assert got["steps"] == ref["steps"] and got["final"] == ref["final"]
    w_ref = load_checkpoint(next((tmp_path / "ref_runs").rglob("model.pt")))
    w_got = load_checkpoint(next((tmp_path / "runs").rglob("model.pt")))
    assert all(torch.equal(w_ref[k], w_got[k]) for k in w_ref)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, store, tmp_path, monkeypatch):
    cfg = tiny(epochs=3)  # 4 steps per epoch
    with monkeypatch.context() as mp, \
            pytest.raises(TrainingDiverged, match="last good checkpoint is kept at .*last.pt.*no result was written"):
        nan_loss_at_step(mp, 6)
        train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    assert store.get("smoke", "t", cfg.hash_dict()) is None
    state = load_checkpoint(run_folder(tmp_path / "runs", "smoke", "t", cfg) / "last.pt")
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values())
    r = train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")  # resumes
    assert r["epochs"]["epoch"] == [1, 2, 3]


def test_corrupt_checkpoint_is_reported_and_kept(tiny, store, tmp_path):
    cfg = tiny(epochs=1)
    folder = run_folder(tmp_path / "runs", "smoke", "t", cfg)
    folder.mkdir(parents=True)
    (folder / "last.pt").write_bytes(b"\x80garbage")
    with pytest.raises(CheckpointError, match=str(folder / "last.pt")):
        train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    assert (folder / "last.pt").read_bytes() == b"\x80garbage"
    assert store.get("smoke", "t", cfg.hash_dict()) is None


def test_cli_bad_input_one_clear_line(tmp_path):
    p = _cli(["train", "--profile", "nope", "--results", str(tmp_path)], tmp_path, check=False)
    assert p.returncode == 2 and "unknown profile 'nope'; valid: smoke, fmnist, paper" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    p = _cli(["train", "--dataset", "mnist", "--results", str(tmp_path)], tmp_path, check=False)
    assert p.returncode == 2 and "unknown dataset 'mnist'; valid:" in p.stderr
    p = _cli(["train", "--dataset", "cifar10", "--data-root", str(tmp_path / "d"), "--results", str(tmp_path)],
             tmp_path, check=False)
    assert p.returncode == 2 and str(tmp_path / "d" / "cifar-10-batches-py") in p.stderr
    assert not list(tmp_path.rglob("*.json"))


def test_lr_schedules_match_torch():
    cfg = TrainConfig(epochs=10, schedule="multistep", milestones=(4, 6, 8), lr_factor=0.2, lr=0.1)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [4, 6, 8], 0.2)
    cos_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(cos_opt, T_max=10)
    for e in range(10):
        assert lr_at(cfg, e) == pytest.approx(opt.param_groups[0]["lr"])
        assert lr_at(cfg.replace(schedule="cosine"), e) == pytest.approx(cos_opt.param_groups[0]["lr"])
        opt.step(), sched.step(), cos_opt.step(), cos.step()


@pytest.mark.parametrize("epochs,schedule,milestones,expected", [
    (8, "multistep", (3, 5, 6), [8]),  # fmnist Table II: ceil(0.4) = 1 epoch, after the last step
    (100, "multistep", (40, 60, 80), [96, 97, 98, 99, 100]),  # the paper's "last five epochs"
    (100, "cosine", (), [96, 97, 98, 99, 100]),
    (125, "cosine", (), [121, 122, 123, 124, 125]),  # ImageNet (Appendix B-B): five, not ceil(6.25)
    (200, "cosine", (), [196, 197, 198, 199, 200]),
    (1, "multistep", (), [1]),
    (1, "cosine", (), [1]),
    (30, "cosine", (), [29, 30]),  # ceil(1.5) = 2
    (40, "multistep", (4, 6, 39), [40]),  # 2 would be due, but epoch 39 is before the last step (index 39)
    (40, "multistep", (20, 50), [39, 40]),  # a milestone past the run never steps
    (20, "constant", (), [20]),
])
def test_reported_epochs_known_answers(epochs, schedule, milestones, expected):
    cfg = TrainConfig(epochs=epochs, schedule=schedule, milestones=milestones)
    assert reported_epochs(cfg) == expected
    # the rule changed for runs of more than 100 epochs only (5 % became at most five): only their keys say so
    assert ("reported" in cfg.hash_dict()["definitions"]) == (epochs > 100)
    # every averaged epoch runs at the final learning rate
    assert all(lr_at(cfg, e - 1) == lr_at(cfg, epochs - 1) for e in expected if schedule != "cosine")


def test_result_records_the_averaged_epochs(tiny, store, tmp_path):
    cfg = tiny(epochs=21, schedule="cosine", max_steps_per_epoch=1, subset=32, test_subset=16)
    r = train(cfg, profile="smoke", experiment="t", store=store, run_dir=tmp_path / "runs")
    acc = r["epochs"]["test_acc"]
    assert r["final"]["reported_epochs"] == [20, 21]  # ceil(5 % of 21) = 2
    assert r["final"]["reported_acc"] == pytest.approx((acc[19] + acc[20]) / 2)


def test_every_recipe_decays_every_parameter_as_the_release_does():
    """Table VIII's SGD with weight decay, as the release's optimizer (train_amp.py) applies
    it: BN scales and biases decay too.  Decay on conv and FC weights only is an option.
    Where nothing decays (Table II) the switch is no part of the key; runs that decay
    conv and FC weights only keep the keys they had before decay on everything became
    the default."""
    from msr.train import param_groups

    for name in list_recipes():
        assert TrainConfig.from_dict(get_recipe(name)).weight_decay_all, name
    model = create_model("cifar_resnet", depth=8, T=1)
    n_params = len(list(model.parameters()))
    (every,) = param_groups(model, TrainConfig(weight_decay=1e-4))
    assert every["weight_decay"] == 1e-4 and len(every["params"]) == n_params
    decayed = [g for g in param_groups(model, TrainConfig(weight_decay=1e-4, weight_decay_all=False))
               if g["weight_decay"] > 0]
    assert 0 < sum(len(g["params"]) for g in decayed) < n_params  # BN and biases left out
    t6 = TrainConfig.from_dict(get_recipe("table6"))
    assert t6.hash_dict()["weight_decay_all"] is True
    assert "weight_decay_all" not in t6.replace(weight_decay_all=False).hash_dict()  # the key it always had
    assert t6.hash() != t6.replace(weight_decay_all=False).hash()
    t2 = TrainConfig.from_dict(get_recipe("table2"))  # weight decay 0: the switch changes nothing
    assert "weight_decay_all" not in t2.hash_dict()
    assert t2.hash() == t2.replace(weight_decay_all=False).hash()


def test_recipes_follow_the_tables():
    t2, t6 = TrainConfig.from_dict(get_recipe("table2")), TrainConfig.from_dict(get_recipe("table6"))
    assert (t2.lr, t2.momentum, t2.batch_size, t2.weight_decay, t2.epochs) == (0.1, 0.9, 100, 0.0, 100)
    assert t2.schedule == "multistep" and t2.milestones == (40, 60, 80) and t2.lr_factor == 0.2
    assert t6.schedule == "cosine" and t6.weight_decay == 1e-4
    assert t6.augment == ("random_crop_32", "random_rotation_15", "hflip", "normalize")
    ft = TrainConfig.from_dict(get_recipe("imagenet104_finetune"))
    assert (ft.lr, ft.weight_decay, ft.label_smoothing, ft.dropout, ft.test_T) == (0.05, 1e-5, 0.1, 0.2, 5)
    assert "autoaugment" in ft.augment
    assert TrainConfig.from_dict(get_recipe("imagenet104_pretrain")).T == 1
    # ResNet-18/34: the authors' corrected weight decay (and their release's AutoAugment and
    # label smoothing); Table X as printed stays reachable under its own name
    r18 = TrainConfig.from_dict(get_recipe("imagenet18_34"))
    assert (r18.weight_decay, r18.label_smoothing, r18.epochs, r18.schedule) == (1e-5, 0.1, 125, "cosine")
    assert "autoaugment" in r18.augment
    tx = TrainConfig.from_dict(get_recipe("imagenet18_34_table_x"))
    assert (tx.weight_decay, tx.label_smoothing) == (1e-4, 0.0) and "autoaugment" not in tx.augment
    assert base_lr(ft.replace(batch_size=512)) == pytest.approx(0.1)  # linear per 256
    assert scale_milestones((40, 60, 80), 100, 10) == (4, 6, 8)
    with pytest.raises(ValueError, match="valid: dvs, imagenet104_finetune"):
        get_recipe("table9")
    with pytest.raises(ValueError, match="unknown TrainConfig field.*valid"):
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 1})
    with pytest.raises(ValueError, match="schedule.*multistep, cosine, constant"):
        TrainConfig(schedule="step")
    with pytest.raises(ValueError, match="compile.*'fast'.*valid modes: default, reduce-overhead"):
        TrainConfig(compile="fast")
    assert TrainConfig(compile="reduce-overhead").hash() == TrainConfig().hash()  # a runtime switch


def test_two_phase_T1_weights_continue_at_T6(tiny, store, tmp_path, monkeypatch):
    import msr.train

    seen = []  # the T of every evaluation: the start weights' first, then the epochs' at test_T
    real = msr.train.evaluate
    monkeypatch.setattr(msr.train, "evaluate",
                        lambda *a, T=None, **kw: seen.append(T or a[3].test_T or a[3].T) or real(*a, T=T, **kw))
    first = tiny(T=1, epochs=1)
    r1 = train(first, profile="smoke", experiment="tp", store=store, run_dir=tmp_path / "runs")
    # tested at T = 5, as ResNet-104 is: the start weights are still measured at T = 6 (Appendix B)
    second = tiny(T=6, test_T=5, epochs=1, init_from=f"hash:{first.hash()}")
    seen.clear()
    r2 = train(second, profile="smoke", experiment="tp", store=store, run_dir=tmp_path / "runs")
    assert seen == [6, 5]
    m1 = load_trained(r1, run_dir=tmp_path / "runs")
    m6 = create_model("cifar_resnet", depth=8, in_channels=1, T=6)
    m6.load_state_dict(m1.state_dict())
    from msr.data import build_loaders

    _, test, info = build_loaders(second)
    expect = evaluate(m6, test, torch.device("cpu"), second, False, T=6)
    assert r2["final"]["init_acc"] == pytest.approx(expect["acc"])
    assert r2["init_eval"]["loss"] == pytest.approx(expect["loss"])
    with pytest.raises(ValueError, match="no finished run"):
        train(tiny(init_from="hash:0000000000000000"), profile="smoke", experiment="tp", store=store,
              run_dir=tmp_path / "runs")


def test_dvs_frames_train_time_first(tiny, store, tmp_path):
    from test_data import _write_events

    _write_events(tmp_path)
    cfg = tiny(dataset="cifar10_dvs", model="dvs_resnet20", data_root=str(tmp_path), T=3, batch_size=6,
               subset=None, test_subset=None, epochs=1)
    r = train(cfg, profile="smoke", experiment="dvs", store=store, run_dir=tmp_path / "runs")
    assert r["data"]["time_first"] and r["data"]["input_size"] == [2, 64, 64]
    assert len(r["epochs"]["test_acc"]) == 1 and r["params"] > 0


def test_speed_switches_same_metrics_and_recorded(tiny, tmp_path):
    """channels_last + compact spike storage: a runtime switch (same hash), same spikes,
    so the same metrics up to float rounding; recorded in the provenance."""
    from msr.results import ResultsStore

    cfg = tiny(lif_backend="auto")
    fast_cfg = cfg.replace(channels_last=True, compact_spikes=True)
    assert fast_cfg.hash() == cfg.hash()
    a = train(cfg, profile="s", experiment="a", store=ResultsStore(tmp_path / "a"), run_dir=tmp_path / "ra")
    b = train(fast_cfg, profile="s", experiment="a", store=ResultsStore(tmp_path / "b"), run_dir=tmp_path / "rb")
    assert b["provenance"]["speed"] == {"lif_backend": "auto", "bf16_autocast": False, "channels_last": True,
                                        "compile": False, "compact_spikes": True, "resident_data": False,
                                        "cuda_graph": False, "concurrent_runs": 1}
    assert a["provenance"]["speed"]["compact_spikes"] is False
    assert b["steps"]["step"] == a["steps"]["step"]
    assert b["steps"]["loss"] == pytest.approx(a["steps"]["loss"], rel=1e-4)
    for k in ("reported_acc", "final_train_loss", "final_test_loss", "firing_rate"):
        assert b["final"][k] == pytest.approx(a["final"][k], rel=1e-4, abs=1e-6), k


@pytest.mark.parametrize("compile_", [True, "reduce-overhead"])
def test_compile_switch_trains(tiny, store, tmp_path, monkeypatch, compile_):
    """compile=True (or a torch.compile mode) runs the training forward through
    torch.compile with that mode; in reduce-overhead mode every step begins a new
    generation of torch.compile's CUDA graphs.  The test compiles with the aot_eager
    backend (graph capture and AOT autograd, as inductor gets them) to stay fast;
    inductor's C++ build of the same graphs takes 15-40 s on 2 cores (timed by
    ``msr bench``'s msr-compile rows)."""
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile unavailable")
    from torch import _dynamo

    calls, steps = [], []
    real = torch.compile

    def compile_aot_eager(model, mode=None, **kw):
        calls.append(mode)
        return real(model, backend="aot_eager")

    monkeypatch.setattr(torch, "compile", compile_aot_eager)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: steps.append(1))
    _dynamo.reset()
    cfg = tiny(lif_backend="auto", compile=compile_, compact_spikes=True, epochs=1)
    r = train(cfg, profile="smoke", experiment="c", store=store, run_dir=tmp_path / "runs")
    assert calls == [None if compile_ is True else compile_] and r["provenance"]["speed"]["compile"] == compile_
    assert len(steps) == (cfg.subset // cfg.batch_size if compile_ == "reduce-overhead" else 0)  # one per step
    ref = train(cfg.replace(compile=False, compact_spikes=False), profile="smoke", experiment="c", store=store,
                run_dir=tmp_path / "runs2", force=True)
    assert r["final"]["final_train_loss"] == pytest.approx(ref["final"]["final_train_loss"], rel=1e-4)
