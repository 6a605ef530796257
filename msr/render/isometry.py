"""Chapter 4, dynamical isometry: gradient norms per block and phi against depth.

Render step of ``book/notebooks/isometry.md``: :mod:`msr.chapters.isometry` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import BLOCK_LABELS, PALETTE


def plot_isometry(rows: list[dict]):
    """Gradient norm per block at initialisation (vanilla, MS) and mean phi against depth,
    stacked."""
    import matplotlib.pyplot as plt

    init = [r for r in rows if r["state"] == "init"]
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 11))
    for ax, block in zip(axes[:2], ("vanilla", "ms"), strict=False):
        for r in sorted((r for r in init if r["block"] == block), key=lambda r: r["depth"]):
            g = np.asarray(r["grad_norms"], dtype=float)
            ax.plot(np.linspace(0, 1, len(g)), np.where(g > 0, g, np.nan), label=f"depth {r['depth']}")
        ax.set_yscale("log")
        ax.set_title(f"{BLOCK_LABELS[block]} at initialisation")
        ax.set_xlabel("relative block position (input = 0)")
        ax.set_ylabel("‖dL / dx_i‖")
        ax.legend(fontsize=9, ncol=2)
    for block in ("vanilla", "ms"):
        pts = sorted((r["depth"], float(np.mean(r["phi"]))) for r in init if r["block"] == block and r.get("phi"))
        if pts:
            axes[2].plot(*zip(*pts, strict=True), "o-", color=PALETTE[block], label=BLOCK_LABELS[block])
    axes[2].axhline(1.0, color="k", lw=0.8, ls="--", label="isometry: φ = 1")
    axes[2].set_xscale("log")
    depths = sorted({r["depth"] for r in init})
    if depths:
        axes[2].set_xticks(depths)
        axes[2].set_xticklabels([str(d) for d in depths])
        axes[2].minorticks_off()
    axes[2].set_xlabel("depth (layers)")
    axes[2].set_ylabel("mean φ(J Jᵀ) over blocks")
    axes[2].set_title("Block dynamical isometry against depth")
    axes[2].legend(fontsize=10)
    return fig
