"""``msr bench --quick``: a complete result on a 2-core CPU in under a minute."""
from __future__ import annotations

import json
import time

import pytest
import torch

from msr import bench
from msr.provenance import KEYS, hardware_slug
from msr.results import ResultsStore


@pytest.fixture(scope="module")
def quick_result():
    t0 = time.perf_counter()
    result = bench.run_bench(quick=True, device="cpu")
    result["_elapsed"] = time.perf_counter() - t0
    return result


@pytest.mark.bench
def test_quick_bench_is_quick(quick_result):
    """A wall-clock bound: meaningful only on a quiet machine (``make test-bench``)."""
    assert quick_result["_elapsed"] < 60


def test_quick_bench_is_complete(quick_result):
    r = quick_result
    assert tuple(r["provenance"]) == KEYS and r["provenance"]["device"] == "cpu"
    assert r["provenance"]["wall_time_s"] > 0 and r["provenance"]["git_commit"] != "HEAD"
    assert r["environment"]["hardware_slug"] == hardware_slug("cpu") and r["environment"]["threads"] >= 1
    backends = {row["backend"] for row in r["lif"]}
    assert {"msr-reference", "msr-cpu", "authors-loop", "spikingjelly"} <= backends
    for row in r["lif"]:
        if row["backend"].startswith("spikingjelly") and row["status"] == "not installed":
            continue
        assert row["status"] == "ok", row
        assert row["median_ms"] > 0
    assert {row["T"] for row in r["lif"]} == {1, 6}
    models = {(row["model"], row["strategy"]) for row in r["train"]}
    assert ("MS-ResNet-20", "authors") in models and ("MS-ResNet-20", "msr") in models
    assert ("MS-ResNet-20", "spikingjelly") in models
    for row in r["train"]:
        if row["strategy"] == "spikingjelly" and row["status"] == "not installed":
            continue
        assert row["status"] == "ok", row
        assert row["median_ms"] > 0 and row["images_per_s"] > 0
        assert 0 < row["conv_share"] <= 1.0
        assert row["saved_for_backward_MB"] > 0
    names = [t["target"] for t in r["targets"]]
    assert any("SpikingJelly" in n for n in names) and any("training step" in n for n in names)
    (loop,) = r["loop"]  # the real training loop: one row on a CPU
    assert loop["status"] == "ok" and (loop["model"], loop["strategy"]) == ("MS-ResNet-20", "loop"), loop
    assert loop["images_per_s"] > 0 and loop["first_epoch_images_per_s"] > 0 and loop["steps_per_epoch"] == 3
    assert loop["dataset"] in ("fashion_mnist", "synthetic") and loop["lif_backend"] == "cpu"
    assert loop["cuda_graph"] is False and loop["resident_data"] is False
    json.dumps(r)  # JSON-able


def test_spikingjelly_strategy_runs_the_same_network():
    """The training-step rows' SpikingJelly strategy swaps every LIF layer for SpikingJelly's
    LIFNode with its parameters: no msr LIF is left, and the logits and weight gradients are
    those of the msr model with the same weights."""
    pytest.importorskip("spikingjelly", reason="SpikingJelly not installed (optional: pip install spikingjelly)")
    from msr import create_model
    from msr.bench.lif import SpikingJellyLIF, to_spikingjelly_lif
    from msr.neuron import LIF

    torch.manual_seed(0)
    ours = create_model("cifar_resnet", depth=8, T=2)
    theirs = create_model("cifar_resnet", depth=8, T=2)
    theirs.load_state_dict(ours.state_dict())
    n = sum(isinstance(m, LIF) for m in ours.modules())
    to_spikingjelly_lif(theirs)
    assert n > 0 and not any(isinstance(m, LIF) for m in theirs.modules())
    assert sum(isinstance(m, SpikingJellyLIF) for m in theirs.modules()) == n
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    losses = [torch.nn.functional.cross_entropy(m(x), y) for m in (ours, theirs)]
    for loss in losses:
        loss.backward()
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-4, atol=1e-5)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-3, atol=1e-5, msg=name)


def test_loop_rows_train_the_fmnist_recipe():
    """The loop rows change the profile's Table II run only where the bench must: batch,
    epochs, steps, the test split, and the data set where Fashion-MNIST is absent."""
    from msr.bench.loop import loop_config
    from msr.sweep import experiment_configs

    (ref,) = [c for c in experiment_configs("table2", "fmnist", (0,)) if c.block == "ms" and c.depth == 56]
    cfg = loop_config(56, 128, None, torch.device("cuda"), "fashion_mnist", cuda_graph=False)
    same = ("model", "block", "T", "lr", "momentum", "weight_decay", "schedule", "milestones", "augment", "subset",
            "amp", "lif_backend", "workers")
    assert {k: getattr(cfg, k) for k in same} == {k: getattr(ref, k) for k in same}
    assert (cfg.batch_size, cfg.epochs, cfg.test_subset, cfg.max_steps_per_epoch, cfg.cuda_graph) == \
        (128, 2, 128, None, False)
    syn = loop_config(20, 8, 10, torch.device("cpu"), "synthetic")
    assert (syn.dataset, syn.subset, syn.augment, syn.workers) == ("synthetic", 80, (), 0)


