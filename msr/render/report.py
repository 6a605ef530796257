"""Chapter 12, reproduction report: every number of the paper beside ours.

Render step of ``book/notebooks/report.md``: :mod:`msr.chapters.report` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import dataset_name
from msr.chapters.report import COARSE_FIGURES


def report_frame(rows: list, profile: str):
    """Every number of the paper beside ours, each row in the unit it is shown in, with all
    decimals (the CSV; :func:`report_digits` says how the table prints them); the provenance
    of ours in one column (the profile is the page's)."""
    import pandas as pd

    out = []
    for r in rows:
        d = r.as_dict(profile)
        src = " · ".join(x for x in (d["data set"] and dataset_name(d["data set"]), d["hardware"],
                                     d["commit"] and f"commit {d['commit']}", d["date"]) if x)
        if r.kind == "setting":  # a constant of the code, not the output of a run
            src = "msr's default, no run"
        out.append({"section": d["section"], "quantity": d["quantity"], "unit": d["unit"], "paper": d["paper"],
                    "ours": d["ours"], "ours − paper": d["delta"], "ours: data, hardware, commit, date": src,
                    "note": d["note"]})
    return pd.DataFrame(out)


def report_digits(rows: list, profile: str) -> dict:
    """Per column, the decimals each row prints with: the paper's value with those the
    paper gives it, ours and the difference with one more (at least three significant
    digits of ours; :class:`msr.chapters.report.Row`)."""
    ds = [r.as_dict(profile) for r in rows]
    ours = [d["ours decimals"] for d in ds]
    return {"paper": [d["paper decimals"] for d in ds], "ours": ours, "ours − paper": ours}


def report_table(rows: list, profile: str, caption: str, footer: str, command: str | None = None):
    """The table "Every number" as printed (:func:`report_digits`); its CSV, the file beside
    the book's tables and the download, holds all decimals."""
    from msr import book

    return book.table(report_frame(rows, profile), "report", profile, caption, footer,
                      digits=report_digits(rows, profile), command=command)


def plotted_rows(rows: list, profile: str) -> list:
    """The rows :func:`plot_report` draws: a number of ours beside a nonzero paper value, settings
    left out (so that the figure's provenance line names only what it shows)."""
    out = []
    for r in rows:
        d = r.as_dict(profile)
        if r.kind != "setting" and not isinstance(d["ours"], str) and d["paper"]:
            out.append(r)
    return out


def report_footer(rows: list, profile: str) -> str:
    """The provenance line of :func:`plot_report`: the data and results of the plotted rows only."""
    from msr import book

    shown = plotted_rows(rows, profile)
    data = ", ".join(sorted({book.dataset_name(r.dataset) for r in shown if r.dataset}))
    return book.provenance_line(profile, [r.prov for r in shown], dataset=data or None)


def plot_report(rows: list, profile: str):
    """Every number we have beside the paper's, as ours / paper by section (1 = equal). A dot is
    hollow where the paper prints its value coarsely (:attr:`msr.chapters.report.Row.coarse`);
    the bar through each dot spans the ratios the paper's rounding allows
    (:attr:`~msr.chapters.report.Row.paper_bounds`), clipped to the axis."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    pts = []  # (section, ours / paper, lowest and highest ratio the rounding allows, accuracy?, coarse?)
    for r in plotted_rows(rows, profile):
        d = r.as_dict(profile)
        lo, hi = r.paper_bounds
        pts.append((d["section"], d["ours"] / d["paper"], d["ours"] / hi, d["ours"] / lo if lo > 0 else np.inf,
                    d["unit"] == "%", r.coarse))
    sections = list(dict.fromkeys(p[0] for p in pts))
    fig, ax = plt.subplots(figsize=(6.4, 1.3 + 0.5 * max(len(sections), 3)))
    rng = np.random.default_rng(0)
    colours = {True: ("#1f77b4", "accuracy (%), on our data set"), False: ("#ff7f0e", "counts, rates, energy")}
    used = set()
    for section, ratio, lo, hi, acc, coarse in pts:
        y, colour = sections.index(section) + rng.uniform(-0.15, 0.15), colours[acc][0]
        ax.plot([lo, min(hi, 1e6)], [y, y], color=colour, lw=3, alpha=0.3, solid_capstyle="butt")
        ax.plot([ratio], [y], "o", ms=6, alpha=0.85, color=colour, mfc="white" if coarse else colour, mew=1.5)
        used.add(acc)
    ratios = np.array([p[1] for p in pts] + [1.0])
    log = len(pts) and ratios.max() / max(ratios.min(), 1e-300) > 4
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(ratios.min() / 1.3, ratios.max() * 1.3)
        ax.set_xlabel("ours / paper (log scale; 1 = the paper's value)")
    else:
        pad = max(0.08 * (ratios.max() - ratios.min()), 0.01)
        ax.set_xlim(ratios.min() - pad, ratios.max() + pad)
        ax.set_xlabel("ours / paper (1 = the paper's value)")
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(range(len(sections)))
    ax.set_yticklabels([f"{s} ({sum(p[0] == s for p in pts)})" for s in sections], fontsize=10)
    ax.set_ylim(len(sections) - 0.5, -0.5)
    handles = [Line2D([], [], ls="", marker="o", color=colours[acc][0], label=colours[acc][1])
               for acc in (True, False) if acc in used]
    if any(p[5] for p in pts):
        handles.append(Line2D([], [], ls="", marker="o", color="grey", mfc="white", mew=1.5,
                              label=f"paper value printed with ≤ {COARSE_FIGURES} significant figures"))
    handles.append(Line2D([], [], color="grey", lw=3, alpha=0.3, label="ratios the paper's rounding allows"))
    ax.set_title("Our numbers relative to the paper's")
    ax.legend(handles=handles, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)
    return fig
