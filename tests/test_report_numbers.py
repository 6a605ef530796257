"""The reproduction report's table "Every number" (msr.chapters.report, msr.render.report):
each paper value at the precision NUMBERS.md gives it, ours beside it, and the counts."""
from __future__ import annotations

import base64
import re

import pandas as pd
import pytest

from msr import book, chapters, paper
from msr.render import report as draw


def _printed(results: dict) -> pd.DataFrame:
    rows = chapters.report.report_rows("fmnist", results)
    digits = draw.report_digits(rows)
    df = draw.with_decimals(draw.report_frame(rows, "fmnist"), digits)  # each cell as the table prints it
    df["paper"] = [book.fmt(v, d) for v, d in zip(df["paper"], digits["paper"], strict=True)]
    return df.set_index("quantity")


def _structure() -> dict:
    """An energy structure result whose counted MACs give E(ANN) = 7.46 uJ for the DVS model."""
    macs = {m: p["flops"] for m, p in paper.TABLE_V.items()}
    macs["dvs_resnet20"] = 7.46e-3 / (paper.ENERGY_PJ["mac"] * 1e-9)
    return {"models": {m: {"macs_residual": n, "excluded_share": 0.0412} for m, n in macs.items()},
            "provenance": None}


def test_paper_values_print_at_their_published_precision():
    t = _printed({})
    printed = {
        # Sec. IV-B and IV-C: 0.225, 0.192 and 22.19 %, not 0.23, 0.19, 0.22
        "MS-ResNet34 network firing rate": "0.225", "MS-ResNet104 network firing rate": "0.192",
        "MS-ResNet20 (DVS) network firing rate": "0.2219", "MS-ResNet104 stage 3, second LIF rate": "0.052",
        "P(state change), sigma = V_th (closed form)": "0.16",
        # a table's column keeps the decimals of its column (72.00 beside 75.56), prose its own (72.8)
        "Yao et al.: TA-SNN": "72.00", "MS-ResNet18, T = 6": "63.10", "ResNet34, ANN": "73.30",
        "MS-ResNet, depth 44": "90.0", "MS-ResNet104 two-phase: T = 1 weights run at T = 6": "72.8",
        "MS-ResNet110": "91.7", "CIFAR-100, depth 110, SR-A": "66.83",
    }
    assert {q: t.loc[q, "paper"] for q in printed} == printed
    # Table V in the paper's units: mJ, uJ for the DVS model, G and M operations; Table IV: 0.27M
    for quantity, unit, value in (("MS-ResNet34 E(ANN)", "mJ", "16.22"), ("MS-ResNet20 (DVS) E(ANN)", "µJ", "184.46"),
                                  ("MS-ResNet20 (DVS) E(SNN)", "µJ", "7.46"),
                                  ("MS-ResNet104 FLOPs (residual-path MACs)", "G", "11.79"),
                                  ("MS-ResNet20 (DVS) FLOPs (residual-path MACs)", "M", "40.11"),
                                  ("MS-ResNet20 (DVS) SyOPs", "M", "8.32"),
                                  ("MS-ResNet20 (DVS) E(ANN) / E(SNN)", "", "24.73"),
                                  ("MS-ResNet20 parameters", "M", "0.27")):
        assert (t.loc[quantity, "unit"], t.loc[quantity, "paper"]) == (unit, value), quantity
    # Table VII: integers as the paper writes them
    assert t.loc["neuron v_reset (library default)", "paper"] == "0"
    assert t.loc["neuron tau (library default)", "paper"] == "0.25"


