"""Chapter 8, loss landscapes (Fig. 4).

Render step of ``book/notebooks/landscape.md``: :mod:`msr.chapters.landscape` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

from msr.book import BLOCK_LABELS


def plot_landscapes(landscapes: dict):
    """Fig. 4: one row per depth, vanilla left and MS right."""
    import matplotlib.pyplot as plt

    from msr.analysis.landscape import plot_landscape

    keys = sorted(landscapes, key=lambda k: (k.split("-")[0] != "vanilla", int(k.split("-")[1])))
    depths = sorted({int(k.split("-")[1]) for k in keys})
    fig, axes = plt.subplots(len(depths), 2, figsize=(6.4, 3.4 * len(depths)), squeeze=False)
    for k in keys:
        b, d = k.split("-")
        ax = axes[depths.index(int(d))][0 if b == "vanilla" else 1]
        plot_landscape(ax, landscapes[k], levels=15, log=True, clabel=False)
        ax.set_title(f"{BLOCK_LABELS[b].split(' (')[0]}-{d}\n{landscapes[k]['extrema']} local extrema, "
                     f"downward share {landscapes[k]['nonconvexity']:.2f}", fontsize=10.5)
    for ax in axes.flat:
        if not ax.has_data():
            ax.axis("off")
    return fig
