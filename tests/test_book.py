"""msr.book (parameters, boxes, tables) and msr.chapters (compute functions, report)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from msr import book, chapters, paper, per_run
from msr.render import benchmarks, degradation, performance, shortcuts, two_phase
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
                  + len(paper.TABLE_III) + 1 + len(paper.TABLE_III_ANN) + len(paper.table_iii_cited())
                  + len(paper.TABLE_IV) + 1
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
                                                 "provenance": {"hardware": "CPU X"},
                                                 "runtime": {"concurrent_runs": 2 * i + 1}})
    store.put("smoke", "isometry", {"k": 1}, {"rows": [], "wall_time_s": 30.0, "provenance": {"hardware": "CPU X"}})
    rows = {r["experiment"]: r for r in chapters.performance.run_times(store, "smoke")}
    assert rows["table2"]["results"] == 2 and rows["table2"]["wall time (min)"] == 3.0
    assert rows["table2"]["training images/s (median)"] == 125.0  # median of the run means 200 and 50
    assert rows["table2"]["runs at once"] == "1, 3"  # the second run shared the machine with two others
    assert rows["isometry"]["training images/s (median)"] is None and rows["isometry"]["hardware"] == "CPU X"
    assert rows["isometry"]["runs at once"] is None  # no training run


def test_unmeasured_lists_what_no_stored_bench_holds():
    cpu = {"provenance": {"device": "cpu"}, "lif": [{"backend": "spikingjelly", "median_ms": 0.3, "status": "ok"}],
           "train": [{"strategy": "spikingjelly", "status": "error: no cupy"}], "loop": [{"strategy": "loop"}],
           "jobs": []}
    left = chapters.performance.unmeasured({"cpu": cpu})
    assert "SpikingJelly's LIF" not in left and "training steps with SpikingJelly's neuron" in left
    assert any(w.startswith("the training loop on a GPU") for w in left)  # a CPU loop is not the GPU's
    assert "runs trained at once (`--jobs`)" in left
    gpu = {"provenance": {"device": "cuda"}, "lif": [], "train": [{"strategy": "spikingjelly-bf16", "status": "ok"}],
           "loop": [{"strategy": "loop", "status": "ok"}], "jobs": [{"jobs": 2}]}
    assert chapters.performance.unmeasured({"cpu": cpu, "gpu": gpu}) == []


# ------------------------------------------------------------- rendering ----

def test_provs_finds_every_stored_result_a_page_uses():
    """A result gathered from several (``provenances``, e.g. state changes of untrained and
    trained networks) names each of its sources, as a single result names its own."""
    a, b, c = ({"git_commit": x} for x in "abc")
    found = book.provs({"state_change": {"rows": {"x": [{"changed": 0.1}]}, "provenances": [a, None, b]},
                        "short": {"provenance": c}, "missing": None})
    assert found == [a, b, c]


def test_a_figure_alt_text_says_what_it_shows():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3)
    a.set_title("Accuracy\nagainst depth")
    b.set_title("Accuracy against depth")
    assert book.alt_text(fig, "fig_x") == "Accuracy against depth"  # each panel title once, whitespace folded
    c.set_title("Loss")
    assert book.alt_text(fig, "fig_x") == "Accuracy against depth; Loss"
    fig.suptitle("Table II")
    assert book.alt_text(fig, "fig_x") == "Table II"
    assert book.alt_text(plt.figure(), "fig_y") == "fig_y"
    plt.close("all")


def test_counts_take_the_plural_a_reader_expects():
    assert book.count(1, "epoch") == "1 epoch" and book.count(10, "epoch") == "10 epochs"
    assert book.count([1, 2], "epoch") == "1 or 2 epochs" and book.count([1], "epoch") == "1 epoch"
    assert book.count(3, "analysis", "analyses") == "3 analyses"
    notebooks = (book.ROOT / "book" / "notebooks").glob("*.md")
    assert not [p.name for p in notebooks if "(s)" in p.read_text()], "write counts with book.count"


def test_cells_are_formatted_for_a_reader():
    assert book.fmt(True) == "yes" and book.fmt(False) == "no"
    assert book.fmt(None) == "—" and book.fmt(float("nan")) == "—"
    import pandas as pd
    assert book.fmt(pd.NA) == "—"  # an empty cell of an integer column (Int64)
    assert book.fmt(1048576) == "1,048,576"
    assert book.fmt(12.3456, 1) == "12.3" and book.fmt(0.00746, 3) == "0.00746"
    assert book.fmt(3.53e9) == "3.53e9"


def test_table_has_no_index_yes_no_and_a_csv_download():
    import base64
    import re

    import pandas as pd

    df = pd.DataFrame({"model": ["a", "b"], "met": [True, False], "paper acc (%)": [81.14, None],
                       "blocks": [3.0, None]}).set_index("model")
    out = book.table_html(df, "t", "Caption", "profile smoke · commit 0123456789")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", out)
    assert cells == ["a", "yes", "81.14", "3", "b", "no", "—", "—"]  # no row number, integers stay integers
    assert re.search(r'<td class="[^"]*msr-paper[^"]*msr-num[^"]*" >81.14', out)
    assert "cifar_<wbr>resnet20" in book.table_html(pd.DataFrame({"m": ["cifar_resnet20"]}), "u", "c", "f")
    assert "msr-paper" in out and "Caption" in out and "commit 0123456789" in out
    csv = base64.b64decode(re.search(r'href="data:text/csv;base64,([^"]+)"', out).group(1)).decode()
    assert csv.splitlines() == ["model,met,paper acc (%),blocks", "a,True,81.14,3.0", "b,False,,"]
    # like a figure, a chapter's table says the command that regenerates it
    assert "regenerate" not in out
    cmd = book.table_html(df, "t", "c", "f", command="msr reproduce --profile smoke --only x")
    assert "f · regenerate: <code>msr reproduce --profile smoke --only x</code> · download" in cmd


def test_table_cells_keep_mean_std_and_short_names_whole():
    import pandas as pd

    df = pd.DataFrame({"model": ["MS-ResNet-20"], "ours": ["9.38 ± 4.42 (2)"], "paper": [81.1], "ours − paper": [-1.0]})
    out = book.table_html(df, "t", "c", "f")
    assert '<span class="msr-word">MS-ResNet-20</span>' in out
    assert "9.38 ±\u00a04.42 (2)" in out  # the std stays with its ±
    classes = re.findall(r'<td class="([^"]*)"', out)
    assert "msr-paper" in classes[2] and "msr-paper" not in classes[3]  # a difference is not the paper's


def test_commit_head_is_never_shown_as_a_commit():
    assert book.commit_of({"git_commit": "HEAD"}) == "not recorded"
    assert book.commit_of({"git_commit": "unknown"}) == "not recorded"
    assert book.commit_of({"git_commit": "be298498098d383010700e3cf1d158cf2121eb42", "git_dirty": True}) == \
        "be29849809+dirty"
    line = book.provenance_line("fmnist", [{"git_commit": "HEAD", "device": "GPU"}])
    assert "HEAD" not in line and "commit not recorded" in line


def test_bench_commit_falls_back_to_the_commit_that_stored_the_result(monkeypatch):
    monkeypatch.setattr(performance, "committed_in", lambda path: "e8913b11c7" if "abc" in str(path) else None)
    assert performance.bench_commit({"hash": "abc", "provenance": {"git_commit": "HEAD"}}) == \
        "code commit not recorded (result stored in commit e8913b11c7)"
    assert performance.bench_commit({"hash": "zzz", "provenance": {"git_commit": "HEAD"}}) == "code commit not recorded"
    assert performance.bench_commit({"provenance": {"git_commit": "0123456789abcdef"}}) == "commit 0123456789"


def test_claims_know_their_chapter_and_verdicts_count_evidence_only():
    claims = chapters.report.claims({})
    assert {c["chapter"] for c in claims} == {"degradation"}
    # Eq. 8's arithmetic row is chapter 3's own, so the report lists it once, where ch. 3 does
    eq8 = chapters.unavailing.eq8_claim({"at_vth": {"analytic": 0.1587, "monte_carlo": 0.159}})
    rows = chapters.report.claims({"unavailing": {"claims": [eq8]}})
    assert [c["kind"] for c in rows if c["chapter"] == "unavailing"] == ["arithmetic"]
    res = {"shortcuts": {"claims": [{"paper": "x", "shown": True, "evidence": "e"}]}}
    assert chapters.report.claims(res)[-1]["chapter"] == "shortcuts"
    mixed = [{"paper": "a", "shown": True, "evidence": "1"},
             {"paper": "b", "shown": False, "evidence": "2", "kind": "evidence"},
             {"paper": "c", "shown": True, "evidence": "3", "kind": "by construction"},
             {"paper": "d", "shown": None, "evidence": "not run", "chapter": "init"}]
    assert book.verdict_counts(mixed) == {"evidence": 3, "shown": 1, "not shown": 1, "not run": 1, "other": 1}
    text = book.verdict_md(mixed, "smoke")
    assert "Of 3 tests" in text and "show 1, do not show 1, and 1 are not decided yet." in text and "1 more" in text
    t = book.claims_table(mixed)
    assert "  - Kind" in t and "  - by construction" in t and "{doc}`ch. 9 <init>`" in t
    assert "{bdg-success}`shown`" in t and "{bdg-danger}`not shown`" in t
    assert "Kind" not in book.claims_table(mixed[:1] + mixed[3:])
    # the landing page's short form: a claim's key where it has one, else its evidence
    assert "  - Our evidence" in t and "Our key number" not in t
    short = book.claims_table([{**mixed[0], "evidence": "the whole long evidence", "key": "k 1/2"}, mixed[1]],
                              short=True)
    assert "  - Our key number" in short and "k 1/2" in short and "whole long evidence" not in short
    assert "  - 2\n" in short  # no key: the evidence itself


def test_verdicts_say_where_they_hold_and_what_waits():
    """A shown claim's scope stands beside its badge; a claim that waits for runs but already
    reports a measurement reads "not judged yet", not "not run"; the headline says how many
    shown claims rest on untrained networks."""
    scoped = {"paper": "a", "shown": True, "evidence": "1", "scope": "at depth 482 only", "untrained": True}
    waiting = {"paper": "b", "shown": None, "evidence": "untrained: 15.4 % measured", "measured": True}
    empty = {"paper": "c", "shown": None, "evidence": "not run"}
    assert book.verdict_badge(scoped) == "{bdg-success}`shown` (at depth 482 only)"
    assert book.verdict_badge(waiting) == "{bdg-muted}`not judged yet`"
    assert book.verdict_badge(empty) == "{bdg-muted}`not run`"
    assert book.verdict_badge({**waiting, "measured": False}) == "{bdg-muted}`not run`"  # the flag decides
    assert "{bdg-muted}`not judged yet`" in book.claims_table([scoped, waiting, empty])
    assert ("show 1 (measured on untrained networks; only where its badge says),"
            in book.verdict_md([scoped, waiting], "fmnist"))
    assert ("and 2 are not decided yet (1 not run, 1 with measurements but not the runs that decide them)"
            in book.verdict_md([scoped, waiting, empty], "fmnist"))
    two = [scoped, {**scoped, "paper": "d"}, {"paper": "e", "shown": True, "evidence": "trained"}]
    assert ("show 3 (2 of them measured on untrained networks; 2 of them only where their badges say),"
            in book.verdict_md(two, "fmnist"))
    assert ("show 2 (both measured on untrained networks; both only where their badges say),"
            in book.verdict_md(two[:2], "fmnist"))
    assert "show 1, do not show" in book.verdict_md([two[2]], "fmnist")  # trained, everywhere: no qualifier
    three = [scoped, {**two[2], "scope": "at depth 8 only"}, {**two[2], "paper": "f", "scope": "on m only"}]
    assert "show 3 (1 of them measured on untrained networks; all 3 only where their badges say)," in \
        book.verdict_md(three, "fmnist")


def test_figure_is_an_svg_with_provenance_and_command(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(book, "FIGURES", tmp_path)
    p = book.page(book.check_parameters({"profile": "smoke", "render_only": True}), "degradation")
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    out = p.figure(fig, "f", "profile smoke · commit 0123456789", paper_only=True, what="A line.")
    html = out._repr_mimebundle_()["text/html"]
    assert 'src="data:image/svg+xml;base64,' in html and 'class="msr-provenance"' in html
    assert "msr reproduce --profile smoke --only degradation --render-only" in html
    assert "Paper's numbers only" in html
    assert (tmp_path / "smoke" / "f.svg").exists() and (tmp_path / "smoke" / "f.png").exists()
    # the stamp is in the saved files, not in the book's copy
    assert b"commit 0123456789" in (tmp_path / "smoke" / "f.svg").read_bytes()
    import base64
    import re

    svg = base64.b64decode(re.search(r"base64,([^\"]+)\"", html).group(1))
    assert b"commit 0123456789" not in svg


def test_the_provenance_stamp_goes_under_a_figure_legend_below_the_axes(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(book, "FIGURES", tmp_path)
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4], label="a line")
    leg = fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0))
    placed, text = [], fig.text

    def stamp(x, y, s, **kw):  # where the stamp goes, and where the legend then ends
        placed.append((y, leg.get_window_extent(fig.canvas.get_renderer()).y0 / fig.bbox.height))
        return text(x, y, s, **kw)

    monkeypatch.setattr(fig, "text", stamp)
    book.save_figure(fig, "f", "smoke", "profile smoke · the stamp", what="A line.")
    y, legend_bottom = placed[-1]
    assert legend_bottom < 0 and y < legend_bottom  # the stamp (va top) starts under the legend


def test_a_figure_caption_opens_with_what_it_shows(tmp_path, monkeypatch):
    """``what`` opens the caption, before the paper-only label and the provenance; the
    files on disk carry the provenance stamp alone."""
    import base64
    import html

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(book, "FIGURES", tmp_path)
    what = "Accuracy against depth, ours & the paper's."
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    out = book.save_figure(fig, "w", "smoke", "profile smoke · commit 0123456789", command="msr reproduce",
                           paper_only=True, what=what)
    caption = re.search(r'<figcaption class="msr-provenance">(.*)</figcaption>', out.html).group(1)
    assert caption.startswith(html.escape(what) + ' <strong class="msr-paper-only">')
    assert caption.index("Paper's numbers only") < caption.index("profile smoke · commit 0123456789") \
        < caption.index("regenerate: <code>msr reproduce</code>")
    svg = base64.b64decode(re.search(r'base64,([^"]+)"', out.html).group(1))
    stamped = (tmp_path / "smoke" / "w.svg").read_bytes()
    assert b"commit 0123456789" in stamped and (tmp_path / "smoke" / "w.png").exists()
    assert b"Accuracy against depth" not in stamped and b"Accuracy against depth" not in svg
    # every figure of the book says what it shows
    p = book.page(book.check_parameters({"profile": "smoke", "render_only": True}), "degradation")
    with pytest.raises(TypeError):
        p.figure(plt.figure(), "x", "footer")
    with pytest.raises(ValueError, match="what"):
        p.figure(plt.figure(), "x", "footer", what=" ")
    assert not (tmp_path / "smoke" / "x.png").exists()
    plt.close("all")


def test_figures_of_the_paper_alone_say_so():
    import matplotlib

    matplotlib.use("Agg")
    fig = degradation.plot_depth({(b, d): None for b in paper.TABLE_II for d in paper.TABLE_II_DEPTHS}, paper.TABLE_II,
                          paper.TABLE_II_LABELS, "Table II")
    assert len(fig.axes) == 1 and "paper's numbers only" in fig._suptitle.get_text()
    run = {("ms", 8): {"acc": 80.0}, ("ms", 14): {"acc": 85.0}}
    assert len(degradation.plot_depth(run, paper.TABLE_II, paper.TABLE_II_LABELS, "Table II").axes) == 2
    assert len(shortcuts.plot_table6({("fashion_mnist", "ms", 32): None}, ["fashion_mnist"], "ours").axes) == 2
    assert "paper's numbers only" in two_phase.plot_two_phase({}, "ours")._suptitle.get_text()
    assert len(benchmarks.plot_benchmarks({"imagenet": [], "dvs": []}, "ours").axes) == 2



def test_our_few_depths_stand_under_the_papers_on_one_depth_axis():
    """One run of ours at depth 8 is drawn where the paper's depth 8 is, on the paper's six
    ticks, not alone in the middle of its own axis."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    fig = degradation.plot_depth({("ms", 8): {"acc": 84.8}}, paper.TABLE_II, paper.TABLE_II_LABELS, "Table II")
    ours, theirs = fig.axes[:2]
    assert list(ours.get_xticks()) == list(theirs.get_xticks()) == list(paper.TABLE_II_DEPTHS)
    assert ours.get_xlim() == theirs.get_xlim() and ours.get_xlim()[0] < 8 < 56 < ours.get_xlim()[1]
    fig6 = shortcuts.plot_table6({("fashion_mnist", "ms", 32): {"acc": 90.0}}, ["fashion_mnist"], "ours")
    assert len({ax.get_xlim() for ax in fig6.axes if ax.get_xticks().size}) == 1
    plt.close("all")