def test_ours_print_with_a_digit_more_in_the_rows_unit():
    eq8 = {"at_vth": {"analytic": 0.158655, "monte_carlo": 0.1592}, "provenance": None}
    t = _printed({"unavailing": {"eq8": eq8}, "energy": {"structure": _structure()}})
    row = t.loc["P(state change), sigma = V_th (closed form)"]
    # a small difference, too, with one decimal more than the paper's
    assert (row["paper"], row["ours"], row["ours − paper"]) == ("0.16", "0.159", "-0.001")
    row = t.loc["MS-ResNet20 (DVS) E(ANN)"]  # 7.46 uJ, not 0.00746 beside the paper's 184.46 uJ
    assert (row["unit"], row["paper"], row["ours"], row["ours − paper"]) == ("µJ", "184.46", "7.460", "-177.000")
    assert t.loc["MS-ResNet34 FLOPs (residual-path MACs)", "ours"] == "3.530"
    # one decimal more than the paper's "4 %" (0.04), however few significant digits that leaves
    assert t.loc["MS-ResNet34 share of MACs outside residual paths", "ours"] == "0.041"
    assert t.loc["MS-ResNet34 network firing rate", "ours"] == "not run"


def test_the_csv_keeps_all_decimals(tmp_path, monkeypatch):
    monkeypatch.setenv("MSR_RESULTS", str(tmp_path))
    eq8 = {"at_vth": {"analytic": 0.158655253931457, "monte_carlo": 0.1592}, "provenance": None}
    rows = chapters.report.report_rows("fmnist", {"unavailing": {"eq8": eq8}, "energy": {"structure": _structure()}})
    out = draw.report_table(rows, "fmnist", "caption", "footer")
    csv = pd.read_csv(tmp_path / "fmnist" / "tables" / "report.csv").set_index("quantity")
    link = re.search(r'href="data:text/csv;base64,([^"]*)"', out.html).group(1)
    assert base64.b64decode(link).decode() == (tmp_path / "fmnist" / "tables" / "report.csv").read_text()
    closed = csv.loc["P(state change), sigma = V_th (closed form)"]
    assert float(closed["ours"]) == pytest.approx(0.158655253931457, abs=1e-15)
    assert float(closed["ours − paper"]) == pytest.approx(0.158655253931457 - 0.16, abs=1e-15)
    dvs = csv.loc["MS-ResNet20 (DVS) E(ANN)"]
    assert dvs["unit"] == "µJ" and float(dvs["paper"]) == 184.46 and float(dvs["ours"]) == pytest.approx(7.46)
    assert float(csv.loc["MS-ResNet34 network firing rate", "paper"]) == paper.FIRING_RATE["imagenet_resnet34"]
    # the page prints the rounded cells
    assert ">0.225<" in out.html and ">0.23<" not in out.html and ">0.159<" in out.html
    assert re.search(r'<td class="[^"]*msr-paper[^"]*msr-num[^"]*" >0.225<', out.html)  # still a number cell


def test_ours_and_the_difference_print_one_decimal_more_than_the_paper_even_below_0_1(tmp_path, monkeypatch):
    """Paper 3.53 and 16.22: the difference as -0.004 and -0.001, not -0.00403 and -0.000548;
    paper 0.04: ours 0.041, not 0.04083; a difference that rounds to zero is 0.000."""
    monkeypatch.setenv("MSR_RESULTS", str(tmp_path))
    counted = dict(_structure())
    counted["models"] = {**counted["models"],
                         "imagenet_resnet34": {"macs_residual": 3.525967872e9, "excluded_share": 0.0408329}}
    rows = chapters.report.report_rows("fmnist", {"energy": {"structure": counted}})
    t = _printed({"energy": {"structure": counted}})
    flops = t.loc["MS-ResNet34 FLOPs (residual-path MACs)"]
    share = t.loc["MS-ResNet34 share of MACs outside residual paths"]
    assert (flops["paper"], flops["ours"], flops["ours − paper"]) == ("3.53", "3.526", "-0.004")
    assert (share["paper"], share["ours"], share["ours − paper"]) == ("0.04", "0.041", "0.001")
    energy = t.loc["MS-ResNet34 E(ANN)"]
    assert (energy["paper"], energy["ours − paper"]) == ("16.22", "-0.001")
    assert draw.fixed(-0.0004, 3) == "0.000" and draw.fixed(0.04, 3) == "0.040"
    assert draw.fixed("not run", 3) == "not run" and draw.fixed(1234.5, 1) == "1,234.5"
    out = draw.report_table(rows, "fmnist", "caption", "footer").html
    assert ">-0.004<" in out and ">0.041<" in out and "0.00403" not in out and "0.04083" not in out


