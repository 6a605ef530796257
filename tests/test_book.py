"""msr.book (parameters, boxes, tables) and msr.chapters (compute functions, report)."""
from __future__ import annotations

import math

import pytest

from msr import book, chapters, paper, per_run
from msr.structure import block_flow


def test_check_parameters_defaults_and_errors():
    p = book.check_parameters({"profile": "smoke", "device": "cpu"})
    assert (p.profile, p.device, p.recompute, p.render_only) == ("smoke", "cpu", False, False)
    with pytest.raises(book.ParameterError, match="unknown profile 'smok'; valid profiles: smoke, fmnist, paper"):
        book.check_parameters({"profile": "smok"})
    with pytest.raises(book.ParameterError, match=r"unknown parameter\(s\) 'profle'; valid parameters: .*profile"):
        book.check_parameters({"profle": "smoke"})
    with pytest.raises(book.ParameterError, match="unknown device 'gpu'"):
        book.check_parameters({"profile": "smoke", "device": "gpu"})
    with pytest.raises(book.ParameterError, match="cannot both be true"):
        book.check_parameters({"profile": "smoke", "recompute": True, "render_only": True})
    with pytest.raises(book.ParameterError, match="true or false"):
        book.check_parameters({"profile": "smoke", "recompute": "maybe"})


def test_device_auto_is_resolved_even_in_render_only_mode():
    for render_only in (False, True):
        p = book.check_parameters({"profile": "fmnist", "device": "auto", "render_only": render_only})
        assert p.device in ("cpu", "cuda")
    # a render-only build on a CPU box may name the GPU the results came from
    assert book.check_parameters({"profile": "fmnist", "device": "cuda", "render_only": True}).device == "cuda"


def test_parameters_reads_notebook_globals():
    """What a kernel holds after papermill injected a misspelt name."""
    import types

    ns = {"__name__": "__main__", "In": [], "Out": {}, "_i1": "", "book": types.ModuleType("book"),
          "get_ipython": lambda: None, **book.PARAMETERS, "profle": "smoke"}
    with pytest.raises(book.ParameterError, match="'profle'"):
        book.parameters(ns)
    del ns["profle"]
    assert book.parameters({**ns, "profile": "smoke"}).profile == "smoke"
    assert book.parameters({**ns, "depths": [8]}, extra=("depths",)).extra == {"depths": [8]}


def test_not_computed_box_names_the_command():
    text = book.not_computed("degradation", "fmnist", "Table II")
    assert "msr reproduce --profile fmnist --only degradation" in text and "Not computed yet" in text


@pytest.mark.parametrize("block, path, post", [
    ("plain", ["conv1", "bn1", "lif1", "conv2", "bn2", "lif2"], []),
    ("vanilla", ["conv1", "bn1", "lif1", "conv2", "bn2"], ["lif_out"]),
    ("ms", ["lif1", "conv1", "bn1", "lif2", "conv2", "bn2"], []),
    ("sr_b", ["bn1", "lif1", "conv1", "bn2", "lif2", "conv2"], []),
    ("sr_c", ["conv1", "bn1", "lif1", "conv2", "bn2", "lif2"], []),
])
def test_block_flow_traces_forward_order(block, path, post):
    f = block_flow(block)
    assert f["path"] == path and f["post"] == post


def test_render_only_never_computes(tmp_path):
    from msr.results import ResultsStore

    ctx = chapters.ChapterContext("smoke", render_only=True, store=ResultsStore(tmp_path))
    calls = []
    assert ctx.item("x", {"a": 1}, lambda: calls.append(1) or {"v": 1}) is None
    assert calls == []
    assert ctx.item("x", {"a": 1}, lambda: {"v": 2}, cheap=True)["v"] == 2  # cheap items still run


def test_report_lists_every_paper_number_not_run_when_store_empty():
    rows = chapters.report.report_rows("smoke", {})
    n_expected = (sum(len(v) for v in paper.TABLE_II.values()) + len(paper.DEEP_CIFAR10) + 2
                  + len(paper.TABLE_III) + 1 + len(paper.TABLE_III_ANN) + len(paper.TABLE_IV) + 1
                  + 5 * len(paper.TABLE_V) + len(paper.EXCLUDED_FLOPS_SHARE) + len(paper.FIRING_RATE) + 1
                  + sum(len(b) for d in paper.TABLE_VI.values() for b in d.values()) + len(paper.TWO_PHASE))
    results = [r for r in rows if r.section != "Table VII"]
    assert len(results) == n_expected
    assert all(r.as_dict("smoke")["ours"] == "not run" for r in results)
    claims = chapters.report.claims({})
    assert claims and all(c["shown"] is None for c in claims)


