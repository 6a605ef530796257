"""Chapter 4, dynamical isometry: gradient norms per block and phi against depth.

Render step of ``book/notebooks/isometry.md``: :mod:`msr.chapters.isometry` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import BLOCK_LABELS, PALETTE


def plot_isometry(rows: list[dict]):
    """Gradient norm per block at initialisation (vanilla, MS; one shared log axis, so the
    two panels compare) and, against depth, phi of the blocks whose shortcut is the
    identity (median, and the quartiles as a bar), stacked."""
    import matplotlib.pyplot as plt

    from msr.analysis.isometry import identity_shortcut_phi

    init = [r for r in rows if r["state"] == "init"]
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 11))
    axes[1].sharey(axes[0])
    for ax, block in zip(axes[:2], ("vanilla", "ms"), strict=False):
        for r in sorted((r for r in init if r["block"] == block), key=lambda r: r["depth"]):
            g = np.asarray(r["grad_norms"], dtype=float)
            ax.plot(np.linspace(0, 1, len(g)), np.where(g > 0, g, np.nan), label=f"depth {r['depth']}")
        ax.set_yscale("log")
        ax.set_title(f"{BLOCK_LABELS[block]} at initialisation")
        ax.set_xlabel("relative block position (input = 0)")
        ax.set_ylabel("‖dL / dx_i‖")
        ax.legend(fontsize=9, ncol=2)
    for k, block in enumerate(("vanilla", "ms")):
        pts = sorted((r["depth"], identity_shortcut_phi(r["phi"], r["stages"])) for r in init
                     if r["block"] == block and r.get("phi") and r.get("stages"))
        if pts:
            depths = np.array([d for d, _ in pts], dtype=float) * (1.03 if k else 1 / 1.03)  # side by side
            q1, med, q3 = np.array([np.percentile(p, [25, 50, 75]) for _, p in pts]).T
            err = [med - q1, q3 - med]
            axes[2].errorbar(depths, med, yerr=err, fmt="o-", capsize=3, color=PALETTE[block],
                             label=BLOCK_LABELS[block])
    axes[2].axhline(1.0, color="k", lw=0.8, ls="--", label="isometry: φ = 1")
    axes[2].set_xscale("log")
    depths = sorted({r["depth"] for r in init})
    if depths:
        axes[2].set_xticks(depths)
        axes[2].set_xticklabels([str(d) for d in depths])
        axes[2].minorticks_off()
    axes[2].set_xlabel("depth (layers)")
    axes[2].set_ylabel("φ(J Jᵀ): median, quartiles")
    axes[2].set_title("Block dynamical isometry against depth")
    axes[2].legend(fontsize=10)
    return fig


def trained_frame(rows: list[dict]):
    """The gradient norms of trained models (the ``trained`` rows of :func:`msr.chapters.isometry.compute`),
    one row per model: its training and accuracy, the first / last block's norm, and the decades
    the norms span across blocks (log10 of largest / smallest; infinite where a gradient vanished)."""
    import pandas as pd

    from msr.chapters.isometry import decades, first_last_ratio
    from msr.render.architectures import model_label

    def row(r):
        return {"model": model_label(f"cifar_resnet{r['depth']} ({r['block']})"), "training": r.get("training", ""),
                "test accuracy (%)": r.get("acc"), "grad norm first / last block": first_last_ratio(r),
                "spread across blocks (decades)": decades(r["grad_norms"])}

    return pd.DataFrame([row(r) for r in rows])


def init_frame(rows: list[dict]):
    """The networks at initialisation, one row per block type and depth: the first / last
    block's gradient norm, measured and as the identity-shortcut blocks' phi(J J^T) predict it
    (:func:`msr.chapters.isometry.phi_ratio`), and the median and extremes of their phi, the
    blocks Proposition 1 speaks of (isometry: all 1)."""
    import pandas as pd

    from msr.analysis.isometry import identity_shortcut_phi
    from msr.chapters.isometry import first_last_ratio, phi_ratio

    def row(r):
        p = identity_shortcut_phi(r["phi"], r["stages"]) if r.get("phi") and r.get("stages") else None
        return {"block": r["block"], "depth": r["depth"], "state": r["state"],
                "grad norm first / last block": first_last_ratio(r), "ratio from phi": phi_ratio(r),
                "median phi": float(np.median(p)) if p else None, "lowest phi": min(p) if p else None,
                "highest phi": max(p) if p else None}

    return pd.DataFrame([row(r) for r in rows])