def test_loop_targets_count_only_fashion_mnist_rows():
    """On a GPU the loop's images/s are the speed goals; a row on synthetic data is no
    evidence for them and leaves the target unmeasured."""
    def result(dataset):
        loop = [{"model": m, "strategy": s, "status": "ok", "dataset": dataset, "images_per_s": v}
                for m, s, v in (("MS-ResNet-20", "loop", 16000.0), ("MS-ResNet-20", "loop-eager", 5000.0),
                                ("MS-ResNet-56", "loop", 5000.0))]
        return {"provenance": {"device": "cuda"}, "lif": [], "train": [], "loop": loop}

    got = {t["target"].split(" training loop")[0]: t for t in bench.summarize(result("fashion_mnist"))
           if "training loop" in t["target"]}
    assert (got["MS-ResNet-20"]["value"], got["MS-ResNet-20"]["met"]) == (16000.0, True)
    assert (got["MS-ResNet-56"]["value"], got["MS-ResNet-56"]["met"]) == (5000.0, False)
    synthetic = [t for t in bench.summarize(result("synthetic")) if "training loop" in t["target"]]
    assert len(synthetic) == 2 and all(t["value"] is None and t["met"] is None for t in synthetic)
    from msr.render.performance import loop_frame

    frame = loop_frame(result("fashion_mnist"))
    assert frame["speed-up over the eager loop (x)"].tolist()[:2] == [3.2, 1.0]
    assert loop_frame({"loop": []}) is None and loop_frame({}) is None


def test_fused_lif_beats_authors_loop_and_saves_memory(quick_result):
    """Behaviour the suite exists to show: the fused CPU LIF is faster than the authors'
    per-step loop, and msr's training step saves fewer bytes for backward."""
    lif = {(row["backend"], row["T"]): row["median_ms"] for row in quick_result["lif"] if row["median_ms"]}
    assert lif[("msr-cpu", 6)] < lif[("authors-loop", 6)]
    rows = {(row["model"], row["strategy"]): row for row in quick_result["train"]}
    assert rows[("MS-ResNet-20", "msr")]["saved_for_backward_MB"] < rows[("MS-ResNet-20", "authors")][
        "saved_for_backward_MB"]


def test_compact_spike_storage_saves_memory(quick_result):
    """The memory section: per model, bits < int8 < float storage of the spike-fed
    convolutions' inputs, strictly."""
    rows = {(r["model"], r["compact"]): r for r in quick_result["memory"]}
    assert {m for m, _ in rows} == {"MS-ResNet-20"}
    for r in rows.values():
        assert r["status"] == "ok", r
        assert r["T"] == 6 and r["saved_per_image_MB"] > 0
    mb = {mode: rows[("MS-ResNet-20", mode)]["saved_for_backward_MB"] for mode in ("off", "int8", "bits")}
    assert mb["bits"] < mb["int8"] < mb["off"]
    assert rows[("MS-ResNet-20", "bits")]["saved_vs_off"] < 0.8
    assert "saved_vs_off" in bench.bench_table(quick_result)["memory"].columns


def test_bench_table_and_store(quick_result, tmp_path, monkeypatch):
    tables = bench.bench_table(quick_result)
    lif = tables["lif"]
    assert "msr-cpu" in lif.columns and "authors-loop / msr-cpu" in lif.columns
    assert (lif["authors-loop / msr-cpu"] > 0).all()
    assert "speedup_vs_authors" in tables["train"].columns
    authors = tables["train"][tables["train"]["strategy"] == "authors"]
    assert authors["speedup_vs_authors"].tolist() == pytest.approx([1.0] * len(authors))
    path = bench.store_result(quick_result, tmp_path)
    slug = quick_result["environment"]["hardware_slug"]
    assert path.parent == tmp_path / "bench" / "performance"
    assert path == ResultsStore(tmp_path).path("bench", "performance", {"hardware": slug, "quick": True})
    stored = json.loads(path.read_text())
    assert stored["provenance"] == quick_result["provenance"] and stored["lif"] == quick_result["lif"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # atomic: no temp files left
    loaded = bench.load_results(tmp_path, include_quick=True)
    assert list(loaded) == [slug]
    assert bench.load_results(tmp_path) == {}  # quick results are not for the book
    for hw, date in (("b", "2030-01-01T00:00:00Z"), ("a", "2020-01-01T00:00:00Z")):  # two machines, one slug
        again = {**quick_result, "provenance": {**quick_result["provenance"], "date_utc": date},
                 "environment": {**quick_result["environment"], "hardware_slug": slug}}
        ResultsStore(tmp_path).put("bench", "performance", {"hardware": slug, "quick": True, "copy": hw}, again)
    newest = bench.load_results(tmp_path, include_quick=True)
    assert [r["provenance"]["date_utc"] for r in newest.values()] == ["2030-01-01T00:00:00Z"]
    # the default root is the results store's ($MSR_RESULTS)
    monkeypatch.setenv("MSR_RESULTS", str(tmp_path / "env"))
    assert bench.store_result(quick_result).parent == tmp_path / "env" / "bench" / "performance"


def test_cli_rejects_missing_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    from msr.cli import main

    assert main(["bench", "--device", "cuda", "--quick", "--no-store"]) == 2
