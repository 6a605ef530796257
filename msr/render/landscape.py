"""Chapter 8, loss landscapes (Fig. 4).

Render step of ``book/notebooks/landscape.md``: :mod:`msr.chapters.landscape` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

from msr.render.architectures import model_label


def plot_landscapes(landscapes: dict):
    """Fig. 4: one row per depth, vanilla left and MS right."""
    import matplotlib.pyplot as plt

    from msr.analysis.landscape import plot_landscape

    depths = sorted({int(k.split("-")[1]) for k in landscapes})
    fig, axes = plt.subplots(len(depths), 2, figsize=(6.4, 3.4 * len(depths)), squeeze=False)
    for row, d in enumerate(depths):
        for col, b in enumerate(("vanilla", "ms")):
            ax, name, land = axes[row][col], model_label(f"cifar_resnet{d} ({b})"), landscapes.get(f"{b}-{d}")
            if land is None:  # its place in the pair stays, saying so, so that MS stays on the right
                ax.axis("off")
                ax.text(0.5, 0.5, f"{name.replace(', ', chr(10))}\nnot run", ha="center", va="center",
                        transform=ax.transAxes, fontsize=10.5, color="0.45")
                continue
            plot_landscape(ax, land, levels=15, log=True, clabel=False)
            ax.set_title(f"{name}\n{land['extrema']} local extrema,\ndownward share {land['nonconvexity']:.2f}",
                         fontsize=10.5)
    return fig