def test_counts_take_only_the_papers_results():
    rows = chapters.report.report_rows("smoke", {})
    n = chapters.report.tally(rows)
    # Table VII holds the library's defaults, a number of ours in every row but never a result
    assert n["setting"] == sum(r.section == "Table VII" for r in rows) > 0
    assert all(r.ours is not None for r in rows if r.kind == "setting")
    assert n["holds"] == 0 and n["not run"] == n["results"]
    cited = sum(work != "paper" for work, *_ in paper.TABLE_IV)
    # every cited work of Tables III (11 models and T) and IV, listed but never counted
    assert len(paper.table_iii_cited()) == 11
    assert n["out of scope"] == cited + len(paper.TABLE_III_ANN) + len(paper.table_iii_cited())
    assert "Li et al.: ResNet-34, T = 32 (ANN conversion)" in [r.quantity for r in rows]
    # Table II's PlainNet at 56 is N/A in the paper: a row, not one of the paper's numbers
    assert n["no paper value"] == sum(a is None for by_depth in paper.TABLE_II.values() for a in by_depth.values()) == 1
    assert n["results"] + n["setting"] + n["out of scope"] + n["no paper value"] == len(rows)
    eq8 = {"at_vth": {"analytic": 0.1587, "monte_carlo": 0.1592}, "provenance": None}
    n = chapters.report.tally(chapters.report.report_rows("smoke", {"unavailing": {"eq8": eq8}}))
    assert (n["holds"], n["not run"]) == (2, n["results"] - 2)
    with pytest.raises(ValueError, match="unknown row kind"):
        chapters.report.Row("Table II", "x", 1.0, kind="baseline")


