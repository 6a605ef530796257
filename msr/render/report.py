"""Chapter 12, reproduction report: every number of the paper beside ours.

Render step of ``book/notebooks/report.md``: :mod:`msr.chapters.report` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import dataset_name


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


def report_table(rows: list, profile: str, caption: str, footer: str):
    """The table "Every number" as printed (:func:`report_digits`); its CSV, the file beside
    the book's tables and the download, holds all decimals."""
    from msr import book

    return book.table(report_frame(rows, profile), "report", profile, caption, footer,
                      digits=report_digits(rows, profile))


def plot_report(df):
    """Every number we have beside the paper's, as ours / paper by section (1 = equal)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    d = df[pd.to_numeric(df["ours"], errors="coerce").notna() & pd.to_numeric(df["paper"], errors="coerce").notna()]
    d = d[d["section"] != "Table VII"]
    ratio = pd.to_numeric(d["ours"]) / pd.to_numeric(d["paper"])
    sections = list(dict.fromkeys(d["section"]))
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.45 * max(len(sections), 3)))
    rng = np.random.default_rng(0)
    for i, s in enumerate(sections):
        for acc, colour, label in ((True, "#1f77b4", "accuracy (%), on our data set"),
                                   (False, "#ff7f0e", "counts, rates, energy")):
            sel = (d["section"] == s) & ((d["unit"] == "%") == acc)
            r = ratio[sel].to_numpy(dtype=float)
            if len(r):
                ax.plot(r, np.full(len(r), i) + rng.uniform(-0.15, 0.15, len(r)), "o", ms=6, alpha=0.75, color=colour,
                        label=label if label not in ax.get_legend_handles_labels()[1] else None)
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(range(len(sections)))
    ax.set_yticklabels([f"{s} ({(d['section'] == s).sum()})" for s in sections], fontsize=10)
    ax.invert_yaxis()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if len(ratio) and (ratio.max() / max(ratio.min(), 1e-300) > 4):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("ours / paper (log scale; 1 = the paper's value)")
    else:
        ax.set_xlabel("ours / paper (1 = the paper's value)")
    ax.set_title("Our numbers relative to the paper's")
    ax.legend(fontsize=9, loc="best")
    return fig
