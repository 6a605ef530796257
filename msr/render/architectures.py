"""Chapter 1, architectures: the block diagrams (Fig. 1, 2a, 6) and the tables of parameters,
MACs and stages as built.

Render step of ``book/notebooks/architectures.md``: :mod:`msr.chapters.architectures`
computes, this module draws (figures and tables from what its ``compute`` returned). The
shared pieces (style, figure saving, tables, boxes, provenance lines) come from
:mod:`msr.book`.
"""
from __future__ import annotations

from msr.book import BLOCK_LABELS

_KIND_STYLE = {"Conv": ("Conv 3x3", "#9ecae1"), "Norm": ("BN", "#a1d99b"), "LIF": ("LIF", "#fdae6b")}


def draw_block_flows(flows: dict, order=("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")):
    """Fig. 1 / 2a / 6: one panel per block type (three per row), drawn from the forward
    order traced on the module (:func:`msr.structure.block_flow`), not from a picture."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    order = [b for b in order if b in flows]
    ncol = min(3, len(order))
    nrow = -(-len(order) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.6, 5.6 * nrow), squeeze=False)
    for ax in axes.flat[len(order):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, order, strict=False):
        f = flows[name]
        steps = f["path"] + (["+"] if f["shortcut"] else []) + f["post"]
        n = len(steps) + 2
        ys = {i: 1 - (i + 0.5) / n for i in range(n)}
        carried = "membrane pot." if not f["spiking_input"] else (
            "spikes" if f["spiking_output"] else "spikes / prev. sum")
        ax.text(0.45, ys[0], f"input\n({carried})", ha="center", va="center", fontsize=10)
        prev = ys[0]
        for i, step in enumerate(steps, 1):
            y = ys[i]
            ax.annotate("", xy=(0.45, y + 0.035), xytext=(0.45, prev - 0.035),
                        arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
            if step == "+":
                ax.text(0.45, y, "\u2295", ha="center", va="center", fontsize=18)
                # shortcut: from the input around the right-hand side into the adder
                ax.plot([0.45, 0.9, 0.9, 0.485], [ys[0] - 0.03, ys[0] - 0.03, y, y], color="#d62728", lw=1.2)
                ax.text(0.95, (ys[0] + y) / 2, "shortcut", rotation=90, va="center", fontsize=9.5, color="#d62728")
            else:
                label, colour = _KIND_STYLE.get(f["kinds"].get(step, ""), (step, "#dddddd"))
                ax.add_patch(FancyBboxPatch((0.05, y - 0.03), 0.8, 0.06, boxstyle="round,pad=0.005",
                                            fc=colour, ec="#333", lw=0.8, transform=ax.transAxes))
                ax.text(0.45, y, f"{label} ({step})", ha="center", va="center", fontsize=10)
            prev = y
        out = "spikes" if f["spiking_output"] else "membrane pot."
        ax.annotate("", xy=(0.45, ys[n - 1] + 0.03), xytext=(0.45, prev - 0.035),
                    arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
        ax.text(0.45, ys[n - 1], f"output\n({out})", ha="center", va="center", fontsize=10)
        ax.set_title(BLOCK_LABELS.get(name, name), fontsize=12)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
    fig.suptitle("Residual blocks as built: forward order traced on the modules", fontsize=12.5)
    return fig


def models_frame(structure: dict):
    """Parameters and MACs of every model (ours, counted) beside the paper's (Table IV, V)."""
    import pandas as pd

    from msr import paper

    rows = []
    for r in structure["models"]:
        p = paper.TABLE_V.get(r["label"], {})
        rows.append({
            "model": r["label"], "input": "x".join(map(str, r["input_size"])),
            "params (M)": r["params"] / 1e6,
            "paper params (M)": paper.DVS_PARAMS / 1e6 if r["label"] == "dvs_resnet20" else None,
            "residual MACs (M)": r["macs_residual"] / 1e6,
            "paper FLOPs (M)": p["flops"] / 1e6 if p else None,
            "encoding MACs (M)": r["macs_encoding"] / 1e6, "shortcut MACs (M)": r["macs_shortcut"] / 1e6,
            "total MACs (M)": r["macs_total"] / 1e6,
        })
    return pd.DataFrame(rows)


def stages_frame(shapes: list[dict], depth_check: bool = False, table_ix: bool = False):
    """A structure table as built (Table I / IX) from traced stage shapes; ``table_ix``: the
    stages also carry Table IX's names (stage 1 is its conv2, the stem its conv1)."""
    import pandas as pd

    rows = []
    for s in shapes:
        if s["stage"] == 0:
            rows.append({"stage": "stem (encoding layer)" + (", conv1" if table_ix else ""), "layers": 1,
                         "blocks": None,
                         "output (pixels)": s.get("output", ""), "channels": s.get("channels", ""),
                         "note": f"{s.get('kernel')}x{s.get('kernel')} conv, stride {s.get('stride')}"})
        else:
            rows.append({"stage": str(s["stage"]) + (f" (conv{s['stage'] + 1})" if table_ix else ""),
                         "layers": 2 * s["blocks"], "blocks": s["blocks"],
                         "output (pixels)": s["output"], "channels": s["channels"], "note": ""})
    df = pd.DataFrame(rows)
    df["blocks"] = df["blocks"].astype("Int64")  # whole numbers, the stem's left empty
    return df