def test_each_paper_number_cites_the_section_that_gives_it():
    """Sec. IV-B (Firing Patterns) gives the ImageNet firing rates and stage 3's 5.2 %; Sec. IV-C
    (Energy Efficiency Estimation) the share of FLOPs outside the residual paths and the
    CIFAR10-DVS rate; the report figure's row labels follow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = chapters.report.report_rows("fmnist", {"energy": {"structure": _structure()}})
    section = {r.quantity: r.section for r in rows}
    assert section["MS-ResNet34 network firing rate"] == section["MS-ResNet104 network firing rate"] == "Sec. IV-B"
    assert section["MS-ResNet104 stage 3, second LIF rate"] == "Sec. IV-B"
    assert section["MS-ResNet20 (DVS) network firing rate"] == "Sec. IV-C"
    assert {section[f"{m} share of MACs outside residual paths"] for m in ("MS-ResNet34", "MS-ResNet104")} == {
        "Sec. IV-C"}
    assert not any(r.section.startswith("Fig.") for r in rows)  # every number is printed in a section or table
    fig = draw.plot_report(rows, "fmnist")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    assert "Sec. IV-C (2)" in labels and not any(t.startswith("Sec. IV-B") for t in labels)


@pytest.mark.parametrize("value, unit, column, figures, coarse", [
    (0.01, "", (), 1, True),  # Sec. IV-C: "1 %"
    (0.04, "", (), 1, True),
    (0.16, "", (), 2, True),  # Eq. 8: "about 16 %"
    (0.052, "", (), 2, True),
    (0.27e6, "count", (0.5e6, 12.6e6), 2, True),  # Table IV: 0.27M
    (0.225, "", (), 3, False),
    (0.2219, "", (), 4, False),
    (90.0, "%", (90.4, 59.5), 3, False),  # Table II prints 90.0
    (72.0, "%", (75.56,), 4, False),  # Table IV prints 72.00
    (3.53e9, "count", (), 3, False),
    (184.46e-3, "mJ", (), 5, False),  # 184.46 uJ
    (0.0, "", (), 0, False),
])
def test_coarse_paper_values_are_those_with_at_most_two_significant_figures(value, unit, column, figures, coarse):
    row = chapters.report.Row("x", "x", value, unit=unit, column=column)
    assert (row.paper_figures, row.coarse) == (figures, coarse)


def test_paper_bounds_are_the_values_that_round_to_the_printed_number():
    lo, hi = chapters.report.Row("Sec. IV-C", "share", 0.01).paper_bounds
    assert (lo, hi) == (pytest.approx(0.005), pytest.approx(0.015))
    lo, hi = chapters.report.Row("Table V", "E(ANN)", 184.46e-3, unit="mJ").paper_bounds  # shown in uJ
    assert (lo, hi) == (pytest.approx(184.455), pytest.approx(184.465))
    assert chapters.report.Row("Table III", "x", None).paper_bounds is None


def test_report_figure_draws_coarse_comparisons_hollow_with_their_rounding():
    """Ours 1.276 % beside the paper's "1 %": a hollow dot whose bar spans 1.276 / 1.5 to 1.276 / 0.5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    structure = _structure()
    structure["models"]["imagenet_resnet104"]["excluded_share"] = 0.01276
    rows = chapters.report.report_rows("fmnist", {"energy": {"structure": structure}})
    fig = draw.plot_report(rows, "fmnist")
    lines = fig.axes[0].lines
    dots = [ln for ln in lines if ln.get_marker() == "o" and len(ln.get_xdata()) == 1]
    hollow = sorted(float(ln.get_xdata()[0]) for ln in dots if to_rgba(ln.get_markerfacecolor()) == to_rgba("white"))
    bars = {tuple(round(float(x), 6) for x in ln.get_xdata()) for ln in lines if len(ln.get_xdata()) == 2}
    plt.close(fig)
    held = [r for r in rows if r.ours is not None and r.kind != "setting"]
    assert len(dots) == len(held) and len(hollow) == sum(r.coarse for r in held) > 0
    assert pytest.approx(1.276) in hollow  # still at ours / paper
    assert (round(0.01276 / 0.015, 6), round(0.01276 / 0.005, 6)) in bars


def test_report_figure_keeps_dots_apart_marks_cut_bars_and_colours_the_swatch_like_the_bars():
    """Table V's six ratios sit at six heights; a rounding bar longer than the axis ends in a
    triangle at the edge; the legend's rounding swatch has the bars' colour, not grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    structure = _structure()
    structure["models"]["dvs_resnet20"]["macs_residual"] = paper.TABLE_V["dvs_resnet20"]["flops"]
    structure["models"]["imagenet_resnet104"]["excluded_share"] = 0.01276  # "1 %": a bar from 0.85 to 2.55
    rows = chapters.report.report_rows("fmnist", {"energy": {"structure": structure}})
    fig = draw.plot_report(rows, "fmnist")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    row = labels.index("Table V (6)")
    dots = [ln for ln in ax.lines if ln.get_marker() == "o" and len(ln.get_xdata()) == 1]
    assert len({float(ln.get_ydata()[0]) for ln in dots if abs(ln.get_ydata()[0] - row) < 0.5}) == 6
    right = ax.get_xlim()[1]
    assert right < 2.5 and [ln.get_xdata()[0] for ln in ax.lines if ln.get_marker() == ">"] == [right]
    bars = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_ydata()[0] == ln.get_ydata()[1]]
    assert max(max(ln.get_xdata()) for ln in bars) == right  # cut at the edge
    legend = ax.get_legend()
    swatch = legend.legend_handles[-1]
    assert legend.get_texts()[-1].get_text().startswith("ratios the paper's rounding allows")
    assert to_rgba(swatch.get_color(), swatch.get_alpha()) == to_rgba(bars[0].get_color(), bars[0].get_alpha())
    plt.close(fig)


def test_report_figure_draws_a_zero_of_ours_as_cut_on_a_log_axis():
    """A run whose number is 0 (a diverged run's accuracy) has no place on the log axis that a wide
    spread of ratios calls for: the figure still draws, with that point cut at the left edge.
    The paper profile trains on CIFAR-10, the paper's data set, so its accuracies are drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t2 = {("ms", 8): {"acc": 0.0, "n": 1, "provenance": None}, ("plain", 8): {"acc": 10.0, "n": 1, "provenance": None}}
    rows = chapters.report.report_rows("paper", {"degradation": {"table2": t2}, "energy": {"structure": _structure()}})
    fig = draw.plot_report(rows, "paper")
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    assert ax.get_xscale() == "log" and 0 < left < right < float("inf")
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_marker() == "<"][:1] == [left]
    assert "Table II (2)" in [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)


