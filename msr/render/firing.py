"""Chapter 7, firing: rates per block (Fig. 3a) and spike rasters (Fig. 3b).

Render step of ``book/notebooks/firing.md``: :mod:`msr.chapters.firing` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations


def plot_firing(models: dict, rasters: dict):
    """Per model: firing rate per block and LIF (Fig. 3a) above the spike raster (Fig. 3b)."""
    import matplotlib.pyplot as plt

    from msr.analysis.firing import plot_block_rates, plot_raster
    from msr.models import paper_name

    n = len(models)
    fig, axes = plt.subplots(2 * n, 1, figsize=(6.4, 7.6 * n), squeeze=False)
    for i, (label, m) in enumerate(models.items()):
        a, b = axes[2 * i, 0], axes[2 * i + 1, 0]
        plot_block_rates(a, m["blocks"])
        a.set_title(f"{paper_name(label)}: firing rate per block and LIF\n(network rate {m['network_rate']:.3f})")
        r = {f"{m['kept'][j]}": rasters[f"{label}__{j}"] for j in range(len(m["kept"])) if f"{label}__{j}" in rasters}
        if r:
            plot_raster(b, r, T=m["T"])
        b.set_title(f"{paper_name(label)}: spikes of 100 neurons in 3 layers")
    return fig
