"""Chapter 3, unavailing residuals: Eq. 7-8 against sigma, the measured state changes and the
SSIM radar (Fig. 2b).

Render step of ``book/notebooks/unavailing.md``: :mod:`msr.chapters.unavailing` computes,
this module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations


def plot_eq8(eq8: dict):
    """P(state change) against sigma: closed form (lines; one line where the firing rates
    give the same curve, as they do at V_th = 0.5), Monte-Carlo (one marker per firing
    rate), the paper's point."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from msr import paper

    df = pd.DataFrame(eq8["grid"])
    groups = list(df.groupby("rate"))
    curves = np.array([g["analytic"].to_numpy() for _, g in groups])
    same = bool(np.allclose(curves, curves[0], rtol=0, atol=1e-9))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if same:
        rates = ", ".join(f"{r:g}" for r, _ in groups)
        ax.plot(groups[0][1]["sigma"], groups[0][1]["analytic"], color="0.35",
                label=f"Eq. 8 (the same curve for firing rates {rates})")
    for (rate, g), marker in zip(groups, "osD^v", strict=False):
        color = {}  # hollow markers of their own colour, or of their own closed-form line's
        if not same:
            line, = ax.plot(g["sigma"], g["analytic"], label=f"Eq. 8, firing rate {rate:g}")
            color = {"mec": line.get_color()}
        ax.plot(g["sigma"], g["monte_carlo"], marker, ms=6, mfc="none", ls="none",
                label=f"Monte-Carlo, firing rate {rate:g}", **color)
    v_th = paper.NEURON["v_th"]
    ax.plot([v_th], [paper.EQ8_PROBABILITY], "k*", ms=13,
            label=f"paper: about {100 * paper.EQ8_PROBABILITY:g} % at σ = V_th")
    ax.set_xlabel(f"σ of the residual F (V_th = {v_th:g})")
    ax.set_ylabel("P(block changes the firing state)")
    ax.legend(fontsize=9, loc="lower right")
    ax.set_title("Unavailing residuals (Eq. 7-8)")
    return fig


def plot_ssim(series: dict):
    import matplotlib.pyplot as plt

    from msr.analysis.ssim import plot_ssim_radar

    fig, axes = plt.subplots(2, 1, figsize=(6.2, 11.5), subplot_kw={"projection": "polar"})
    for ax, depth in zip(axes, (44, 56), strict=False):
        label = {k: f"{'vanilla' if k.startswith('vanilla') else 'MS'} ResNet-{depth}"
                 for k in series if k.endswith(f"-{depth}")}
        if label:
            plot_ssim_radar(ax, {label[k]: series[k]["ssim"] for k in label},
                            boundaries={label[k]: series[k].get("boundary_pooled") for k in label})
        ax.set_title(f"depth {depth}: SSIM of consecutive blocks", fontsize=12.5, pad=18)
    return fig


def _network(label: str) -> str:
    """``vanilla-20 init`` -> ``vanilla ResNet-20, untrained`` (the legend's words)."""
    name, _, state = label.partition(" ")
    block, _, depth = name.partition("-")
    return f"{block} ResNet-{depth}, " + {"init": "untrained"}.get(state, state or "trained")


def plot_state_change(rows_by_label: dict, eq8: float):
    """Per block, the share of firing states it flips: the fraction of (neuron, timestep)
    pairs whose output spike differs from the input spike
    (:func:`msr.analysis.unavailing.state_change_fraction`), as the y label says, with its unit."""
    import matplotlib.pyplot as plt

    from msr.analysis.unavailing import plot_state_changes

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plot_state_changes(ax, {_network(k): v for k, v in rows_by_label.items()}, eq8=eq8)
    ax.set_ylabel("firing states the block flips\n(% of neurons × timesteps)")
    ax.set_title("How often a vanilla block flips a firing state")
    return fig