def test_initialisation_analyses_need_no_training_and_survive_new_runs(tmp_path, monkeypatch):
    """Isometry and state changes at initialisation are computed with no Table II run
    stored, and stay stored (same key) once trained runs appear."""
    from msr.results import ResultsStore

    monkeypatch.setattr(per_run, "analysis_sizes",
                        lambda p: dict(samples=4, grid=3, probes=1, iso_depths=(8,), iso_batch=2))
    store = ResultsStore(tmp_path)
    ctx = chapters.ChapterContext("smoke", store=store, quiet=True)
    iso = chapters.isometry.compute(ctx)["isometry"]
    assert {(r["block"], r["depth"], r["state"]) for r in iso["rows"]} == {("vanilla", 8, "init"), ("ms", 8, "init")}
    sc = chapters.unavailing.compute(ctx)["state_change"]
    assert sc and all(k.endswith(" init") for k in sc["rows"])
    before = sorted(p.name for p in (tmp_path / "smoke").rglob("*.json"))
    chapters.isometry.compute(chapters.ChapterContext("smoke", store=store, quiet=True, render_only=True))
    assert sorted(p.name for p in (tmp_path / "smoke").rglob("*.json")) == before  # read, not recomputed
    # a render-only reader finds the initialisation rows without any trained run
    assert chapters.isometry.compute(ctx.reader())["isometry"]["rows"] == iso["rows"]


def test_run_times_counts_stored_runs(tmp_path):
    from msr.results import ResultsStore

    store = ResultsStore(tmp_path)
    for i, speeds in enumerate(([100.0, 300.0], [50.0])):
        store.put("smoke", "table2", {"i": i}, {"epochs": {"images_per_s": speeds}, "wall_time_s": 60.0 * (i + 1),
                                                 "provenance": {"hardware": "CPU X"}})
    store.put("smoke", "isometry", {"k": 1}, {"rows": [], "wall_time_s": 30.0, "provenance": {"hardware": "CPU X"}})
    rows = {r["experiment"]: r for r in chapters.performance.run_times(store, "smoke")}
    assert rows["table2"]["results"] == 2 and rows["table2"]["wall time (min)"] == 3.0
    assert rows["table2"]["training images/s (median)"] == 125.0  # median of the run means 200 and 50
    assert rows["isometry"]["training images/s (median)"] is None and rows["isometry"]["hardware"] == "CPU X"


def test_state_change_claim_compares_measured_with_eq8():
    row = lambda changed: {"changed": changed, "eq8": 0.159}
    claim = chapters.unavailing._state_change_claim
    near = claim({"rows": {"vanilla-20 init": [row(0.15), row(0.16), {"changed": None}]}})
    far = claim({"rows": {"vanilla-20 init": [row(0.05), row(0.06)]}})
    assert near["shown"] is True and "15.5 % measured" in near["evidence"]
    assert far["shown"] is False
    assert claim(None)["shown"] is None


def _dvs_bench(result):
    return {"dvs": [{"model": "dvs_resnet20", "T": 10, "dataset": "fashion_mnist_dvs",
                     "data": "emulated Fashion-MNIST events (saccades)", "result": result, "why": None if result
                     else "not computed", "command": "msr sweep dvs --profile fmnist --device cuda"}], "imagenet": []}


def test_table_iv_and_v_say_which_data_the_dvs_numbers_come_from():
    res = {"acc": 88.5, "dataset": "fashion_mnist_dvs", "provenance": None}
    measured = {"dvs_resnet20": {"T": 10, "rate": 0.1, "syops": 40e6, "e_snn_mj": 0.036, "ratio": 5.1,
                                 "dataset": "fashion_mnist_dvs"}}
    rows = chapters.report.report_rows("fmnist", {"benchmarks": _dvs_bench(res), "energy": {"measured": measured}})
    ours = next(r for r in rows if r.section == "Table IV" and r.quantity == "paper: MS-ResNet20")
    assert ours.ours == 88.5 and ours.dataset == "fashion_mnist_dvs"
    assert "emulated Fashion-MNIST events" in ours.note and "not CIFAR10-DVS" in ours.note
    cited = next(r for r in rows if r.section == "Table IV" and r.quantity.startswith("Fang"))
    assert cited.ours is None and cited.note == "cited work, not reproduced"
    syops = next(r for r in rows if r.quantity == "dvs_resnet20 syops")
    assert syops.ours == 40e6 and syops.dataset == "fashion_mnist_dvs" and "emulated" in syops.note
    other = next(r for r in rows if r.quantity == "imagenet_resnet34 syops")
    assert other.ours is None and other.note == ""
    not_run = chapters.report.report_rows("fmnist", {"benchmarks": _dvs_bench(None)})
    row = next(r for r in not_run if r.section == "Table IV" and r.quantity == "paper: MS-ResNet20")
    assert row.ours is None and "not run" in row.note and "emulated Fashion-MNIST" in row.note
    # the Table V rows multiply the DVS run's measured rate into the counted MACs
    structure = {"models": {m: {"macs_residual": 40.1e6} for m in paper.TABLE_V}}
    dvs = next(r for r in chapters.energy.energy_rows(structure, measured) if r["model"] == "dvs_resnet20")
    assert dvs["our rate"] == 0.1 and math.isclose(dvs["our SyOPs (M)"], 40.1 * 10 * 0.1)


