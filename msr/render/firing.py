"""Chapter 7, firing: rates per block (Fig. 3a) and spike rasters (Fig. 3b).

Render step of ``book/notebooks/firing.md``: :mod:`msr.chapters.firing` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def raster_title(rasters: dict, T: int | None = None) -> str:
    """What a raster shows, read from its ``[neurons, samples * T]`` arrays (one per layer):
    ``100 neurons per layer, 3 layers, 4 samples`` (neurons per layer listed where the
    layers differ; samples given with ``T``)."""
    if not rasters:
        return "no spike raster stored"
    neurons = [r.shape[0] for r in rasters.values()]
    each = (_count(neurons[0], "neuron") if len(set(neurons)) == 1
            else "/".join(str(n) for n in neurons) + " neurons")
    text = f"{each} per layer, {_count(len(neurons), 'layer')}"
    if T:
        text += ", " + _count(max(r.shape[1] for r in rasters.values()) // T, "sample")
    return text


def timestep_axis(ax, steps: int, T: int) -> None:
    """The x axis of a raster of samples laid side by side, ``T`` steps each: ticks count the
    timesteps of each sample from 1 to T (the first and last only where there are many), and
    the samples are named above the axes, so the reader sees T, not one long time line."""
    n = -(-steps // T)
    every = range(T) if n * T <= 48 else (0, T - 1)
    ticks = [k * T + t for k in range(n) for t in every if k * T + t < steps]
    ax.set_xticks(ticks, [str(x % T + 1) for x in ticks], fontsize=8.5 if len(ticks) > 24 else 9.5)
    ax.set_xlim(-0.5, steps - 0.5)
    ax.set_xlabel(f"timestep, 1 … {T} per sample (dashed lines separate the samples)")
    top = ax.secondary_xaxis("top")
    top.set_xticks([k * T + (T - 1) / 2 for k in range(n)], [f"sample {k + 1}" for k in range(n)], fontsize=9)
    top.tick_params(length=0)


def plot_firing(models: dict, rasters: dict):
    """Per model: firing rate per block and LIF (Fig. 3a) above the spike raster (Fig. 3b),
    layers named in the paper's words (:func:`msr.structure.layer_label`), the raster's
    timesteps counted per sample (:func:`timestep_axis`)."""
    import matplotlib.pyplot as plt

    from msr.analysis.firing import plot_block_rates, plot_raster
    from msr.models import paper_name
    from msr.structure import layer_label

    n = len(models)
    fig, axes = plt.subplots(2 * n, 1, figsize=(6.4, 7.6 * n), squeeze=False)
    for i, (label, m) in enumerate(models.items()):
        a, b = axes[2 * i, 0], axes[2 * i + 1, 0]
        plot_block_rates(a, m["blocks"], label=layer_label)
        a.set_title(f"{paper_name(label)}: firing rate per block\n(network rate {m['network_rate']:.3f})")
        r = {layer_label(m["kept"][j]): rasters[f"{label}__{j}"] for j in range(len(m["kept"]))
             if f"{label}__{j}" in rasters}
        if r:
            plot_raster(b, r, T=m["T"])
            if m["T"]:
                timestep_axis(b, max(x.shape[1] for x in r.values()), m["T"])
        else:
            b.set_axis_off()
        b.set_title(f"{paper_name(label)}: spikes of\n{raster_title(r, m['T'])}" if r
                    else f"{paper_name(label)}: {raster_title(r)}")
    return fig
