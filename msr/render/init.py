"""Chapter 9, initialisation: Fig. 5a heat maps and Fig. 5b loss curves.

Render step of ``book/notebooks/init.md``: :mod:`msr.chapters.init` computes, this module
draws (figures and tables from what its ``compute`` returned). The shared pieces (style,
figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations


def plot_init(a: list[dict], b: list[dict]):
    """Fig. 5a first-epoch accuracy per (gamma1, gamma2) for BN and TDBN, and Fig. 5b loss
    curves, stacked."""
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(3, 1, figsize=(6.4, 13))
    df = pd.DataFrame([r for r in a if r.get("acc") is not None])
    for ax, norm in zip(axes[:2], ("bn", "tdbn"), strict=False):
        sub = df[df["norm"] == norm] if len(df) else df
        if len(sub):
            piv = sub.pivot_table(index="gamma1", columns="gamma2", values="acc")
            import seaborn as sns

            sns.heatmap(piv, annot=True, fmt=".1f", cmap="viridis", ax=ax,
                        cbar_kws={"label": "accuracy after epoch 1 (%)"})
            ax.grid(False)
            ax.set_xlabel("γ2 (second BN of the residual path)")
            ax.set_ylabel("γ1 (first BN)")
        else:
            ax.axis("off")
        ax.set_title(f"Fig. 5a, {norm.upper()}: first-epoch accuracy")
    for r in b:
        if r.get("curve"):
            ls = "-" if r["gamma2"] == 0 else "--"
            axes[2].plot(r["curve"]["step"], r["curve"]["loss"], ls,
                         label=f"{r['norm'].upper()}, γ2 = {r['gamma2']:g}")
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("training loss")
    axes[2].set_title("Fig. 5b: MS-ResNet104 training loss")
    if axes[2].get_legend_handles_labels()[0]:
        axes[2].legend(fontsize=10)
    return fig
