"""Chapter 6, energy: Table V and the energy of our measured models.

Render step of ``book/notebooks/energy.md``: :mod:`msr.chapters.energy` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import dataset_name
from msr.models import paper_name


def energy_frame(rows: list[dict]):
    """Table V transposed: one row per quantity, one column per model (fits a page)."""
    import pandas as pd

    df = pd.DataFrame([{**r, "model": paper_name(r["model"])} for r in rows]).set_index("model").T
    df.index.name = "quantity"
    return df


def measured_energy_frame(measured: dict):
    """Energy from our measured firing rates: one row per quantity, one column per model."""
    import pandas as pd

    from msr import paper

    rows = {}
    for label, m in measured.items():
        p = paper.TABLE_V.get(label, {})
        rows[paper_name(label)] = {"data": dataset_name(m["dataset"]), "training": m.get("budget"), "T": m["T"],
                       "counted per": "frame" if m.get("per_frame") else "sample",
                       "our firing rate": m["rate"], "paper firing rate": p.get("rate"),
                       "our MACs (M)": m["flops"] / 1e6, "our SyOPs (M)": m["syops"] / 1e6,
                       "our E(ANN) (mJ)": m["e_ann_mj"], "our E(SNN) (mJ)": m["e_snn_mj"],
                       "our E(ANN) / E(SNN)": m["ratio"], "our ratio, per-conv rates": m["ratio_measured"],
                       "paper E(ANN) / E(SNN)": p.get("ratio")}
    df = pd.DataFrame(rows)
    df.index.name = "quantity"
    return df


def plot_energy(rows: list[dict], measured: dict | None = None):
    """Energy per sample (mJ, log scale; per frame for event data) of the ANN and the SNN:
    the paper's and ours per model of Table V, then our measured models."""
    import matplotlib.pyplot as plt

    frame = " (per frame)"  # event data: both sides counted per frame (Sec. IV-C)
    cats = [(paper_name(r["model"]) + (frame if r["model"].startswith("dvs") else ""), r.get("paper E(ANN) mJ"),
             r.get("our E(ANN) mJ"), r.get("paper E(SNN) mJ"), r.get("our E(SNN) mJ")) for r in rows]
    cats += [(paper_name(k) + (frame if m.get("per_frame") else ""), None, m["e_ann_mj"], None, m["e_snn_mj"])
             for k, m in (measured or {}).items()]
    fig, ax = plt.subplots(figsize=(6.4, 4.2 + 0.3 * len(cats)))
    series = [("paper E(ANN)", 1, "#bdbdbd", "//"), ("ours E(ANN)", 2, "#6baed6", None),
              ("paper E(SNN)", 3, "#737373", "//"), ("ours E(SNN)", 4, "#08519c", None)]
    h = 0.2
    ys = np.arange(len(cats))[::-1]
    for j, (label, k, colour, hatch) in enumerate(series):
        vals = [c[k] if c[k] is not None else np.nan for c in cats]
        ax.barh(ys + (1.5 - j) * h, vals, height=h, color=colour, hatch=hatch, edgecolor="white", label=label)
    ax.set_xscale("log")
    ax.set_yticks(ys)
    ax.set_yticklabels([c[0].replace(" (", "\n(") for c in cats], fontsize=10)
    ax.set_xlabel("energy per sample or frame (mJ, log scale; 4.6 pJ per MAC, 0.9 pJ per AC)")
    ax.set_title("Table V: energy of the ANN and the SNN")
    ax.legend(fontsize=10, loc="lower right")
    return fig