def test_report_figure_leaves_out_accuracies_on_another_data_set_and_says_so():
    """88.16 % on Fashion-MNIST over the paper's CIFAR-10 value is no ratio of like to like: the
    figure draws no Table II row for it (nor counts it in its footer), and its legend says how
    many it left out and on which data sets; the table still lists them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t2 = {("ms", 8): {"acc": 84.78, "n": 1, "provenance": None}, ("ms", 20): {"acc": 88.16, "n": 1, "provenance": None}}
    rows = chapters.report.report_rows("fmnist", {"degradation": {"table2": t2}, "energy": {"structure": _structure()}})
    assert [r.quantity for r in draw.other_data_rows(rows)] == ["MS-ResNet, depth 8", "MS-ResNet, depth 20"]
    assert not any(r.section == "Table II" for r in draw.plotted_rows(rows, "fmnist"))
    fig = draw.plot_report(rows, "fmnist")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    assert not any(t.startswith("Table II") for t in labels)
    assert texts[-1] == ("not drawn: 2 trained accuracies of ours on Fashion-MNIST,\n"
                         "the paper's on CIFAR-10 (the table lists them)")
    assert not any(t.startswith("accuracy") for t in texts)  # no accuracy is drawn
    table = {r.quantity: r.as_dict("fmnist") for r in rows}
    assert table["MS-ResNet, depth 20"]["ours"] == 88.16


def test_the_count_of_held_numbers_says_whether_any_is_trained():
    eq8 = {"at_vth": {"analytic": 0.1587, "monte_carlo": 0.1592}, "provenance": None}
    untrained = {"unavailing": {"eq8": eq8}, "energy": {"structure": _structure()}}
    n = chapters.report.tally(chapters.report.report_rows("fmnist", untrained))
    assert n["holds"] > 2 and n["trained"] == 0
    assert chapters.report.held_kinds(n) == "all structural or analytic; no trained result yet"
    t2 = {("ms", 8): {"acc": 90.1, "n": 1, "provenance": None}, ("plain", 8): {"acc": 88.0, "n": 1, "provenance": None}}
    n = chapters.report.tally(chapters.report.report_rows("fmnist", {**untrained, "degradation": {"table2": t2}}))
    assert n["trained"] == 2
    assert chapters.report.held_kinds(n) == f"2 from trained models, {n['holds'] - 2} structural or analytic"
    n = chapters.report.tally(chapters.report.report_rows("fmnist", {"degradation": {"table2": t2}}))
    assert chapters.report.held_kinds(n) == "all from trained models"
    assert chapters.report.held_kinds(chapters.report.tally(chapters.report.report_rows("fmnist", {}))) == ""



def test_a_trained_accuracy_on_another_data_set_says_both():
    """84.78 on Fashion-MNIST beside the paper's 82.0 on CIFAR-10: the note names both data sets;
    a structural count (no data set of its own) gets no such note."""
    t2 = {("ms", 8): {"acc": 84.78, "n": 1, "provenance": None}}
    rows = {r.quantity: r.as_dict("fmnist") for r in chapters.report.report_rows(
        "fmnist", {"degradation": {"table2": t2}, "energy": {"structure": _structure()}})}
    assert rows["MS-ResNet, depth 8"]["note"] == "ours on Fashion-MNIST, the paper's on CIFAR-10; one seed"
    assert rows["MS-ResNet, depth 14"]["note"] == ""  # not run: nothing to compare
    assert "the paper's on" not in rows["MS-ResNet34 E(ANN)"]["note"]

def test_stage3_rate_from_the_cifar_model_says_it_is_another_network():
    """Without the ImageNet MS-ResNet104, the paper's stage-3 rate is set beside the CIFAR-family
    MS-ResNet104's stage 3, the last of its three: the note says it is a different network and stage."""
    from msr.chapters.report import _stage3_lif2_104

    stages = [{"stage": i, "lif1": 0.2, "lif2": 0.1 + i / 100} for i in range(3)]
    cifar = _stage3_lif2_104({"models": {"cifar_resnet104 (Fig. 5b run)": {"stages": stages, "dataset": "x"}}})
    assert cifar["rate"] == pytest.approx(0.12) and "stage 3 of its 3 (a different network and stage" in cifar["note"]
    both = _stage3_lif2_104({"models": {"cifar_resnet104 (Fig. 5b run)": {"stages": stages},
                                        "imagenet_resnet104": {"stages": stages + [{"stage": 3, "lif2": 0.3}]}}})
    assert both["label"] == "imagenet_resnet104" and "different network" not in both["note"]
    assert _stage3_lif2_104(None) is None


