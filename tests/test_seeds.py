"""Seeds: one stored run per seed, mean ± std (n) in tables, claims judged against the seed
spread (msr.chapters.SPREAD_RULE), seed 0 of everything first in budgeted commands.
Known answers on synthetic multi-seed result sets: a clear drop, a drop inside the noise,
a missing seed."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from msr import book, chapters
from msr.budget import planned_seeds, run_pending
from msr.chapters._runs import seed_summary, train_runs
from msr.profiles import PROFILES, VALUE_ORDER
from msr.render import degradation
from msr.results import ResultsStore
from msr.sweep import experiment_configs, run_sweep

DEPTHS = (8, 14, 20, 32, 44, 56)


def _runs(block: str, accs_by_depth: dict, planned: int = 3) -> list:
    """``train_runs``-shaped triples: ``accs_by_depth[d]`` lists one accuracy per seed (None: missing)."""
    out = []
    for d, accs in accs_by_depth.items():
        for seed in range(planned):
            a = accs[seed] if seed < len(accs) else None
            cfg = SimpleNamespace(block=block, depth=d, seed=seed)
            r = None if a is None else {"final": {"reported_acc": a}, "config": {"dataset": "fm"},
                                        "hash": f"{block}{d}s{seed}"}
            out.append((cfg, r, None if r else "not computed"))
    return out


def _t2(block: str, accs_by_depth: dict, planned: int = 3) -> dict:
    return seed_summary(_runs(block, accs_by_depth, planned), lambda c: (c.block, c.depth))


# -------------------------------------------------------------- summaries, tables ----

def test_seed_summary_mean_std_and_a_missing_seed():
    t = _t2("plain", {8: [80.0, 82.0, 84.0], 14: [90.0, None, 92.0], 20: [None, None, None], 32: [70.0]})
    assert t[("plain", 8)]["acc"] == pytest.approx(82.0) and t[("plain", 8)]["std"] == pytest.approx(2.0)
    assert t[("plain", 8)]["n"] == 3 and t[("plain", 8)]["seeds"] == [0, 1, 2]
    assert t[("plain", 14)]["n"] == 2 and t[("plain", 14)]["seeds"] == [0, 2] and t[("plain", 14)]["planned"] == 3
    assert t[("plain", 20)] is None
    assert t[("plain", 32)]["n"] == 1 and t[("plain", 32)]["std"] is None
    assert book.acc_cell(t[("plain", 8)]) == "82.00 ± 2.00 (3)"
    assert book.acc_cell(t[("plain", 14)]) == "91.00 ± 1.41 (2 of 3)"
    assert book.acc_cell(t[("plain", 32)]) == "70.00 (1 of 3)"
    assert book.acc_cell({"acc": 70.0, "n": 1, "std": None, "planned": 1}) == "70.00 (1)"
    assert book.acc_cell(None) == "not run"
    df = degradation.accuracy_frame(t, {"plain": {8: 81.0}}, {"plain": "PlainNet"},
                                    depths=(8, 14, 20)).set_index("depth")
    assert df.loc[8, "PlainNet: ours"] == "82.00 ± 2.00 (3)" and df.loc[20, "PlainNet: ours"] == "not run"
    assert df.loc[8, "PlainNet: paper"] == 81.0


def test_depth_figure_draws_error_bars_and_seeds():
    t = {**_t2("plain", {8: [80.0, 82.0, 84.0], 14: [90.0, 91.0, 92.0]}), **_t2("ms", {8: [85.0], 14: [86.0]}, 1)}
    fig = degradation.plot_depth(t, {}, {"plain": "PlainNet", "ms": "MS"}, "t")
    ax = fig.axes[0]
    bars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(bars) == 2
    dots = [line for line in ax.lines if line.get_linestyle() == "None" and line.get_marker() == "."]
    assert len(dots) == 1 and len(dots[0].get_xdata()) == 6  # 3 seeds x 2 depths of plain; ms has one seed


# ------------------------------------------------------------------------ claims ----

def test_clear_drop_is_shown():
    t = _t2("plain", {8: [80, 81, 80.5], 14: [86, 86.5, 85.5], 20: [84, 84.5, 83.5], 56: [70, 71, 69]})
    c = chapters.degradation._table2_claims(t)[0]
    assert c["shown"] is True and "beyond the seed spread" in c["evidence"] and "3 seeds" in c["evidence"]


def test_drop_inside_the_noise_is_not_shown():
    # peak at 14 by mean, but the deepest model is within the seed spread of it
    t = _t2("plain", {8: [80, 84, 82], 14: [84, 88, 86], 20: [83, 87, 85], 56: [81, 89, 85]})
    c = chapters.degradation._table2_claims(t)[0]
    assert c["shown"] is False and "inside the seed spread" in c["evidence"]
    # the same means from one seed each: no spread, so the drop counts, and the verdict says so
    one = _t2("plain", {8: [82], 14: [86], 20: [85], 56: [85]}, planned=1)
    c1 = chapters.degradation._table2_claims(one)[0]
    assert c1["shown"] is True and "one seed" in c1["evidence"]


def test_missing_seed_uses_the_seeds_stored_and_says_how_many():
    t = _t2("vanilla", {8: [80, 81, None], 14: [84, 85, None], 20: [88, 89, None], 56: [70, 71, None]})
    c = chapters.degradation._table2_claims(t)[1]
    assert c["shown"] is True and "2 seeds" in c["evidence"]
    # a missing seed that leaves a depth with one seed: mixed counts
    t[("vanilla", 56)] = _t2("vanilla", {56: [70]}, planned=3)[("vanilla", 56)]
    assert "1-2 seeds" in chapters.degradation._table2_claims(t)[1]["evidence"]


def test_ms_keeps_improving_only_beyond_the_noise():
    clear = _t2("ms", {8: [80, 81, 80], 20: [85, 86, 85], 56: [90, 91, 90]})
    assert chapters.degradation._table2_claims(clear)[2]["shown"] is True
    noisy = _t2("ms", {8: [80, 90, 85], 20: [84, 88, 86], 56: [82, 92, 87]})  # deepest best by mean, not beyond
    c = chapters.degradation._table2_claims(noisy)[2]
    assert c["shown"] is False and "within the spread of depth 8" in c["evidence"]


def test_shortcuts_claim_counts_ties_within_the_noise():
    def t6(pairs):
        out = {}
        for d, (a, b) in zip((32, 44, 56), pairs, strict=True):
            out.update(seed_summary(
                [(SimpleNamespace(dataset="fm", block=blk, depth=d, seed=s), {"final": {"reported_acc": x},
                  "config": {"dataset": "fm"}}, None)
                 for blk, xs in (("ms", a), ("sr_b", b)) for s, x in enumerate(xs)],
                lambda c: (c.dataset, c.block, c.depth)))
        return out
    # SR-A below SR-B by mean at 2 of 3 depths, but within the spread: not clearly worse
    c = chapters.shortcuts._shortcuts_claim(t6([([89, 91], [90, 92]), ([89, 91], [90, 92]), ([92, 93], [90, 91])]))
    assert c["shown"] is True and "within the seed spread at 2" in c["evidence"] and "2 seeds" in c["evidence"]
    c = chapters.shortcuts._shortcuts_claim(t6([([80, 81], [90, 91]), ([80, 81], [90, 91]), ([92, 93], [90, 91])]))
    assert c["shown"] is False and "clearly worse at 2" in c["evidence"]


def test_report_rows_say_the_seeds():
    t2 = _t2("plain", {8: [80.0, 82.0, 84.0], 14: [90.0]})
    rows = {r.quantity: r for r in chapters.report.report_rows("smoke", {"degradation": {"table2": t2}})}
    assert rows["PlainNet, depth 8"].ours == pytest.approx(82.0)
    assert rows["PlainNet, depth 8"].note == "mean of 3 seeds, std 2.00"
    assert rows["PlainNet, depth 14"].note == "one seed"


# ---------------------------------------------------------------- sweeps, budget ----

def test_seeds_of_profiles_and_the_value_order():
    assert {c.seed for c in experiment_configs("table2", "smoke")} == {0, 1}
    assert {c.seed for c in experiment_configs("table6", "fmnist")} == {0, 1, 2}
    assert {c.seed for c in experiment_configs("init", "fmnist")} == {0}
    fm = experiment_configs("table2", "fmnist")
    assert len({c.hash() for c in fm}) == len(fm) == 72
    assert [c.seed for c in fm[:24]] == [0] * 24  # seed by seed
    assert planned_seeds("table2", VALUE_ORDER, "fmnist") == (0,)
    assert planned_seeds("table2_seeds", VALUE_ORDER, "fmnist") == (1, 2)
    assert planned_seeds("table2", ["table2"], "fmnist") == (0, 1, 2)
    assert experiment_configs("table6_seeds", "smoke") == []
    with pytest.raises(ValueError, match="non-negative"):
        experiment_configs("table2", "smoke", [-1])
    with pytest.raises(ValueError, match="init_from"):
        experiment_configs("two_phase", "smoke", [0, 1])


def test_budget_trains_seed_0_of_everything_first(monkeypatch, tmp_path):
    import msr.per_run
    import msr.train

    done = []

    def fake_train(cfg, *, profile, experiment, **kw):
        done.append((experiment, cfg.seed))
        return {"final": {"reported_acc": 50.0}}

    monkeypatch.setattr(msr.train, "train", fake_train)
    monkeypatch.setattr(msr.per_run, "analyse", lambda *a, **k: {})
    smoke = PROFILES["smoke"]
    p = replace(smoke, experiments={**smoke.experiments, "table2": dict(depths=(8,), seeds=3),
                                    "table6": dict(datasets=("synthetic",), depths=(32,), seeds=2)},
                order=("table2", "table6", "short", "table2_seeds", "table6_seeds"))
    out = run_pending(["all"], p, store=ResultsStore(tmp_path / "results"), run_dir=tmp_path / "runs",
                      log=lambda *a: None)
    assert done == [("table2", 0)] * 4 + [("table6", 0)] * 3 + [("short", 0)] + [("table2", 1)] * 4 + \
        [("table2", 2)] * 4 + [("table6", 1)] * 3
    assert out.stopped is None and set(out.seconds) == set(p.order)


def test_seeds_are_distinct_stored_runs_and_stored_ones_are_skipped(tmp_path, monkeypatch):
    import msr.per_run

    analysed = []
    monkeypatch.setattr(msr.per_run, "analyse", lambda cfg, *a, **k: analysed.append(cfg.seed))
    smoke = PROFILES["smoke"]  # one step of 16 images per run
    monkeypatch.setitem(PROFILES, "smoke", replace(smoke, experiments={
        **smoke.experiments, "short": dict(epochs=1, T=1, subset=16, test_subset=16, batch_size=16)}))
    store = ResultsStore(tmp_path / "results")
    runs = str(tmp_path / "runs")
    first = run_sweep("short", "smoke", store=store, run_dir=runs, seeds=[0, 1])
    assert [r["config"]["seed"] for r in first] == [0, 1] and not any(r.get("skipped") for r in first)
    assert len({r["hash"] for r in first}) == 2 and len(store.list("smoke", "short")) == 2
    assert analysed == [0]  # per-run analyses are of the primary seed only
    again = run_sweep("short", "smoke", store=store, run_dir=runs, seeds=[1, 0])
    assert all(r.get("skipped") for r in again)
    # a chapter reading the store in render-only mode finds both seeds, though the profile gives one
    ctx = chapters.ChapterContext("smoke", render_only=True, store=store)
    got = train_runs(ctx, "short")
    assert sorted(c.seed for c, r, _ in got if r) == [0, 1]
    assert [c.seed for c, r, _ in train_runs(ctx, "short", seeds=(0,))] == [0]