def test_table_iv_frame_and_event_figure_label_the_emulated_data(tmp_path, monkeypatch):
    _, t4 = book.benchmark_frames(_dvs_bench({"acc": 88.5, "dataset": "fashion_mnist_dvs"}), "fmnist")
    assert t4.loc["paper", "ours"] == 88.5 and "Fashion-MNIST" in t4.loc["paper", "our data"]
    assert t4.loc["Fang et al.", "our data"] == ""
    ex = chapters.benchmarks.dvs_examples(chapters.ChapterContext("smoke", data_root=str(tmp_path)), n=2)
    assert ex["dataset"] in ("fashion_mnist_dvs", "synthetic_dvs") and ex["frames"].shape == (2, 2, 2, 64, 64)
    assert ex["frames"].sum(axis=(1, 2, 3, 4)).tolist() == ex["counts"] and min(ex["counts"]) > 0
    assert not list(tmp_path.rglob("*.npy"))  # examples are emulated on the fly, never stored
    recorded = chapters.ChapterContext("paper", data_root=str(tmp_path))  # CIFAR10-DVS: recorded, not emulated
    assert chapters.benchmarks.dvs_examples(recorded) is None
    monkeypatch.setattr(book, "FIGURES", tmp_path / "figures")
    book.save_figure(book.plot_event_frames(ex), "dvs_event_frames", "smoke", "footer")
    assert (tmp_path / "figures" / "smoke" / "dvs_event_frames.png").exists()


def test_energy_rows_count_event_data_per_frame():
    structure = {"models": {n: {"macs_residual": p["flops"]} for n, p in paper.TABLE_V.items()}}
    measured = {"dvs_resnet20": {"T": 10, "rate": 0.2, "per_frame": True},
                "imagenet_resnet104": {"T": 5, "rate": 0.192, "per_frame": False}}
    rows = {r["model"]: r for r in chapters.energy.energy_rows(structure, measured)}
    dvs, r104 = rows["dvs_resnet20"], rows["imagenet_resnet104"]
    assert dvs["our SyOPs (M)"] == pytest.approx(0.2 * paper.TABLE_V["dvs_resnet20"]["flops"] / 1e6)
    assert dvs["our ratio"] == pytest.approx(paper.ENERGY_PJ["mac"] / (paper.ENERGY_PJ["ac"] * 0.2))
    # ResNet-104 at T = 5 with the paper's rate gives the paper's SyOPs and ratio
    assert round(r104["our SyOPs (M)"] / 1e3, 2) == paper.TABLE_V["imagenet_resnet104"]["syops"] / 1e9
    assert round(r104["our ratio"], 2) == paper.TABLE_V["imagenet_resnet104"]["ratio"]
    assert rows["imagenet_resnet34"]["our ratio"] is None


def test_trained_models_are_analysed_at_their_test_T():
    """ResNet-104 trains at T = 6 and runs at T = 5 (Table V, Appendix B): the per-run
    energy and firing analyses use ``test_T``."""
    import torch

    from msr import per_run
    from msr.models import create_model
    from msr.train import TrainConfig

    cfg = TrainConfig(model="cifar_resnet", depth=8, T=6, test_T=5, dataset="synthetic", input_size=(1, 16, 16))
    torch.manual_seed(0)
    model = create_model("cifar_resnet", depth=8, T=6, in_channels=1, input_size=(1, 16, 16)).eval()

    class Inputs:
        def get(self, cfg, n, train_split=False):
            return torch.randn(4, 1, 16, 16), torch.zeros(4, dtype=torch.long)

    sizes = {"samples": 4}
    e = per_run._energy(model, cfg, Inputs(), sizes)
    assert e["T"] == 5 and e["per_frame"] is False
    assert e["syops"] == pytest.approx(5 * e["rate"] * e["flops"])
    f, _ = per_run._firing(model, cfg, Inputs(), sizes)
    assert f["T"] == 5