def test_no_committed_figure_names_a_data_set_by_its_code_name():
    """``fashion_mnist`` appears in a figure only in brackets after the data set's name."""
    root = Path(__file__).resolve().parents[1] / "figures" / "fmnist"
    bare = {f.name: m for f in sorted(root.glob("*.svg"))
            for m in re.findall(r"(?<!\()\bfashion_mnist\w*", f.read_text())}
    assert not bare, bare

def test_bench_figure_and_tables_from_a_stored_result():
    import json

    import matplotlib

    matplotlib.use("Agg")
    path = book.ROOT / "results" / "bench" / "performance" / "c5b034c5763b265d.json"
    if not path.exists():
        pytest.skip("the committed CPU bench result is absent")
    result = json.loads(path.read_text())
    fig = performance.plot_bench(result)
    bars = [len(ax.patches) for ax in fig.axes[:2]]
    assert bars[0] == sum(r["strategy"] != "authors" for r in result["train"] if r.get("status") == "ok")
    t = performance.bench_frames(result)
    assert "speed-up over the authors' (x)" in t["train"].columns and "met" in t["targets"].columns
    r20 = t["train"][(t["train"]["model"] == "MS-ResNet-20") & (t["train"]["strategy"] == "authors")]
    assert float(r20["speed-up over the authors' (x)"].iloc[0]) == 1.0


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
    syops = next(r for r in rows if r.quantity == "MS-ResNet20 (DVS) SyOPs")
    assert syops.ours == 40e6 and syops.dataset == "fashion_mnist_dvs" and "emulated" in syops.note
    other = next(r for r in rows if r.quantity == "MS-ResNet34 SyOPs")
    assert other.ours is None and other.note == ""
    not_run = chapters.report.report_rows("fmnist", {"benchmarks": _dvs_bench(None)})
    row = next(r for r in not_run if r.section == "Table IV" and r.quantity == "paper: MS-ResNet20")
    assert row.ours is None and "not run" in row.note and "emulated Fashion-MNIST" in row.note
    # the Table V rows multiply the DVS run's measured rate into the counted MACs
    structure = {"models": {m: {"macs_residual": 40.1e6} for m in paper.TABLE_V}}
    dvs = next(r for r in chapters.energy.energy_rows(structure, measured) if r["model"] == "dvs_resnet20")
    assert dvs["our rate"] == 0.1 and math.isclose(dvs["our SyOPs (M)"], 40.1 * 10 * 0.1)


