"""``msr bench --quick``: a complete result on a 2-core CPU in under a minute."""
from __future__ import annotations

import json
import time

import pytest
import torch

from msr import bench


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
    prov = r["provenance"]
    for key in ("device", "torch", "git_commit", "date", "hardware_slug"):
        assert prov[key], key
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
    for row in r["train"]:
        assert row["status"] == "ok", row
        assert row["median_ms"] > 0 and row["images_per_s"] > 0
        assert 0 < row["conv_share"] <= 1.0
        assert row["saved_for_backward_MB"] > 0
    names = [t["target"] for t in r["targets"]]
    assert any("SpikingJelly" in n for n in names) and any("training step" in n for n in names)
    json.dumps(r)  # JSON-able


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


def test_bench_table_and_store(quick_result, tmp_path):
    tables = bench.bench_table(quick_result)
    lif = tables["lif"]
    assert "msr-cpu" in lif.columns and "authors-loop / msr-cpu" in lif.columns
    assert (lif["authors-loop / msr-cpu"] > 0).all()
    assert "speedup_vs_authors" in tables["train"].columns
    authors = tables["train"][tables["train"]["strategy"] == "authors"]
    assert authors["speedup_vs_authors"].tolist() == pytest.approx([1.0] * len(authors))
    path = bench.store_result(quick_result, tmp_path / "bench" / "x.json")
    stored = json.loads(path.read_text())
    assert stored["provenance"] == quick_result["provenance"]
    assert list((tmp_path / "bench").glob(".tmp-*")) == []  # atomic: no leftovers
    loaded = bench.load_results(tmp_path / "bench", include_quick=True)
    assert list(loaded) == [quick_result["provenance"]["hardware_slug"]]
    assert bench.load_results(tmp_path / "bench") == {}  # quick results are not for the book
    for name, date in (("b.json", "2030-01-01T00:00:00+00:00"), ("a.json", "2020-01-01T00:00:00+00:00")):
        bench.store_result({**quick_result, "provenance": {**quick_result["provenance"], "date": date}},
                           tmp_path / "bench" / name)
    newest = bench.load_results(tmp_path / "bench", include_quick=True)
    assert [r["provenance"]["date"] for r in newest.values()] == ["2030-01-01T00:00:00+00:00"]


def test_cli_rejects_missing_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    from msr.cli import main

    assert main(["bench", "--device", "cuda", "--quick", "--no-store"]) == 2


def test_commit_of_a_copy_without_history_is_never_head(tmp_path, monkeypatch):
    """In a repository without commits ``git rev-parse HEAD`` prints ``HEAD``: the bench
    records ``unknown`` there, or the commit that ``MSR_GIT_COMMIT`` names."""
    import subprocess

    from msr import bench

    if subprocess.run(["git", "init", "-q", str(tmp_path)], capture_output=True).returncode != 0:
        pytest.skip("git is not available")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.delenv("MSR_GIT_COMMIT", raising=False)
    assert bench._git_commit() == "unknown"
    monkeypatch.setenv("MSR_GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567")
    assert bench._git_commit() == "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("MSR_GIT_COMMIT", "HEAD")
    assert bench._git_commit() == "unknown"