def test_report_figure_footer_names_only_the_plotted_numbers():
    """The ratio figure's provenance line comes from the rows it draws, not from every stored result."""
    from msr.render import report as draw

    prov = {"hardware": "CPU Q", "git_commit": "abcdef1234", "date_utc": "2026-01-02T00:00:00Z"}
    eq8 = {"at_vth": {"analytic": 0.1587, "monte_carlo": 0.1592}, "provenance": prov}
    rows = chapters.report.report_rows("smoke", {"unavailing": {"eq8": eq8}})
    assert [r.quantity for r in draw.plotted_rows(rows, "smoke")] == [
        "P(state change), sigma = V_th (closed form)", "P(state change), sigma = V_th (Monte-Carlo)"]
    footer = draw.report_footer(rows, "smoke")
    assert "data analytic, simulated" in footer and "hardware CPU Q" in footer


def test_the_report_prose_accounts_for_every_row_it_lists():
    """The report's opening sentence counts the paper's results (held and not run), the settings,
    the cited works and the rows where the paper gives no number (Table II's PlainNet at 56):
    together every row of the table, so a reader who counts the table's "not run" rows finds
    each in the sentence."""
    from types import SimpleNamespace

    from msr import reproduce

    (cell,) = [c.source for c in reproduce.load("report").cells
               if c.cell_type == "code" and "chapters.report.tally(rows)" in c.source]
    said = []
    stub = SimpleNamespace(run=lambda name, params: {"results": {}}, report=chapters.report)
    exec(cell, {"chapters": stub, "params": SimpleNamespace(profile="fmnist"),  # the notebook's own cell
                "book": SimpleNamespace(md=said.append)})
    (text,) = said
    rows = chapters.report.report_rows("fmnist", {})
    n = chapters.report.tally(rows)
    assert n["no paper value"] == 1
    assert "one row where the paper gives no number (Table II's PlainNet, depth 56, whose paper cell reads —)" in text
    numbers = [int(x) for x in re.findall(r"\*\*(\d+)\*\*", text)]
    assert numbers == [n["results"], n["holds"], n["not run"], n["setting"], n["out of scope"]]
    assert n["results"] + n["setting"] + n["out of scope"] + 1 == len(rows)