def test_table_iii_frame_has_every_row_of_the_paper_and_says_why_ours_is_empty():
    t3, _ = benchmarks.benchmark_frames({}, "fmnist")
    ann = t3[t3["method"] == "ANN"].set_index("model")
    assert ann["paper / cited top-1 (%)"].to_dict() == {
        f"ResNet{m.removeprefix('imagenet_resnet')}": a for m, a in paper.TABLE_III_ANN.items()}
    assert all(v.startswith("not in scope") for v in ann["ours top-1 (%)"])
    assert all(str(v).startswith("not run") for v in t3[t3["work"] == "MS-ResNet (paper)"]["ours top-1 (%)"])
    # no cell is left blank: a cited work's says it is cited, not reproduced
    assert set(t3[t3["method"].isin(["ANN conversion", "direct training"]) & (t3["work"] != "MS-ResNet (paper)")]
               ["ours top-1 (%)"]) == {"cited work, not reproduced"}
    # Table III's footnote mark: on the one work whose spikes carry multi-bit information
    assert [w for w in t3["work"] if w.endswith(" †")] == [f"{w} †" for w in paper.TABLE_III_DAGGER_WORKS]


def test_imagenet_rows_say_they_need_imagenet_where_it_is_absent(tmp_path):
    from msr.data import imagenet_available
    from msr.results import ResultsStore

    ctx = chapters.ChapterContext("fmnist", render_only=True, data_root=str(tmp_path),
                                  store=ResultsStore(tmp_path / "results"))
    R = chapters.benchmarks.compute(ctx)
    needs = "needs ImageNet, which msr does not ship and the data root lacks"
    assert R["imagenet"] and {b["why"] for b in R["imagenet"]} == {needs}
    assert {b["why"] for b in R["dvs"]} == {"not computed"}  # emulated from Fashion-MNIST: nothing to fetch
    t3, _ = benchmarks.benchmark_frames(R, "fmnist")
    assert "not run: needs ImageNet" in " ".join(map(str, t3["ours top-1 (%)"]))
    lines = benchmarks.benchmark_commands(R).splitlines()
    assert lines[0].startswith(f"- ImageNet (Table III): {len(R['imagenet'])} runs not stored: {needs}; `msr sweep")
    assert lines[1].startswith("- event data (Table IV): 1 run not stored: not computed; `msr sweep dvs")
    for split in ("train", "val"):
        (tmp_path / "imagenet" / split).mkdir(parents=True)
    assert imagenet_available(tmp_path)
    assert {b["why"] for b in chapters.benchmarks.compute(ctx)["imagenet"]} == {"not computed"}


