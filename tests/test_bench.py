"""``msr bench --quick``: a complete result on a 2-core CPU in under a minute."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

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
    # the same two runs trained one at a time, then both at once (msr.jobs worker processes)
    assert [(j["jobs"], j["runs"], j["status"]) for j in r["jobs"]] == [(1, 2, "ok"), (2, 2, "ok")], r["jobs"]
    for j in r["jobs"]:
        assert j["wall_s"] > 0 and j["run_images_per_s"] > 0
        assert j["images_per_s"] == pytest.approx(2 * 2 * 3 * 2 / j["wall_s"])  # runs x epochs x steps x batch
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


SJ_PROBE = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker:  # what the offline GPU machine lacks
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked)")
sys.meta_path.insert(0, Blocker())
import torch
from msr.bench.lif import spikingjelly_lif, spikingjelly_unavailable
from msr.neuron import lif
why = spikingjelly_unavailable()
if why is None:
    x = torch.randn(6, 4, 100, generator=torch.Generator().manual_seed(0))
    assert torch.equal(spikingjelly_lif()(x).to(x.dtype), lif(x, backend="reference"))
    assert spikingjelly_lif(surrogate="sigmoid")(x).shape == x.shape
print(why)
"""


def test_the_carried_wheels_are_all_spikingjelly_needs_beyond_msr():
    """scripts/gpu_wheels.sh carries SpikingJelly and the dependencies a GPU machine with only
    msr's compute dependencies lacks. With every other requirement SpikingJelly declares
    blocked, it imports and gives the reference's spikes; blocking a carried one as well
    makes it unavailable, and the rows then say why."""
    pytest.importorskip("spikingjelly", reason="SpikingJelly not installed (optional: pip install spikingjelly)")
    import re
    from importlib.metadata import requires

    root = Path(__file__).resolve().parents[1]
    line = next(x for x in (root / "scripts" / "gpu_wheels.sh").read_text().splitlines() if x.startswith("WHEELS="))
    carried = {name.lower() for name in re.findall(r"([A-Za-z0-9_.-]+)==", line)}
    assert "spikingjelly" in carried
    compute = {"torch", "torchvision", "numpy", "tqdm", "scipy", "packaging"}  # msr's, scikit-image's
    declared = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower().replace("-", "_") for r in requires("spikingjelly")
                if "extra ==" not in r}
    blocked = declared - compute - carried
    env = {**os.environ, "PYTHONPATH": str(root)}

    def probe(block):
        p = subprocess.run([sys.executable, "-c", SJ_PROBE, ",".join(sorted(block))], capture_output=True,
                           text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout.strip().splitlines()[-1]

    assert probe(blocked) == "None"
    for extra in sorted(carried - {"spikingjelly"}):
        assert probe(blocked | {extra}).startswith(f"fails to import: ImportError: No module named '{extra}'")


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


def test_gpu_loop_rows_compare_the_hand_made_graph_with_torch_compile():
    """On a GPU the loop rows are the profile's loop (hand-made CUDA graph), the eager loop,
    and torch.compile's reduce-overhead mode in place of the hand-made graph."""
    from msr.bench.loop import loop_config, loop_strategies
    from msr.train import use_cuda_graph, use_resident_data

    gpu = torch.device("cuda")
    strategies = {s.pop("strategy"): s for s in loop_strategies(gpu)}
    assert list(strategies) == ["loop", "loop-eager", "loop-compile-ro"]
    assert [s["strategy"] for s in loop_strategies(torch.device("cpu"))] == ["loop"]
    graphed = {name: use_cuda_graph(cfg, gpu, 1) for name, cfg in
               ((n, loop_config(20, 128, None, gpu, "fashion_mnist", **s)) for n, s in strategies.items())}
    assert graphed == {"loop": True, "loop-eager": False, "loop-compile-ro": False}
    compiled = loop_config(20, 128, None, gpu, "fashion_mnist", **strategies["loop-compile-ro"])
    assert compiled.compile == "reduce-overhead" and use_resident_data(compiled, gpu)


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


def test_jobs_frame_compares_with_one_run_at_a_time():
    from msr.render.performance import jobs_frame

    rows = [{"model": "MS-ResNet-20", "jobs": n, "runs": 4, "status": "ok", "wall_s": w, "images_per_s": 1.6e5 / w}
            for n, w in ((1, 40.0), (2, 25.0), (4, 16.0))]
    rows.append({"model": "MS-ResNet-20", "jobs": 8, "runs": 4, "status": "error: out of memory", "images_per_s": None})
    frame = jobs_frame({"jobs": rows})
    assert frame["runs at once"].tolist() == [1, 2, 4]
    assert frame["speed-up over one at a time (x)"].tolist() == [1.0, 1.6, 2.5]
    assert jobs_frame({"jobs": rows[-1:]}) is None and jobs_frame({}) is None


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


def test_best_jobs_reads_the_newest_full_bench_of_this_hardware(tmp_path):
    """gpu_run.sh's default JOBS: the N with the most images/s among the ok rows of the newest
    full bench on this hardware; quick benches, other hardware and failed rows do not count."""
    from msr.bench.storage import best_jobs

    here = hardware_slug("cpu")

    def bench_of(slug, date, rows, quick=False):
        return {"environment": {"hardware_slug": slug}, "quick": quick, "jobs": rows,
                "provenance": {"date_utc": date, "hardware": slug}}

    def row(n, rate, status="ok"):
        return {"jobs": n, "images_per_s": rate if status == "ok" else None, "status": status}

    assert best_jobs("cpu", tmp_path) is None  # nothing stored
    bench.store_result(bench_of(here, "2026-01-01T00:00:00Z", []), tmp_path)  # a bench from before the jobs rows
    assert best_jobs("cpu", tmp_path) is None
    bench.store_result(bench_of("nvidia-other-gpu", "2026-02-01T00:00:00Z", [row(1, 10.0), row(4, 99.0)]), tmp_path)
    bench.store_result(bench_of(here, "2026-02-01T00:00:00Z", [row(1, 50.0), row(2, 80.0), row(4, 70.0),
                                                                row(8, None, "error: out of memory")]), tmp_path)
    assert best_jobs("cpu", tmp_path) == (2, 80.0)
    bench.store_result(bench_of(here, "2026-03-01T00:00:00Z", [row(1, 1e6)], quick=True), tmp_path)
    assert best_jobs("cpu", tmp_path) == (2, 80.0)  # a quick bench is no measurement of the real loop
    ResultsStore(tmp_path).put("bench", "performance", {"hardware": here, "quick": False, "copy": 2},
                               bench_of(here, "2026-04-01T00:00:00Z", [row(1, 60.0), row(2, 40.0)]))
    assert best_jobs("cpu", tmp_path) == (1, 60.0)  # the newest bench of this hardware decides


def test_cli_rejects_missing_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    from msr.cli import main

    assert main(["bench", "--device", "cuda", "--quick", "--no-store"]) == 2


def test_a_spent_budget_leaves_later_sections_out_and_says_so(monkeypatch):
    """``msr bench --budget``: the LIF and training-step rows always run; a section or row
    that would start after the budget is spent is listed as not run, and the result is
    still complete enough to store and summarize."""
    from msr.bench import suite
    from msr.bench.loop import COMPILE_ROW_S, NOT_RUN, bench_jobs, bench_loop
    from msr.budget import Deadline

    ran = []
    monkeypatch.setattr(suite, "bench_lif", lambda *a: ran.append("lif") or [])
    monkeypatch.setattr(suite, "bench_train", lambda *a: ran.append("train") or [])
    monkeypatch.setattr(suite, "bench_memory", lambda *a: ran.append("memory") or [])
    r = suite.run_bench(quick=True, device="cpu", budget_s=1e-9)
    assert ran == ["lif", "train"]
    assert r["not_run"] == ["the training loop", "memory (compact spike storage)", "runs trained at once (--jobs)"]
    assert r["loop"] == r["jobs"] == [] and r["environment"]["budget_s"] == 1e-9
    assert {t["met"] for t in r["targets"]} == {None}
    json.dumps(r)
    spent = Deadline.after(-1.0)
    gpu = torch.device("cuda")  # no CUDA needed: rows past the deadline never start
    assert {(x["strategy"], x["status"]) for x in bench_loop(gpu, False, spent)} == {
        (s, NOT_RUN) for s in ("loop", "loop-eager", "loop-compile-ro")}
    assert [(x["jobs"], x["status"]) for x in bench_jobs(gpu, False, spent)] == [(1, NOT_RUN), (2, NOT_RUN),
                                                                                 (4, NOT_RUN)]
    # a torch.compile row starts only with COMPILE_ROW_S left: compiling comes first
    soon = Deadline.after(COMPILE_ROW_S / 2)
    monkeypatch.setattr("msr.bench.loop.loop_configs", lambda *a: [{"depth": 20, "batch": 128, "steps": None}])
    monkeypatch.setattr("msr.bench.loop.loop_strategies", lambda *a: [{"strategy": "loop-compile-ro",
                                                                      "compile": "reduce-overhead"}])
    (row,) = bench_loop(gpu, False, soon)
    assert row["status"] == NOT_RUN
    with pytest.raises(ValueError, match="budget must be > 0"):
        suite.run_bench(quick=True, device="cpu", budget_s=0)


@pytest.mark.slow
def test_gpu_bench_script_stores_what_its_budget_allowed(tmp_path):
    """scripts/gpu_bench.sh on the CPU (quick sizes): its gpu tests skip here, the bench gets
    the time they leave less the margin (here none: the 1 s floor), stores its result
    in the folder that comes back and lists what it left out."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OUT": str(tmp_path / "out"), "DEVICE": "cpu", "BENCH_ARGS": "--quick", "LIMIT": "300",
           "MARGIN": "1000", "PYTHON": sys.executable, "PYTHONPATH": str(root)}
    p = subprocess.run(["bash", "scripts/gpu_bench.sh"], cwd=root, capture_output=True, text=True, env=env,
                       timeout=400)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "its budget 1 s" in p.stdout and "no GPU" in p.stdout
    (stored,) = (tmp_path / "out" / "bench" / "performance").glob("*.json")
    r = json.loads(stored.read_text())
    assert r["environment"]["budget_s"] == 1.0 and r["lif"] and r["train"]
    assert "the training loop" in r["not_run"] and r["loop"] == []
    assert "not run within the time budget" in (tmp_path / "out" / "bench.log").read_text()


def test_every_lif_backend_the_bench_times_has_words():
    """Each name :func:`msr.bench.lif.lif_candidates` gives a row (on a CPU and on a GPU)
    is explained by msr.render.performance.LIF_BACKENDS, which names nothing else."""
    from msr.bench.lif import lif_candidates
    from msr.render.performance import LIF_BACKENDS, LIF_ON_GPU, lif_backend_words

    names = set(lif_candidates(torch.device("cpu"))) | set(lif_candidates(torch.device("cuda")))
    assert names == set(LIF_BACKENDS) and set(LIF_ON_GPU) <= names
    assert "msr.kernels.cpu_lif" in lif_backend_words("msr-cpu", "cpu")
    assert lif_backend_words("msr-cpu", "cuda").startswith(lif_backend_words("msr-cpu", "cpu") + "; ")


def test_a_bench_says_which_rows_measured_nothing_and_why():
    """Rows that errored or were skipped are named with their reason and the stored note
    (the H100 bench's SpikingJelly rows); rows the time budget left out are not (the
    section's "not run" line names them); a bench whose every row measured says nothing."""
    from msr.bench.loop import NOT_RUN
    from msr.render.performance import failed_rows

    ok = {"lif": [{"backend": "msr-cpu", "status": "ok", "median_ms": 1.0}],
          "train": [{"model": "MS-ResNet-20", "strategy": "msr", "status": "ok"}],
          "loop": [{"model": "MS-ResNet-20", "strategy": "eager", "status": NOT_RUN}]}
    assert failed_rows(ok) is None
    bad = {**ok, "lif": ok["lif"] + [{"backend": "spikingjelly", "status": "error: RuntimeError: no kernel"}] * 3,
           "train": ok["train"] + [{"model": "MS-ResNet-56", "strategy": "spikingjelly",
                                    "status": "SpikingJelly is not installed"}],
           "notes": "the kernel was forced"}
    text = failed_rows(bad)
    assert "LIF `spikingjelly`, 3 rows: error: RuntimeError: no kernel" in text
    assert "training step `spikingjelly` (MS-ResNet-56), 1 row: SpikingJelly is not installed" in text
    assert "the kernel was forced" in text and "eager" not in text and "msr-cpu" not in text
    stored = json.loads((Path(__file__).parents[1] / "results/bench/performance/aeb55109f88810b4.json").read_text())
    assert "SJ_LIF_CUDA_IMPLEMENTATION" in failed_rows(stored)


def test_targets_read_in_the_units_and_words_of_the_tables_above_them():
    """A target's share of the step is in percent, as the training-step table's "time in
    convolutions (%)"; its numbers carry the decimals :func:`msr.bench.target_text` prints
    (images/s and percent whole, GB to one decimal, ratios to two); its name is in words."""
    import re

    from msr.bench import target_text

    root = Path(__file__).parents[1] / "results/bench/performance"
    cpu = json.loads((root / "c5b034c5763b265d.json").read_text())
    gpu = json.loads((root / "aeb55109f88810b4.json").read_text())
    shares = [t for t in bench.summarize(cpu) if "time in convolutions" in t["target"]]
    assert shares and all(t["threshold"] == 85.0 and t["digits"] == 0 for t in shares)
    for t in shares:
        model, strategy = t["target"].split(" time in convolutions")[0], t["target"].rsplit("(", 1)[1][:-1]
        (row,) = [r for r in cpu["train"] if (r["model"], r["strategy"]) == (model, strategy)]
        assert t["value"] == pytest.approx(100 * row["conv_share"])
        assert target_text(t) == f"{100 * row['conv_share']:.0f}" and target_text(t, "threshold") == "85"
    targets = bench.summarize(gpu)
    loop = [t for t in targets if "training loop" in t["target"]]
    assert [target_text(t, "threshold") for t in loop] == ["15,000", "6,000"] and target_text(loop[0]) == "—"
    (memory,) = [t for t in targets if t["target"].startswith("MS-ResNet-104")]
    assert "batch 64, T = 6, 224 px" in memory["target"] and target_text(memory, "threshold") == "80.0"
    assert re.fullmatch(r"\d+\.\d", target_text(memory))
    ratios = [t for t in targets if "speed-up" in t["target"]]
    assert ratios and all(t["digits"] == 2 for t in ratios)
    for t in [*targets, *bench.summarize(cpu)]:
        assert not re.search(r"\bb\d+\b|\bT\d\b|\d+px|fwd|bwd|T=\d", t["target"]), t["target"]
    assert target_text({"value": 1.234, "threshold": 2.0}) == "1.23"  # a target stored before it carried digits


def test_fixed_cost_note_names_the_rows_slower_than_their_kernels():
    """A fused-LIF row more than FIXED_COST_FACTOR times slower than its kernels at the
    measured bandwidth is named; a row near it is not; no bandwidth rows, no note."""
    from msr.render.performance import bandwidth_frame, fixed_cost_note

    bw = {"device_copy_GBps": 3000.0, "rows": [
        {"kernel": k, "dtype": "float32", "T": 6, "neurons": 10**6, "median_ms": 0.003, "bytes": 1, "GBps": 1.0,
         "fraction_of_copy": 0.9} for k in ("forward", "backward")]}  # 1e-9 ms per neuron-step, both kernels
    lif = [{"backend": "msr-triton", "neurons": 10**6, "T": 1, "median_ms": 0.3},  # kernels: 0.001 ms
           {"backend": "msr-triton", "neurons": 10**6, "T": 8, "median_ms": 0.009},  # kernels: 0.008 ms
           {"backend": "msr-reference", "neurons": 10**6, "T": 1, "median_ms": 5.0}]
    note = fixed_cost_note({"lif": lif, "lif_bandwidth": bw})
    assert note.startswith("`msr-triton`: 1 of its 2 LIF rows") and "at T = 1: 0.300 ms against 0.001 ms" in note
    assert "T = 8" not in note and "msr-reference" not in note
    assert fixed_cost_note({"lif": lif}) is None and bandwidth_frame({"lif": lif}) is None
    assert list(bandwidth_frame({"lif_bandwidth": bw})["share of copy bandwidth (%)"]) == [90.0, 90.0]