def test_event_examples_are_one_per_class_with_the_events_of_their_test_index():
    """The first test sample of each of the first n classes, emulated under its test index, so
    its events are those the cache holds for it (emulate(..., ids=[i]) on that image alone)."""
    from msr.data import SYNTHETIC_DVS_N, emulated_examples, synthetic_images
    from msr.events import SaccadeParams, emulate

    ex = emulated_examples("synthetic_dvs", "unused", n=4, T=2)
    assert len(set(ex["classes"])) == 4 == len(ex["classes"])
    images, labels = synthetic_images(SYNTHETIC_DVS_N, False)
    first = sorted({int(c): i for i, c in reversed(list(enumerate(labels)))}.values())[:4]
    assert ex["labels"] == [int(labels[i]) for i in first]
    alone = emulate(images[first[1]:first[1] + 1], SaccadeParams(), ids=[first[1]], stream=1)
    assert alone.counts().tolist() == [ex["counts"][1]]


def test_table_iv_frame_and_event_figure_label_the_emulated_data(tmp_path, monkeypatch):
    _, t4 = benchmarks.benchmark_frames(_dvs_bench({"acc": 88.5, "dataset": "fashion_mnist_dvs"}), "fmnist")
    t4 = t4.set_index("work")
    assert t4.loc["paper", "ours top-1 (%)"] == 88.5 and "Fashion-MNIST" in t4.loc["paper", "our data"]
    assert t4.loc["Fang et al.", "our data"] == ""
    assert t4.loc["Fang et al.", "ours top-1 (%)"] == "cited work, not reproduced"
    ex = chapters.benchmarks.dvs_examples(chapters.ChapterContext("smoke", data_root=str(tmp_path)), n=2)
    assert ex["dataset"] in ("fashion_mnist_dvs", "synthetic_dvs") and ex["frames"].shape == (2, 2, 2, 64, 64)
    assert ex["frames"].sum(axis=(1, 2, 3, 4)).tolist() == ex["counts"] and min(ex["counts"]) > 0
    assert not list(tmp_path.rglob("*.npy"))  # examples are emulated on the fly, never stored
    recorded = chapters.ChapterContext("paper", data_root=str(tmp_path))  # CIFAR10-DVS: recorded, not emulated
    assert chapters.benchmarks.dvs_examples(recorded) is None
    monkeypatch.setattr(book, "FIGURES", tmp_path / "figures")
    book.save_figure(benchmarks.plot_event_frames(ex), "dvs_event_frames", "smoke", "footer", what="Frames.")
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



def test_the_bench_strategies_are_named_in_words():
    import torch

    from msr.bench.steps import strategies
    from msr.render.performance import strategy_legend

    for device in ("cpu", "cuda"):
        legend = strategy_legend(device)
        assert all(f"`{s['strategy']}`:" in legend for s in strategies(torch.device(device)))
    gpu = strategy_legend("cuda").split("; ")
    assert [p.split(":")[0] for p in gpu if "CUDA graphs" in p] == ["`msr-bf16-graphs`"]
    assert "SpikingJelly's LIF neuron" in next(p for p in gpu if p.startswith("`spikingjelly-bf16`"))


def _paper_results() -> set[float]:
    """Every non-integer number msr.paper holds, the hyper-parameters (Table VII, VIII, X) left out:
    the paper's results and estimates, which a chapter may print only through msr.paper."""
    settings = {"NEURON", "TABLE_VIII", "TABLE_X", "TABLE_I_DEPTHS", "TABLE_II_DEPTHS"}

    def numbers(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from numbers(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                yield from numbers(x)
        elif isinstance(v, float) and not v.is_integer():
            yield v

    return {round(x, 9) for name, v in vars(paper).items() if name.isupper() and name not in settings
            for x in numbers(v)}


def _prose_numbers_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of a MyST notebook's markdown, its front matter and code cells left out."""
    out, code = [], False
    lines = text.splitlines()
    start = lines.index("---", 1) + 1 if lines[:1] == ["---"] else 0  # after the front matter
    for i, line in enumerate(lines[start:], start + 1):
        if line.startswith("```"):
            code = line.startswith("```{code-cell}") or (code and line.strip() != "```")
            continue
        if not code:
            out.append((i, line))
    return out


def _prose_numbers(text: str) -> list[tuple[int, str]]:
    """(line, token) of each decimal number or percentage in a MyST notebook's markdown,
    its front matter and code cells left out."""
    return [(i, m.group()) for i, line in _prose_numbers_lines(text)
            for m in re.finditer(r"(?<![\w.`])\d+(?:\.\d+)?(?= ?%)|(?<![\w.`])\d+\.\d+", line)]


def test_no_paper_result_is_typed_into_a_chapter():
    """A paper result in a chapter's prose is glued from msr.paper (book.paper_text), never typed:
    a typed number would not follow a corrected transcription."""
    from pathlib import Path

    results = _paper_results()
    assert {0.225, 0.192, 91.7, 74.21, 0.16, 4.6} <= results  # the scan knows what to look for
    typed = []
    for path in sorted((Path(__file__).parents[1] / "book").rglob("*.md")):
        for line, token in _prose_numbers(path.read_text()):
            if {round(float(token), 9), round(float(token) / 100, 9)} & results:
                typed.append(f"{path.name}:{line}: {token}")
    assert not typed, "paper values typed into prose (glue them with book.paper_text): " + ", ".join(typed)


#: Prose that states one of the paper's settings (Table VII's neuron, Table X's recipe) with a
#: typed number; the number must come from msr.paper (book.paper_text) instead.
TYPED_SETTING = re.compile(r"V_?\{?th\}?\$?\s*=\s*\d|\ba = \d|Table X prints \d|\blr \d[\d.]* per \d|weight decay\s+\d")


def test_no_paper_setting_is_typed_into_a_chapter():
    """The paper's threshold, surrogate window and Table X recipe in prose are glued from msr.paper."""
    from pathlib import Path

    assert TYPED_SETTING.search("window (V_th = 0.5, a = 1, Table VII)") and \
        TYPED_SETTING.search("$\\sigma = V_{th} = 0.5$") and TYPED_SETTING.search("with weight decay 1e-5")
    assert not TYPED_SETTING.search("(V_th = {glue:text}`paper_v_th`, a = {glue:text}`paper_a`)")
    typed = [f"{path.name}:{i}: {m.group()}" for path in sorted((Path(__file__).parents[1] / "book").rglob("*.md"))
             for i, line in _prose_numbers_lines(path.read_text()) for m in TYPED_SETTING.finditer(line)]
    assert not typed, "paper settings typed into prose (glue them with book.paper_text): " + ", ".join(typed)


def test_prose_scan_finds_typed_numbers_and_skips_code():
    text = "---\nkernelspec: {}\n---\n# t\nabout 0.225 and 91.7 % here\n```{code-cell} ipython3\nx = 74.21\n```\n" \
           "the {glue:text}`paper_t6` % glued\n"
    assert [t for _, t in _prose_numbers(text)] == ["0.225", "91.7"]


def test_paper_text_glues_values_as_the_paper_prints_them():
    pytest.importorskip("myst_nb")
    assert book.paper_text(r=paper.FIRING_RATE["imagenet_resnet34"], eq8=100 * paper.EQ8_PROBABILITY) == \
        {"r": "0.225", "eq8": "16"}
    with pytest.raises(TypeError, match="a number from msr.paper"):
        book.paper_text(section=paper.FIRING_RATE_SECTION["dvs_resnet20"])
    assert book.paper_text(wd=paper.TABLE_X["imagenet18_34"]["weight_decay"], a=paper.NEURON["a"]) == \
        {"wd": "1e-4", "a": "1"}
    # what the page shows: myst-nb's {glue:text} evaluates the pasted text/plain as a literal
    from myst_nb.core.variables import format_plain_text
    for text in ("1e-5", "0.5", "lr 0.1, cosine"):
        assert format_plain_text(book._Plain(text)._repr_mimebundle_()["text/plain"], "") == text


def _stored_bench(device: str) -> dict:
    """The newest committed full bench of ``device`` (skips where none is stored)."""
    import json

    stored = sorted((book.ROOT / "results" / "bench" / "performance").glob("*.json"))
    found = [json.loads(p.read_text()) for p in stored]
    found = [r for r in found if r["provenance"].get("device") == device and not r.get("quick")]
    if not found:
        pytest.skip(f"no committed {device} bench result")
    return max(found, key=lambda r: str(r["provenance"].get("date_utc") or ""))


def _section_outputs(result: dict, monkeypatch) -> list:
    """What :func:`performance.performance_section` displays, figures and tables as
    ``("figure"|"table", name)`` and markdown as its text."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")

    class FakePage:
        def figure(self, fig, name, footer, paper_only=False, *, what):
            plt.close(fig)
            return ("figure", name)

        def table(self, df, name, caption, footer, digits=2):
            return ("table", name)

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *xs: shown.extend(xs))
    performance.performance_section(result, FakePage(), "x")
    return [x.data if hasattr(x, "data") else x for x in shown]


def _legend_names(text: str) -> list[str]:
    """The names a legend line explains: each ```name`:`` of it."""
    return re.findall(r"`([^`]+)`: ", text)


def test_the_strategy_legend_names_only_the_strategies_the_stored_bench_measured(monkeypatch):
    cpu = _stored_bench("cpu")
    out = _section_outputs(cpu, monkeypatch)
    legend = out[out.index(("table", "bench_x_train")) + 1]
    measured = list(dict.fromkeys(r["strategy"] for r in cpu["train"] if r.get("status") == "ok"))
    assert legend.startswith("Strategies: ") and _legend_names(legend) == measured
    # a strategy the bench defines but the stored rows lack (or hold only as errors) is not named
    rows = [{**r, "status": "not installed"} if r["strategy"] == "msr" else r for r in cpu["train"]]
    rows.append({"strategy": "spikingjelly", "lif": "spikingjelly", "status": "not installed"})
    assert _legend_names(performance.strategy_legend("cpu", rows)) == [s for s in measured if s != "msr"]


def test_the_lif_backends_of_each_stored_bench_are_named_in_words(monkeypatch):
    for device in ("cpu", "cuda"):
        try:
            result = _stored_bench(device)
        except pytest.skip.Exception:
            continue
        out = _section_outputs(result, monkeypatch)
        legend = out[out.index(("table", "bench_x_lif")) + 1]
        timed = list(dict.fromkeys(r["backend"] for r in result["lif"] if r.get("median_ms") is not None))
        assert legend.startswith("LIF backends: ") and _legend_names(legend) == timed
        assert all(performance.lif_backend_words(b, device) in legend for b in timed)
        cpu_words = legend.split("`msr-cpu`: ")[1].split("; `")[0]
        assert ("not a CPU run" in cpu_words) == (device == "cuda"), cpu_words
    gpu = [{"backend": "msr-cpu", "median_ms": 1.0}, {"backend": "msr-triton", "median_ms": 0.1},
           {"backend": "spikingjelly", "median_ms": None, "status": "error: no fused kernel"}]
    assert _legend_names(performance.lif_legend(gpu, "cuda")) == ["msr-cpu", "msr-triton"]
    with pytest.raises(KeyError, match="no words"):
        performance.lif_backend_words("msr-unknown")


def test_the_performance_prose_says_what_the_convolution_share_measures():
    import inspect

    from msr.bench.steps import conv_share

    text = (book.ROOT / "book" / "notebooks" / "performance.md").read_text()
    prose = " ".join(text.split())
    assert "is the work every implementation must do; the rest is overhead" not in prose
    assert "the rest of the step is batch norm, the LIF recurrence, the loss and the optimizer step" in prose
    for op in ("aten::convolution", "aten::convolution_backward"):  # the ops the prose names are those timed
        assert f"`{op}`" in prose and f'"{op}"' in inspect.getsource(conv_share)


def test_benchmarks_figure_labels_every_cited_point_apart_and_plots_the_288_px_row():
    """Table III's cited works: one label per point (author, model, and T where a work reports a
    model twice), none overlapping; the starred 288 px row of MS-ResNet104 has its own marker."""
    import matplotlib

    matplotlib.use("Agg")
    labels = [label for label, *_ in benchmarks.cited_points()]
    assert len(labels) == len(set(labels)) == sum(len(a.split(" / ")) for *_, a in paper.TABLE_III_OTHERS)
    assert {"Fang, ResNet-34", "Fang, ResNet-101", "Hu, ResNet-34", "Hu, ResNet-50", "Zheng, ResNet-50",
            "Zheng, Wide-ResNet-34", "Li, ResNet-34, T = 256", "Li, ResNet-34, T = 32"} <= set(labels)
    fig = benchmarks.plot_benchmarks({"imagenet": [], "dvs": []}, "ours")
    top = fig.axes[0]
    texts = [t.get_text() for t in top.texts]
    assert len(texts) == len(set(texts)) and set(labels) <= set(texts)
    model, T, acc = benchmarks.paper_at_288()
    assert (model, acc) == ("imagenet_resnet104", paper.TABLE_III_104_AT_288) and (model, T) in paper.TABLE_III
    at288 = [ln for ln in top.get_lines() if "288 px" in ln.get_label()]
    assert len(at288) == 1 and at288[0].get_xydata().tolist() == [[T, acc]]
    assert at288[0].get_marker() not in {ln.get_marker() for ln in top.get_lines() if ln is not at288[0]}
    assert "MS-ResNet104, 288 px" in texts
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in top.texts]
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    t3, _ = benchmarks.benchmark_frames({}, "fmnist")
    row = t3[t3["model"].str.endswith("288 px")]
    assert row["T"].tolist() == [str(T)] and row["paper / cited top-1 (%)"].tolist() == [acc]
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("T,image", [(6, True), (3, True), (6, False)])
def test_event_frames_lay_one_row_per_sample_in_time_order(T, image):
    """The event-frames figure: n rows, T (+1 image) columns read from the frames, frame k in column k."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    n = 2
    ex = {"frames": np.random.default_rng(0).poisson(1.0, (n, T, 2, 8, 8)).astype(np.float32),
          "images": np.zeros((n, 8, 8)), "classes": ["a", "b"], "counts": [10, 20], "label": "emulated test",
          "params": {"sensor": 8, "threshold": 0.3, "amplitude": 4.0, "move_ms": 100.0,
                     "path": ((0.0, 0.0), (0.5, 1.0), (1.0, 0.0), (0.0, 0.0))}}
    fig = benchmarks.plot_event_frames(ex, image=image)
    gs = fig.axes[0].get_subplotspec().get_gridspec()
    assert (gs.nrows, gs.ncols) == (n, T + image) and len(fig.axes) == n * (T + image)
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        k = spec.colspan.start - image  # the frame this column holds (-1: the image)
        assert ax.get_title() == (ex["classes"][spec.rowspan.start] if k < 0 else f"frame {k + 1}")
    assert f"T = {T} frames" in fig._suptitle.get_text()
    matplotlib.pyplot.close(fig)


def test_two_phase_says_which_T_each_accuracy_is_measured_at(tmp_path):
    """Appendix B's finetuned 74.21 % is Table III's T = 5 number; ours carry their runs'
    inference T, and the T = 1 weights are evaluated at the second phase's training T."""
    from msr.results import ResultsStore
    from msr.sweep import experiment_configs

    store = ResultsStore(tmp_path)
    first, second = experiment_configs("two_phase", "smoke")[:2]
    for c, acc, extra in ((first, 60.0, {}), (second, 70.0, {"init_acc": 55.0})):
        store.put("smoke", "two_phase", c.hash_dict(),
                  {"config": {"dataset": c.dataset}, "final": {"reported_acc": acc, **extra}})
    ctx = chapters.ChapterContext("smoke", store=store, quiet=True, render_only=True)
    P = chapters.two_phase.compute(ctx)["two_phase"]
    assert {k: (v["acc"], v["eval_T"]) for k, v in P.items()} == {
        "T1_pretrained": (60.0, first.test_T or 1), "finetuned_T6": (70.0, second.test_T or 6),
        "T1_weights_at_T6": (55.0, 6)}
    df = two_phase.two_phase_frame(P, "m")
    assert list(df["paper: evaluated at T"]) == [1, 6, 5] and list(df["ours: evaluated at T"]) == [1, 6, 6]
    texts = [t.get_text() for ax in two_phase.plot_two_phase(P, "ours").axes for t in ax.texts]
    assert "72.8 % at T = 6" in texts and "74.21 % at T = 5" in texts  # the paper's, as it prints them
    assert "70.00 % at T = 6" in texts


def test_event_frames_show_each_class_once_and_explain_their_colours():
    """Two Trousers among four samples: the figure keeps the first of each class; its title
    names the contrast threshold and the saccades from the parameters; the legend has ON, OFF
    and a pixel holding both."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    ex = {"frames": np.ones((4, 2, 2, 8, 8), np.float32), "images": np.zeros((4, 8, 8)),
          "classes": ["Ankle boot", "Trouser", "Pullover", "Trouser"], "counts": [1, 2, 3, 4], "label": "emulated",
          "params": {"sensor": 8, "threshold": 0.3, "amplitude": 4.0, "move_ms": 100.0,
                     "path": ((0.0, 0.0), (0.5, 1.0), (1.0, 0.0), (0.0, 0.0))}}
    assert benchmarks.distinct_classes(ex["classes"]) == [0, 1, 2]
    fig = benchmarks.plot_event_frames(ex)
    titles = [ax.get_title() for ax in fig.axes if ax.get_subplotspec().colspan.start == 0]
    assert titles == ["Ankle boot", "Trouser", "Pullover"]
    title = fig._suptitle.get_text()
    assert "contrast threshold C = 0.3" in title and "3 saccades of 4 px, 100 ms each" in title
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ON events", "OFF events", "ON and OFF in one pixel"]
    matplotlib.pyplot.close(fig)


def test_two_phase_names_the_T_a_phase_is_tested_at_where_it_is_not_its_own():
    """The paper's finetuned model runs at T = 6, its 74.21 % is measured at T = 5: its row says so."""
    import matplotlib

    matplotlib.use("Agg")
    assert two_phase.phase_label("finetuned_T6", 5) == "finetuned at T = 6, tested at T = 5"
    assert two_phase.phase_label("finetuned_T6", 6) == "finetuned at T = 6"
    assert two_phase.phase_label("T1_weights_at_T6", 6) == "T = 1 weights run at T = 6"
    frame = two_phase.two_phase_frame({}, "m")
    assert list(frame["phase"]) == ["trained at T = 1", "T = 1 weights run at T = 6",
                                    "finetuned at T = 6 (paper: tested at T = 5)"]
    fig = two_phase.plot_two_phase({"finetuned_T6": {"acc": 70.0, "eval_T": 6}}, "ours")
    ours, theirs = ([t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes)
    assert ours[-1] == "finetuned at T = 6" and theirs[-1] == "finetuned at T = 6,\ntested at T = 5"
    matplotlib.pyplot.close(fig)


def test_model_table_names_models_in_the_papers_words():
    from msr.render.architectures import model_label, models_frame

    assert model_label("cifar_resnet20 (wolif)") == "W/O interblock LIF, 20 layers"
    assert model_label("cifar_resnet56 (ms)") == "MS-ResNet56" and model_label("dvs_resnet20") == "MS-ResNet20 (DVS)"
    structure = {"models": [{"label": label, "input_size": [3, 32, 32], "params": 1e6, "macs_residual": 1e6,
                             "macs_encoding": 0, "macs_shortcut": 0, "macs_total": 1e6}
                            for label in ("cifar_resnet20 (sr_b)", "cifar_resnet20 (plain)", "dvs_resnet20")]}
    df = models_frame(structure)
    assert list(df["model"]) == ["SR-B, 20 layers", "PlainNet, 20 layers", "MS-ResNet20 (DVS)"]
    assert df["paper params (M)"].notna().tolist() == [False, False, True]  # still keyed by the registered name


def test_block_diagrams_start_the_shortcut_below_the_input_and_say_what_it_carries():
    """The shortcut leaves the input arrow between the input's label and the first box; the
    W/O interblock LIF block's input is named (spikes, or the previous block's sum); the
    titles of a row fit on one line."""
    import matplotlib

    matplotlib.use("Agg")
    from msr.render import architectures
    from msr.structure import block_flow

    flows = {name: block_flow(name) for name in ("plain", "vanilla", "wolif")}
    fig = architectures.draw_block_flows(flows)
    book._wrap_titles(fig)
    assert all("\n" not in ax.get_title() for ax in fig.axes)
    wolif = fig.axes[2]
    label = next(t for t in wolif.texts if t.get_text().startswith("input"))
    assert "previous block's sum" in label.get_text() and "prev." not in label.get_text()
    shortcut = next(ln for ln in wolif.lines if ln.get_color() == "#d62728" and len(ln.get_xdata()) == 4)
    assert shortcut.get_ydata()[0] < label.get_position()[1]  # below the label's bottom edge
    matplotlib.pyplot.close(fig)


def test_two_phase_table_prints_the_papers_values_as_printed():
    frame = two_phase.two_phase_frame({}, "m")
    html_text = book.table_html(frame, "t", "c", "f", digits=two_phase.two_phase_digits())
    assert ">72.8<" in html_text and ">72.80<" not in html_text and ">74.21<" in html_text


def test_bench_figures_give_each_backend_one_colour_on_every_machine():
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen = {}
    for f in sorted((Path(__file__).parents[1] / "results" / "bench" / "performance").glob("*.json")):
        fig = performance.plot_bench(json.loads(f.read_text()))
        for ax in fig.axes:
            for bars in ax.containers:
                name = bars.get_label()
                colour = matplotlib.colors.to_hex(bars.patches[0].get_facecolor())
                assert seen.setdefault(name, colour) == colour, (name, f.name)
        plt.close(fig)
    assert {"msr-reference", "authors-loop", "msr-triton"} <= set(seen)  # both stored machines drawn
    assert performance.series_colour("backend", "msr-triton") != performance.series_colour("backend", "authors-loop")
    assert performance.series_colour("strategy", "no such strategy") == "#000000"
    # one colour per series across both panels and machines: a strategy never wears a backend's colour
    names = performance.series_names()
    assert len({performance.series_colour("strategy", n) for n in names}) == len(names)
    assert len(set(seen.values())) == len(seen)
    with pytest.raises(ValueError, match="valid: 'strategy', 'backend'"):
        performance.series_colour("model", "msr")


def test_recipes_in_words_are_read_from_the_recipes():
    """The pages glue their recipes' hyper-parameters from msr.recipes.describe, which reads the
    recipe (Table VIII's numbers via msr.paper), so a changed recipe changes its words."""
    from msr import recipes

    assert recipes.describe("table2") == (
        "SGD, lr 0.1, momentum 0.9, batch 100, MultiStepLR at epochs 40/60/80 of 100 (stretched with a run's "
        "epochs), factor 0.2, no weight decay, RandomCrop(32, padding=4)")
    assert "weight decay 1e-4, RandomCrop(32, padding=4), RandomRotation(15), RandomHorizontalFlip" in \
        recipes.describe("table6")
    assert "lr 0.05 per 256 images" in recipes.describe("imagenet104_finetune")
    assert all(recipes.describe(n) for n in recipes.list_recipes())
    # every augmentation msr.data builds has its words
    from msr.data import AUGMENTS
    assert set(recipes.AUGMENT_WORDS) == set(AUGMENTS)
    pytest.importorskip("myst_nb")
    with pytest.raises(TypeError, match="a str"):
        book.glue_text(x=1)


def test_trained_gradient_norms_name_their_model_and_training():
    from msr.render import isometry

    rows = [{"block": "ms", "depth": 8, "state": "trained", "grad_norms": [2.0, 1.0, 0.5],
             "training": "8 epochs x 20,000 images", "acc": 84.78},
            {"block": "vanilla", "depth": 14, "state": "trained", "grad_norms": [1e-3, 0.0, 1.0]}]
    df = isometry.trained_frame(rows)
    assert list(df["model"]) == ["MS-ResNet8", "Vanilla spiking ResNet, 14 layers"]
    assert df.loc[0, "grad norm first / last block"] == 4.0
    assert math.isclose(df.loc[0, "spread across blocks (decades)"], math.log10(4))
    assert df.loc[1, "spread across blocks (decades)"] == math.inf  # a vanished gradient
    assert df.loc[0, "training"] == "8 epochs x 20,000 images" and df.loc[0, "test accuracy (%)"] == 84.78


def test_a_cell_names_the_hardware_and_commit_of_its_result():
    prov = {"hardware": "AMD EPYC (2 threads)", "git_commit": "6f1dc33ed6635adeb0a83f5d0e554a823f9d3a47",
            "git_dirty": False}
    assert book.computed_on(prov) == "AMD EPYC (2 threads) · 6f1dc33ed6"
    assert book.computed_on({**prov, "git_dirty": True}) == "AMD EPYC (2 threads) · 6f1dc33ed6+dirty"
    assert book.computed_on(None) == "unknown · not recorded"


def test_a_landscape_pair_with_one_model_run_says_the_other_is_not_run():
    """MS-ResNet20 alone: it stays on the right, named as the book names it; the vanilla
    place on the left says 'not run' instead of staying blank."""
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np

    from msr.render import landscape

    matplotlib.use("Agg")
    grid = np.linspace(-1, 1, 5)
    bowl = (np.add.outer(grid ** 2, grid ** 2) + 1).tolist()
    land = {"alphas": grid.tolist(), "betas": grid.tolist(), "loss": bowl, "acc": bowl, "seed": 0,
            "extrema": 4, "nonconvexity": 0.63}
    fig = landscape.plot_landscapes({"ms-20": land})
    left, right = fig.axes
    assert right.get_title().startswith("MS-ResNet20\n4 local extrema") and right.has_data()
    assert [t.get_text() for t in left.texts] == ["Vanilla spiking ResNet\n20 layers\nnot run"]
    plt.close(fig)
